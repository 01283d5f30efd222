# arkerfs-meta 1: the metadata helper arkerfs runs on the VM through the
# run endpoint. It defines functions only; the command arkerfs sends is this
# text followed by one line calling arkerfs_main with the operations as
# single-quoted arguments. Each argument is 'r<raw bytes>' or
# 'x<bytes as printf %b escapes>', so no file name is ever shell syntax.
# Output: NUL-terminated fields, described in docs/HELPER.md.
# Needs a POSIX sh with GNU coreutils and findutils (find -printf).

LC_ALL=C
export LC_ALL
_F='%y %m %n %U %G %s %b %i %D %A@ %T@ %C@\0%f\0%l\0'
_T='%y %m %n %U %G %s %b %i %D %A@ %T@ %C@\0%P\0%l\0'

# _dec ARG: decode one argument into _v.
_dec() {
	case $1 in
	r*) _v=${1#r} ;;
	x*) _v=$(printf '%bx' "${1#x}"); _v=${_v%x} ;;
	*) _v= ; return 1 ;;
	esac
}

_out() { printf '%s\000' "$@"; }
_ok() { _out ok; }
_err() { _out err "$1" "$2"; }
_ex() { [ -e "$1" ] || [ -L "$1" ]; }

# _attr PATH: one attribute record for PATH (symlinks not followed).
_attr() { printf 'a\000'; find "$1" -maxdepth 0 -printf "$_F"; }

# _why PATH MSG: report why PATH cannot be used as an existing file.
_why() {
	_b=${1##*/}
	if [ ${#_b} -gt 255 ]; then _err ENAMETOOLONG "$2"; return; fi
	_d=${1%/*}; [ -n "$_d" ] || _d=/
	if _ex "$1"; then _err EACCES "$2"
	elif [ -d "$_d" ]; then _err ENOENT "$2"
	elif _ex "$_d"; then _err ENOTDIR "$2"
	else _err ENOENT "$2"; fi
}

# _whynew PATH MSG: report why PATH could not be created.
_whynew() {
	if _ex "$1"; then _err EEXIST "$2"; else _why "$1" "$2"; fi
}

_empty() { [ -z "$(find "$1" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null)" ]; }

op_stat() {
	if _ex "$1"; then _ok; _attr "$1"; else _why "$1" "no such file"; fi
}

op_list() {
	if [ ! -d "$1" ] || [ -L "$1" ]; then
		if _ex "$1"; then _err ENOTDIR "not a directory"; else _why "$1" "no such directory"; fi
		return
	fi
	_ok
	find "$1" -mindepth 1 -maxdepth 1 -printf "a\\000$_F" 2>/dev/null
}

# op_tree DIR DEPTH LIMIT: entries below DIR in depth-first pre-order, at
# most LIMIT+1 of them (the parser keeps LIMIT and marks the rest cut).
op_tree() {
	if [ ! -d "$1" ] || [ -L "$1" ]; then
		if _ex "$1"; then _err ENOTDIR "not a directory"; else _why "$1" "no such directory"; fi
		return
	fi
	_ok
	find "$1" -mindepth 1 -maxdepth "$2" -printf "a\\000$_T" 2>/dev/null | head -z -n $(( ($3 + 1) * 4 ))
	_out t
}

op_mkdir() {
	if _m=$(mkdir -m "$2" -- "$1" 2>&1); then _ok; _attr "$1"; else _whynew "$1" "$_m"; fi
}

op_create() {
	if [ "$3" = 1 ]; then
		if _m=$( (set -C; : >"$1") 2>&1); then :; else _whynew "$1" "$_m"; return; fi
	elif [ -d "$1" ]; then
		_err EISDIR "is a directory"; return
	elif ! _ex "$1"; then
		if _m=$( : >>"$1" 2>&1); then :; else _why "$1" "$_m"; return; fi
	fi
	if _m=$(chmod "$2" -- "$1" 2>&1); then _ok; _attr "$1"; else _why "$1" "$_m"; fi
}

op_rmdir() {
	if ! _ex "$1"; then _why "$1" "no such directory"; return; fi
	if [ ! -d "$1" ] || [ -L "$1" ]; then _err ENOTDIR "not a directory"; return; fi
	if _m=$(rmdir -- "$1" 2>&1); then _ok
	elif ! _empty "$1"; then _err ENOTEMPTY "$_m"
	else _err EACCES "$_m"; fi
}

op_unlink() {
	if ! _ex "$1"; then _why "$1" "no such file"; return; fi
	if [ -d "$1" ] && [ ! -L "$1" ]; then _err EISDIR "is a directory"; return; fi
	if _m=$(rm -f -- "$1" 2>&1) && ! _ex "$1"; then _ok; else _err EACCES "$_m"; fi
}

# _renameerr SRC DST MSG: classify a failed rename as rename(2) would.
_renameerr() {
	if ! _ex "$1"; then _why "$1" "$3"
	elif [ -d "$2" ] && [ ! -L "$2" ] && { [ ! -d "$1" ] || [ -L "$1" ]; }; then _err EISDIR "$3"
	elif [ -d "$1" ] && [ ! -L "$1" ] && _ex "$2" && { [ ! -d "$2" ] || [ -L "$2" ]; }; then _err ENOTDIR "$3"
	elif [ -d "$2" ] && [ ! -L "$2" ] && ! _empty "$2"; then _err ENOTEMPTY "$3"
	else
		case $2/ in "$1"/*) _err EINVAL "cannot move a directory into itself"; return ;; esac
		_why "$2" "$3"
	fi
}

op_rename() {
	if ! _ex "$1"; then _why "$1" "no such file"; return; fi
	if [ "$3" = 1 ]; then
		if _ex "$2"; then _err EEXIST "destination exists"; return; fi
		if [ ! -d "$1" ] || [ -L "$1" ]; then
			# Atomic no-replace for non-directories: link, then unlink.
			if _m=$(ln -T -- "$1" "$2" 2>&1); then
				rm -f -- "$1"; _ok; _attr "$2"; return
			fi
			if _ex "$2"; then _err EEXIST "$_m"; return; fi
		fi
	fi
	if [ "$1" = "$2" ]; then _ok; _attr "$2"; return; fi
	if _m=$(mv -f -T -- "$1" "$2" 2>&1) && ! _ex "$1"; then _ok; _attr "$2"; else _renameerr "$1" "$2" "$_m"; fi
}

op_chmod() {
	if ! _ex "$1"; then _why "$1" "no such file"; return; fi
	if _m=$(chmod "$2" -- "$1" 2>&1); then _ok; _attr "$1"; else _err EPERM "$_m"; fi
}

# _touch FLAG SPEC PATH: set one time; SPEC is -, now or SEC.NSEC.
_touch() {
	case $2 in
	-) return 0 ;;
	now) touch -h -c "$1" -- "$3" 2>&1 ;;
	*) touch -h -c "$1" -d "@$2" -- "$3" 2>&1 ;;
	esac
}

op_utimens() {
	if ! _ex "$1"; then _why "$1" "no such file"; return; fi
	if _m=$(_touch -a "$2" "$1") && _m=$(_touch -m "$3" "$1"); then _ok; _attr "$1"; else _err EPERM "$_m"; fi
}

op_truncate() {
	if ! _ex "$1"; then _why "$1" "no such file"; return; fi
	if [ -d "$1" ]; then _err EISDIR "is a directory"; return; fi
	if _m=$(truncate -s "$2" -- "$1" 2>&1); then _ok; _attr "$1"; else _err EACCES "$_m"; fi
}

op_symlink() {
	if _m=$(ln -s -T -- "$2" "$1" 2>&1); then _ok; _attr "$1"; else _whynew "$1" "$_m"; fi
}

op_readlink() {
	if [ -L "$1" ]; then _ok; _attr "$1"
	elif _ex "$1"; then _err EINVAL "not a symbolic link"
	else _why "$1" "no such file"; fi
}

op_link() {
	if ! _ex "$1"; then _why "$1" "no such file"; return; fi
	if [ -d "$1" ] && [ ! -L "$1" ]; then _err EPERM "hard links to directories are not allowed"; return; fi
	if _m=$(ln -T -- "$1" "$2" 2>&1); then _ok; _attr "$2"; else _whynew "$2" "$_m"; fi
}

op_statfs() {
	if ! _ex "$1"; then _why "$1" "no such file"; return; fi
	if _m=$(stat -f -c '%S %b %f %a %c %d %l' -- "$1" 2>&1); then _ok; _out s "$_m"; else _err EIO "$_m"; fi
}

# arkerfs_main KIND ARGS... [KIND ARGS...]: run each operation; one
# failing does not stop the others.
arkerfs_main() {
	_out arkerfs-meta 1
	if ! find / -maxdepth 0 -printf '' 2>/dev/null; then
		_out fatal ENOTSUP "GNU find (findutils) is required on the VM"
		return 0
	fi
	_n=0
	while [ $# -gt 0 ]; do
		_k=$1; shift
		case $_k in
		stat | list | rmdir | unlink | readlink | statfs) _c=1 ;;
		mkdir | chmod | truncate | symlink | link) _c=2 ;;
		create | rename | tree | utimens) _c=3 ;;
		*) _out fatal EINVAL "unknown operation"; return 0 ;;
		esac
		if [ $# -lt $_c ]; then _out fatal EINVAL "missing arguments"; return 0; fi
		_dec "$1"; _a1=$_v; _a2=; _a3=
		[ $_c -ge 2 ] && { _dec "$2"; _a2=$_v; }
		[ $_c -ge 3 ] && { _dec "$3"; _a3=$_v; }
		shift $_c
		_out op "$_k"
		"op_$_k" "$_a1" "$_a2" "$_a3"
		_out end
		_n=$((_n + 1))
	done
	_out done "$_n"
}
