# arkerfs-meta 1: the metadata helper arkerfs runs on the VM through the
# run endpoint; docs/HELPER.md describes it fully. This text only defines
# functions. The command arkerfs sends is this text followed by one line
# calling arkerfs_main with the operations as single-quoted words, each
# 'r<raw bytes>' or 'x<bytes as printf %b octal escapes>', so no file name
# is ever shell syntax. Output: NUL-terminated fields. Needs a POSIX sh,
# GNU coreutils and GNU findutils.

LC_ALL=C
export LC_ALL
umask 077
IFS=' 	
'

# find -printf formats of an attribute record: "a", the attributes, a
# name (none, the base name, the path below the listed directory, the path
# as given) and the symlink target.
_A1='a\0%y %m %n %U %G %s %b %i %D %A@ %T@ %C@\0\0%l\0'
_AP='a\0%y %m %n %U %G %s %b %i %D %A@ %T@ %C@\0%p\0%l\0'
_AL='a\0%y %m %n %U %G %s %b %i %D %A@ %T@ %C@\0%f\0%l\0'
_AT='a\0%y %m %n %U %G %s %b %i %D %A@ %T@ %C@\0%P\0%l\0'

_out() { printf '%s\000' "$@"; }
_err() { _out err "$1" "$2"; }
_exists() { [ -e "$1" ] || [ -L "$1" ]; }
_isdir() { [ -d "$1" ] && [ ! -L "$1" ]; }

# _dec WORD: decode one argument into _v (trailing newlines kept).
_dec() {
	case $1 in
	r*) _v=${1#r} ;;
	x*) _v=$(printf '%bx' "${1#x}") && _v=${_v%x} ;;
	*) return 1 ;;
	esac
}

# _errno MSG: set _e to the errno whose C-locale text ends MSG, else empty.
_errno() {
	case $1 in
	*': No such file or directory') _e=ENOENT ;;
	*': File exists') _e=EEXIST ;;
	*': Directory not empty') _e=ENOTEMPTY ;;
	*': Not a directory') _e=ENOTDIR ;;
	*': Is a directory') _e=EISDIR ;;
	*': Permission denied') _e=EACCES ;;
	*': Operation not permitted') _e=EPERM ;;
	*': Invalid argument') _e=EINVAL ;;
	*': File name too long') _e=ENAMETOOLONG ;;
	*': Too many levels of symbolic links') _e=ELOOP ;;
	*': Invalid cross-device link') _e=EXDEV ;;
	*': No space left on device') _e=ENOSPC ;;
	*': Disk quota exceeded') _e=EDQUOT ;;
	*': Device or resource busy') _e=EBUSY ;;
	*': Read-only file system') _e=EROFS ;;
	*': Operation not supported') _e=ENOTSUP ;;
	*': Input/output error') _e=EIO ;;
	*': File too large') _e=EFBIG ;;
	*': Too many links') _e=EMLINK ;;
	*': Text file busy') _e=ETXTBSY ;;
	*': Stale file handle') _e=ESTALE ;;
	*': No data available') _e=ENODATA ;;
	*': Numerical result out of range') _e=ERANGE ;;
	*': Argument list too long') _e=E2BIG ;;
	*) _e= ;;
	esac
}

# _why PATH MSG ERRNO: report a failure concerning PATH: the errno that
# looking PATH up meets (ENOENT, ENOTDIR, ELOOP, EACCES, ENAMETOOLONG),
# or ERRNO when PATH exists. The common case, a name missing from a
# searchable directory, is settled without starting a process.
_why() {
	_d=${1%/*}/
	_b=${1##*/}
	if [ ${#_b} -le 255 ] && [ -d "$_d" ] && [ -x "$_d" ] && ! _exists "$1"; then
		_err ENOENT "${2:-no such file or directory}"
		return
	fi
	if _w=$(stat -c x -- "$1" 2>&1 >/dev/null); then _err "$3" "$2"; return; fi
	_errno "$_w"
	_err "${_e:-EIO}" "${2:-$_w}"
}

# _fail PATH MSG ERRNO: report a failed command by the errno its message
# names, else as _why does.
_fail() {
	_errno "$2"
	if [ -n "$_e" ]; then _err "$_e" "$2"; else _why "$1" "$2" "$3"; fi
}

# _okattr PATH: print "ok" and PATH's attribute record (symlinks not
# followed) in one write; false, printing nothing, if PATH is missing.
_okattr() { find "$1" -maxdepth 0 -printf "ok\\0$_A1" 2>/dev/null; }

# _done PATH: answer a change that succeeded with PATH's attributes.
_done() { _okattr "$1" || _why "$1" "changed, but the result cannot be examined" EIO; }

_notdir() { if _exists "$1"; then _err ENOTDIR "not a directory"; else _why "$1" "" EIO; fi; }

op_stat() {
	if _exists "$1"; then _okattr "$1" || _why "$1" "" EIO; else _why "$1" "" EIO; fi
}

op_list() {
	if ! _isdir "$1"; then _notdir "$1"; return; fi
	if [ ! -r "$1" ] || [ ! -x "$1" ]; then _err EACCES "cannot read the directory"; return; fi
	_out ok
	find "$1" -mindepth 1 -maxdepth 1 -printf "$_AL" 2>/dev/null
}

# op_tree DIR DEPTH LIMIT: entries below DIR level by level (breadth
# first: all of depth 1, then all of depth 2, ...), down to DEPTH levels,
# at most LIMIT+1 of them (4 fields each); one more than LIMIT means
# "cut". Each level is one find at that depth, kept in a temporary file
# to count it; the walk ends at an empty level, at DEPTH, or when LIMIT is
# spent, so the tree's shape and not its depth decides what is fetched.
op_tree() {
	if ! _isdir "$1"; then _notdir "$1"; return; fi
	if [ ! -r "$1" ] || [ ! -x "$1" ]; then _err EACCES "cannot read the directory"; return; fi
	if ! _t=$(mktemp 2>/dev/null); then _err EIO "cannot make a temporary file"; return; fi
	_out ok
	_left=$(($3 + 1)) _l=1
	while [ "$_left" -gt 0 ] && [ "$_l" -le "$2" ]; do
		find "$1" -mindepth "$_l" -maxdepth "$_l" -printf "$_AT" 2>/dev/null | head -z -n "$((_left * 4))" >"$_t"
		_c=$(tr -cd '\000' <"$_t" | wc -c)
		cat "$_t"
		_c=$((_c / 4))
		[ "$_c" -gt 0 ] || break
		_left=$((_left - _c)) _l=$((_l + 1))
	done
	rm -f -- "$_t"
}

op_mkdir() {
	if _m=$(mkdir -m "$2" -- "$1" 2>&1); then _done "$1"; else _fail "$1" "$_m" EEXIST; fi
}

# op_create PATH MODE EXCLUSIVE: make an empty file with O_CREAT|O_EXCL
# (dd conv=excl); without EXCLUSIVE an existing non-directory is answered
# as it is.
op_create() {
	if _exists "$1"; then
		if [ "$3" = 1 ]; then _err EEXIST "file exists"
		elif _isdir "$1"; then _err EISDIR "is a directory"
		else op_stat "$1"; fi
		return
	fi
	if ! _m=$(dd if=/dev/null of="$1" conv=excl status=none 2>&1); then
		_errno "$_m"
		if [ "$_e" = EEXIST ] && [ "$3" != 1 ]; then op_stat "$1"; else _fail "$1" "$_m" EEXIST; fi
		return
	fi
	if _m=$(chmod "$2" -- "$1" 2>&1); then _done "$1"; else _fail "$1" "$_m" EPERM; fi
}

op_rmdir() {
	if _m=$(rmdir -- "$1" 2>&1); then _out ok; else _fail "$1" "$_m" EIO; fi
}

op_unlink() {
	if ! _exists "$1"; then _why "$1" "" EIO; return; fi
	if _isdir "$1"; then _err EISDIR "is a directory"; return; fi
	if _m=$(rm -f -- "$1" 2>&1); then _out ok; else _fail "$1" "$_m" EIO; fi
}

# _samefs SRC DST: false when the directories of SRC and DST are on two
# file systems (where mv would copy; rename(2) fails with EXDEV).
_samefs() {
	_w=$(find "${1%/*}/" "${2%/*}/" -maxdepth 0 -printf '%D ' 2>/dev/null) || return 0
	set -- $_w
	[ "$1" = "$2" ]
}

# op_rename SRC DST NOREPLACE: rename(2) semantics with mv -T; NOREPLACE
# is atomic for non-directories (hard link, then unlink the source) and
# check-then-rename for directories.
op_rename() {
	if ! _exists "$1"; then _why "$1" "" EIO; return; fi
	if [ "$3" = 1 ]; then
		if _exists "$2"; then _err EEXIST "the destination exists"; return; fi
		if ! _isdir "$1"; then
			if _m=$(ln -P -T -- "$1" "$2" 2>&1); then
				if _m=$(rm -f -- "$1" 2>&1); then _done "$2"; else rm -f -- "$2"; _fail "$1" "$_m" EIO; fi
				return
			fi
			_errno "$_m"
			case $_e in
			EPERM | EMLINK | ENOTSUP) ;; # no hard links here: check, then rename
			*) _fail "$2" "$_m" EEXIST; return ;;
			esac
		fi
	fi
	if [ "$1" = "$2" ]; then _done "$2"; return; fi
	if _isdir "$1"; then
		case $2 in "$1"/*) _err EINVAL "cannot move a directory into itself"; return ;; esac
		if _exists "$2" && ! _isdir "$2"; then _err ENOTDIR "the destination is not a directory"; return; fi
	elif _isdir "$2"; then
		_err EISDIR "the destination is a directory"; return
	elif [ ! -L "$1" ] && [ ! -L "$2" ] && [ "$1" -ef "$2" ]; then
		_done "$2"; return # two links of one file: rename(2) does nothing
	fi
	if ! _samefs "$1" "$2"; then _err EXDEV "the destination is on another file system"; return; fi
	if _m=$(mv -f -T -- "$1" "$2" 2>&1); then _done "$2"; else _fail "$2" "$_m" EIO; fi
}

op_chmod() {
	if [ -L "$1" ]; then _err ENOTSUP "symbolic links have no mode"; return; fi
	if _m=$(chmod "$2" -- "$1" 2>&1); then _done "$1"; else _fail "$1" "$_m" EPERM; fi
}

# _touch PATH ATIME MTIME: set the times given; each is -, now or SEC.NSEC.
_touch() {
	if [ "$2" = "$3" ]; then _touch1 "$1" "" "$2"; return; fi
	_touch1 "$1" -a "$2" && _touch1 "$1" -m "$3"
}

_touch1() {
	case $3 in
	-) return 0 ;;
	now) touch -h -c $2 -- "$1" 2>&1 ;;
	*) touch -h -c $2 -d "@$3" -- "$1" 2>&1 ;;
	esac
}

op_utimens() {
	if ! _exists "$1"; then _why "$1" "" EIO; return; fi
	if _m=$(_touch "$1" "$2" "$3"); then _done "$1"; else _fail "$1" "$_m" EPERM; fi
}

op_truncate() {
	if ! _exists "$1"; then _why "$1" "" EIO; return; fi
	if [ -d "$1" ]; then _err EISDIR "is a directory"; return; fi
	if [ ! -f "$1" ]; then _err EINVAL "not a regular file"; return; fi
	if _m=$(truncate -c -s "$2" -- "$1" 2>&1); then _done "$1"; else _fail "$1" "$_m" EIO; fi
}

# op_symlink PATH TARGET: make PATH a symbolic link holding TARGET.
op_symlink() {
	if _m=$(ln -s -T -- "$2" "$1" 2>&1); then _done "$1"; else _fail "$1" "$_m" EEXIST; fi
}

op_readlink() {
	if [ -L "$1" ]; then op_stat "$1"
	elif _exists "$1"; then _err EINVAL "not a symbolic link"
	else _why "$1" "" EIO; fi
}

# op_link OLD NEW: a hard link NEW to OLD.
op_link() {
	if ! _exists "$1"; then _why "$1" "" EIO; return; fi
	if _isdir "$1"; then _err EPERM "hard links to directories are not allowed"; return; fi
	if _m=$(ln -P -T -- "$1" "$2" 2>&1); then _done "$2"; else _fail "$2" "$_m" EEXIST; fi
}

# op_install DST TMP MODE: put the regular file TMP in DST's place with
# one rename(2) (atomic for readers of DST), after giving it MODE; MODE -
# keeps DST's mode when DST is a regular file, else 0644; MODE prefixed
# with x also gives TMP the user xattrs of DST. Missing parent
# directories of DST are made (0755), as a sync write makes them. A DST
# with several hard links is rewritten in place instead, so that every
# link sees the new content. TMP is removed when the install fails.
op_install() {
	if [ ! -f "$2" ] || [ -L "$2" ]; then
		if _exists "$2"; then _err EINVAL "the uploaded file is not a regular file"; else _why "$2" "the uploaded file is missing" EIO; fi
		return
	fi
	if _isdir "$1"; then rm -f -- "$2"; _err EISDIR "is a directory"; return; fi
	_d=${1%/*}
	if [ -n "$_d" ] && [ ! -d "$_d" ]; then (umask 022 && mkdir -p -- "$_d") >/dev/null 2>&1; fi
	_mo=${3#x}
	if [ "$_mo" = - ]; then
		_mo=
		if [ -f "$1" ] && [ ! -L "$1" ]; then _mo=$(find "$1" -maxdepth 0 -printf '%m' 2>/dev/null); fi
		[ -n "$_mo" ] || _mo=644
	fi
	if [ -f "$1" ] && [ ! -L "$1" ] && [ -n "$(find "$1" -maxdepth 0 -links +1 2>/dev/null)" ]; then
		# Several names share DST's inode: rewrite it in place, so that
		# every name sees the new content (not atomic for readers).
		if _m=$({ cat -- "$2" >"$1"; } 2>&1) && _m=$(chmod "$_mo" -- "$1" 2>&1); then
			rm -f -- "$2"
			_done "$1"
		else
			rm -f -- "$2"
			_fail "$1" "$_m" EIO
		fi
		return
	fi
	if ! _m=$(chmod "$_mo" -- "$2" 2>&1); then rm -f -- "$2"; _fail "$2" "$_m" EPERM; return; fi
	case $3 in x*) [ ! -f "$1" ] || ! command -v perl >/dev/null 2>&1 || perl -e "$_PX" -- copy "$1" - "$2" >/dev/null 2>&1 ;; esac
	if _m=$(mv -f -T -- "$2" "$1" 2>&1); then _done "$1"; else rm -f -- "$2"; _fail "$1" "$_m" EIO; fi
}

# op_mknod PATH TYPE MODE MAJOR,MINOR: make a FIFO (p), a character (c)
# or block (b) device, or a Unix-domain socket (s) with exactly MODE.
# mknod -m takes permission bits only: set-ID and sticky bits follow by
# chmod, as does a socket's mode.
op_mknod() {
	_mo=$3
	case $_mo in 00???) ;; *) _mo=0 ;; esac
	case $2 in
	p) _m=$(mknod -m "$_mo" -- "$1" p 2>&1) ;;
	c | b) _m=$(mknod -m "$_mo" -- "$1" "$2" "${4%,*}" "${4#*,}" 2>&1) ;;
	s) _mo=0 && _m=$(_sock "$1" 2>&1) ;;
	*) _m='mknod: Invalid argument' && false ;;
	esac
	_rc=$?
	if [ $_rc = 3 ]; then _err ENOTSUP "making a socket needs perl on the VM"; return; fi
	if [ $_rc != 0 ]; then _fail "$1" "$_m" EEXIST; return; fi
	if [ "$_mo" != "$3" ] && ! _m=$(chmod "$3" -- "$1" 2>&1); then rm -f -- "$1"; _fail "$1" "$_m" EPERM; return; fi
	_done "$1"
}

# _sock PATH: bind a Unix-domain socket at PATH and close it; status 3
# without perl or its Socket module (no POSIX tool makes a socket). perl
# binds in PATH's directory, and a name too long for sun_path is bound
# under a short temporary name and hard-linked into place.
_sock() {
	command -v perl >/dev/null 2>&1 || return 3
	perl -e '
	eval { require Socket; 1 } or exit 3;
	my ($d, $n) = @ARGV;
	sub fail { my $m = "$!"; $m = "File exists" if $m eq "Address already in use"; die "mknod: $m\n" }
	chdir $d or fail;
	socket(my $s, Socket::PF_UNIX(), Socket::SOCK_STREAM(), 0) or fail;
	my $b = length($n) < 108 ? $n : ".arkerfs-$$.sock";
	bind($s, Socket::pack_sockaddr_un($b)) or fail;
	exit 0 if $b eq $n;
	my $ok = link($b, $n); my $e = $!; unlink $b; $! = $e; $ok or fail;
	' "${1%/*}/" "${1##*/}"
}

op_statfs() {
	if _m=$(stat -f -c '%S %b %f %a %c %d %l' -- "$1" 2>&1); then _out ok s "$_m"; else _fail "$1" "$_m" EIO; fi
}

# Extended attributes. One perl program does the four operations with the
# l*xattr system calls (symlinks not followed, flags honoured), as
# neither setfattr nor getfattr can pass XATTR_CREATE/XATTR_REPLACE or
# report the errno. Its arguments: OP PATH NAMEHEX [FLAGS:VALUEHEX]; it
# prints one whole record: "ok" [v VALUEHEX | l LISTHEX], or "err" ERRNO
# MESSAGE. Without perl, or without its syscall.ph, xattrs are ENOTSUP.
_PX='use strict; use Errno;
sub en { my $n = "EIO"; for my $k (keys %!) { if ($!{$k}) { $n = $k; last } }
  $n = "ENOTSUP" if $!{ENOTSUP}; return $n }
sub out { print join("\0", @_), "\0"; exit 0 }
if (!eval { require "syscall.ph"; 1 }) { out("err", "ENOTSUP", "perl has no syscall.ph") }
my ($op, $p, $n, $fv) = @ARGV;
$n = pack("H*", $n);
my $r;
if ($op eq "get") {
  my $b = "\0" x 65536;
  $r = syscall(&SYS_lgetxattr, $p, $n, $b, 65536);
  out("ok", "v", unpack("H*", substr($b, 0, $r))) if $r >= 0;
} elsif ($op eq "list") {
  my $b = "\0" x 65536;
  $r = syscall(&SYS_llistxattr, $p, $b, 65536);
  out("ok", "l", unpack("H*", substr($b, 0, $r))) if $r >= 0;
} elsif ($op eq "set") {
  my ($f, $v) = split(/:/, $fv, 2);
  $v = pack("H*", $v);
  my $vl = length($v);
  $v .= "\0";
  $r = syscall(&SYS_lsetxattr, $p, $n, $v, $vl, $f + 0);
  out("ok") if $r >= 0;
} elsif ($op eq "remove") {
  $r = syscall(&SYS_lremovexattr, $p, $n);
  out("ok") if $r >= 0;
} elsif ($op eq "copy") {
  # copy SRC - DST: the user xattrs of SRC onto DST, best effort, silent.
  my $b = "\0" x 65536;
  $r = syscall(&SYS_llistxattr, $p, $b, 65536);
  for my $k ($r > 0 ? split(/\0/, substr($b, 0, $r)) : ()) {
    next unless $k =~ /^user\./;
    my $v = "\0" x 65536;
    my $l = syscall(&SYS_lgetxattr, $p, $k, $v, 65536);
    syscall(&SYS_lsetxattr, $fv, $k, $v, $l, 0) if $l >= 0;
  }
  exit 0;
}
my $e = en();
out("err", $e, "$!");'

# _xattr OP PATH NAMEHEX [FLAGS:VALUEHEX]: run the perl program.
_xattr() {
	if ! command -v perl >/dev/null 2>&1; then _err ENOTSUP "extended attributes need perl on the VM"; return; fi
	perl -e "$_PX" -- "$@" 2>/dev/null || _err EIO "perl failed"
}

# op_getxattr PATH NAMEHEX: "v" and the value in hex.
op_getxattr() { _xattr get "$1" "$2"; }
# op_setxattr PATH NAMEHEX FLAGS:VALUEHEX (FLAGS 0, 1 create, 2 replace).
op_setxattr() { _xattr set "$1" "$2" "$3"; }
# op_listxattr PATH: "l" and the NUL-separated names in hex.
op_listxattr() { _xattr list "$1" 00; }
# op_removexattr PATH NAMEHEX.
op_removexattr() { _xattr remove "$1" "$2"; }

# _stats FIRST COUNT WORD...: stat the COUNT paths in the first COUNT
# words (ops FIRST...) with one find: an attribute record named by its
# path for each file found, "-", then an op record for each path that is
# missing afterwards. Words after the first COUNT are ignored.
_stats() {
	_i=$1 _sc=$2
	shift 2
	_j=0
	while [ $_j -lt "$_sc" ]; do
		_dec "$1" || return 1
		shift
		set -- "$@" "$_v"
		_j=$((_j + 1))
	done
	shift $(($# - _sc))
	_out stats "$_i" "$_sc"
	find "$@" -maxdepth 0 -printf "$_AP" 2>/dev/null
	_out -
	for _p; do
		if ! _exists "$_p"; then
			_out op "$_i" stat
			_why "$_p" "" EIO
			_out end "$_i"
		fi
		_i=$((_i + 1))
	done
}

# arkerfs_main KIND ARG... [KIND ARG...]...: run each operation in turn;
# one failing does not stop the others. "stats COUNT PATH..." stands for
# COUNT stat operations.
arkerfs_main() {
	_out arkerfs-meta 1
	if ! find / -maxdepth 0 -printf '' 2>/dev/null; then
		_out fatal ENOTSUP "GNU find (findutils) is required on the VM"
		return 0
	fi
	_n=0
	while [ $# -gt 0 ]; do
		_k=$1
		shift
		case $_k in
		stats) _c=$((${1:-0} + 1)) ;;
		stat | list | rmdir | unlink | readlink | statfs | listxattr) _c=1 ;;
		mkdir | chmod | truncate | symlink | link | getxattr | removexattr) _c=2 ;;
		create | rename | tree | utimens | install | setxattr) _c=3 ;;
		mknod) _c=4 ;;
		*) _out fatal EINVAL "unknown operation"; return 0 ;;
		esac
		if [ $# -lt $_c ] || [ $_c -lt 1 ]; then _out fatal EINVAL "missing arguments"; return 0; fi
		if [ "$_k" = stats ]; then
			_c=$1
			shift
			_stats $_n "$_c" "$@" || { _out fatal EINVAL "undecodable argument"; return 0; }
			shift "$_c"
			_n=$((_n + _c))
			continue
		fi
		_a2= _a3= _a4=
		_dec "$1" && _a1=$_v &&
			{ [ $_c -lt 2 ] || { _dec "$2" && _a2=$_v; }; } &&
			{ [ $_c -lt 3 ] || { _dec "$3" && _a3=$_v; }; } &&
			{ [ $_c -lt 4 ] || { _dec "$4" && _a4=$_v; }; } ||
			{ _out fatal EINVAL "undecodable argument"; return 0; }
		shift $_c
		_out op $_n "$_k"
		op_$_k "$_a1" "$_a2" "$_a3" "$_a4"
		_out end $_n
		_n=$((_n + 1))
	done
	_out done $_n
}
