//go:build linux

package agent

import (
	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// Exec runs one operation with system calls and answers it as the helper
// script answers it (docs/HELPER.md): the same attributes, entries in
// the same order, the same errno names, the same changes. It serves the
// kinds proto.Serves accepts (every helper operation); any other is
// ENOSYS. An op that helper.Validate rejects is answered with Validate's
// error, as the client answers it without sending it to the script.
func Exec(op helper.Op) helper.Result {
	if r, refused := refusal(op); refused {
		return r
	}
	switch op.Kind {
	case helper.OpStat:
		return execStat(op.Path)
	case helper.OpList:
		return execList(op.Path)
	case helper.OpTree:
		return execTree(op.Path, op.Depth, op.Limit)
	case helper.OpReadlink:
		return execReadlink(op.Path)
	case helper.OpStatfs:
		return execStatfs(op.Path)
	case helper.OpGetxattr:
		return execGetxattr(op.Path, op.Name)
	case helper.OpListxattr:
		return execListxattr(op.Path)
	}
	setUmask()
	switch op.Kind {
	case helper.OpMkdir:
		return execMkdir(op.Path, op.Mode)
	case helper.OpCreate:
		return execCreate(op.Path, op.Mode, op.Exclusive)
	case helper.OpRmdir:
		return execRmdir(op.Path)
	case helper.OpUnlink:
		return execUnlink(op.Path)
	case helper.OpRename:
		return execRename(op.Path, op.Path2, op.NoReplace)
	case helper.OpChmod:
		return execChmod(op.Path, op.Mode)
	case helper.OpUtimens:
		return execUtimens(op.Path, op.Atime, op.Mtime)
	case helper.OpTruncate:
		return execTruncate(op.Path, op.Size)
	case helper.OpSymlink:
		return execSymlink(op.Path, op.Target)
	case helper.OpLink:
		return execLink(op.Path, op.Path2)
	case helper.OpInstall:
		return execInstall(op.Path, op.Path2, op.Mode, op.KeepMode, op.KeepXattrs)
	case helper.OpMknod:
		return execMknod(op.Path, op.Type, op.Mode, op.Major, op.Minor)
	case helper.OpSetxattr:
		return execSetxattr(op.Path, op.Name, op.Value, op.XattrFlags)
	case helper.OpRemovexattr:
		return execRemovexattr(op.Path, op.Name)
	}
	return failed("ENOSYS", "not served by agent protocol 1")
}

// execStat is the script's op_stat: the file's attributes (lstat), with
// the target of a symlink.
func execStat(p string) helper.Result {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return lookupFailed(err)
	}
	a := attrOf(&st)
	r := helper.Result{Attr: &a}
	if a.Type == helper.TypeSymlink {
		r.Target = readlinkAt(unix.AT_FDCWD, p)
	}
	return r
}

// execReadlink is the script's op_readlink: a symlink's attributes and
// target; EINVAL for any other file.
func execReadlink(p string) helper.Result {
	r := execStat(p)
	if r.Err == nil && r.Attr.Type != helper.TypeSymlink {
		return failed("EINVAL", "not a symbolic link")
	}
	return r
}

// checkDir answers what the script's list and tree check before they
// list p: the lookup's errno, ENOTDIR for anything but a directory (a
// symlink to one too), EACCES unless it is readable and searchable.
func checkDir(p string) (helper.Result, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return lookupFailed(err), false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return failed("ENOTDIR", "not a directory"), false
	}
	if unix.Access(p, unix.R_OK|unix.X_OK) != nil {
		return failed("EACCES", "cannot read the directory"), false
	}
	return helper.Result{}, true
}

// execList is the script's op_list: the directory's entries, in find's
// order, each named by its last component. A directory that cannot be
// opened after the checks (removed meanwhile) lists as empty.
func execList(p string) helper.Result {
	if r, ok := checkDir(p); !ok {
		return r
	}
	fd, err := openDir(unix.AT_FDCWD, p)
	if err != nil {
		return helper.Result{}
	}
	defer unix.Close(fd)
	return helper.Result{Entries: listAt(fd, -1)}
}

// execTree is the script's op_tree: the entries below p level by level
// (all of depth 1, then all of depth 2, ...), named by their path below
// p, down to depth levels, at most limit of them, Truncated when there
// were more. A level is the children of the directories of the level
// above, directory by directory in the order that level listed them
// (find's depth-first walk of one level visits them so); symlinks are not
// followed, and a directory that cannot be read is listed without its
// contents. The walk ends at an empty level, at depth, or when limit+1
// entries have been seen.
func execTree(p string, depth, limit int) helper.Result {
	if r, ok := checkDir(p); !ok {
		return r
	}
	root, err := openDir(unix.AT_FDCWD, p)
	if err != nil {
		return helper.Result{}
	}
	defer unix.Close(root)
	var out []helper.Entry
	left := limit + 1
	parents := []string{""} // the directories whose children make the next level
	for l := 1; left > 0 && l <= depth; l++ {
		n := 0 // entries of this level
		var next []string
		for _, dir := range parents {
			if n == left {
				break
			}
			fd, err := openDir(root, dir)
			if err != nil {
				continue
			}
			for _, e := range listAt(fd, left-n) {
				if dir != "" {
					e.Name = dir + "/" + e.Name
				}
				if e.Attr.Type == helper.TypeDir {
					next = append(next, e.Name)
				}
				out = append(out, e)
				n++
			}
			unix.Close(fd)
		}
		if n == 0 {
			break
		}
		left -= n
		parents = next
	}
	r := helper.Result{Entries: out}
	if len(out) > limit {
		r.Entries, r.Truncated = out[:limit:limit], true
	}
	return r
}

// execStatfs is the script's op_statfs, stat -f -c '%S %b %f %a %c %d
// %l': the fundamental block size (f_frsize, else f_bsize), the block and
// inode counts, the longest name. statfs(2) follows a symlink, as stat -f
// does.
func execStatfs(p string) helper.Result {
	var fs unix.Statfs_t
	if err := unix.Statfs(p, &fs); err != nil {
		return syscallFailed(err)
	}
	bsize := uint64(fs.Frsize)
	if bsize == 0 {
		bsize = uint64(fs.Bsize)
	}
	return helper.Result{Statfs: &helper.Statfs{
		Bsize: bsize, Blocks: fs.Blocks, Bfree: fs.Bfree, Bavail: fs.Bavail,
		Files: fs.Files, Ffree: fs.Ffree, NameLen: uint64(fs.Namelen),
	}}
}
