//go:build linux

package agent

import (
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// The mutating operations, each as the script's op_KIND does it
// (transport/helper/helper.sh): the same pre-checks in the same order,
// the same system calls its tools make, the same answers. Every mode the
// script gives explicitly is set exactly (by chmod after the creation
// where its tools do so), so the process umask only matters where the
// script's does: the parents install makes (umask 022, mkdir -p). Exec
// sets the process umask to 022 once, before its first change.

var umaskOnce sync.Once

// setUmask makes the process umask 022, what install's mkdir -p runs
// under; nothing else Exec makes depends on it.
func setUmask() { umaskOnce.Do(func() { unix.Umask(0o022) }) }

// lstatOf is p's lstat, and whether it succeeded (the script's _exists).
func lstatOf(p string) (unix.Stat_t, bool) {
	var st unix.Stat_t
	return st, unix.Lstat(p, &st) == nil
}

func isDirMode(m uint32) bool  { return m&unix.S_IFMT == unix.S_IFDIR }
func isLinkMode(m uint32) bool { return m&unix.S_IFMT == unix.S_IFLNK }
func isRegMode(m uint32) bool  { return m&unix.S_IFMT == unix.S_IFREG }

// isDir is the script's _isdir: a directory, not a symlink to one.
func isDir(p string) bool {
	st, ok := lstatOf(p)
	return ok && isDirMode(st.Mode)
}

// done is the script's _done: the attributes of p after a change that
// succeeded, or the lookup's errno with "changed, but the result cannot
// be examined".
func done(p string) helper.Result {
	r := execStat(p)
	if r.Err != nil {
		return failed(r.Err.Errno, "changed, but the result cannot be examined")
	}
	return r
}

// why is the script's _why PATH MSG FALLBACK: the errno looking p up
// meets, or fallback when p exists; msg is the message, if not empty.
func why(p, msg, fallback string) helper.Result {
	var st unix.Stat_t
	err := unix.Lstat(p, &st)
	if err == nil {
		return failed(fallback, msg)
	}
	en, _ := errnoOf(err)
	if msg == "" {
		if en == unix.ENOENT {
			msg = "no such file or directory"
		} else {
			msg = errnoText(err)
		}
	}
	return failed(errnoName(err), msg)
}

// failedAt is the script's _fail PATH MSG FALLBACK for a system call
// that failed with err: its errno when the helper has a name for it (a
// tool's message then ends with its text), else as why answers.
func failedAt(p string, err error, fallback string) helper.Result {
	if en, ok := errnoOf(err); ok && (en == unix.EOPNOTSUPP || helperErrnos[unix.ErrnoName(en)]) {
		return syscallFailed(err)
	}
	return why(p, errnoText(err), fallback)
}

// isErrno reports whether err is the system call error en.
func isErrno(err error, en unix.Errno) bool {
	e, ok := errnoOf(err)
	return ok && e == en
}

// execMkdir is op_mkdir, mkdir -m MODE: GNU mkdir (mkdir-p.c, with a
// five-digit mode naming every bit) makes the directory without group and
// other write permission and then, if its mode is not exactly MODE (the
// umask, an inherited setgid bit, special bits), chmods it to MODE.
func execMkdir(p string, mode uint32) helper.Result {
	if err := unix.Mkdir(p, mode&0o1755); err != nil {
		return failedAt(p, err, "EEXIST")
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return failedAt(p, err, "EEXIST")
	}
	if st.Mode&0o7777 != mode {
		if err := unix.Chmod(p, mode); err != nil {
			return failedAt(p, err, "EEXIST")
		}
	}
	return done(p)
}

// execCreate is op_create: an existing file is EEXIST (exclusive), EISDIR
// (a directory) or answered as it is; else an empty file made with
// O_CREAT|O_EXCL (dd conv=excl, mode 0600 as the script's umask 077
// leaves dd's 0666) and then chmod MODE.
func execCreate(p string, mode uint32, exclusive bool) helper.Result {
	if st, ok := lstatOf(p); ok {
		switch {
		case exclusive:
			return failed("EEXIST", "file exists")
		case isDirMode(st.Mode):
			return failed("EISDIR", "is a directory")
		}
		return execStat(p)
	}
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if isErrno(err, unix.EEXIST) && !exclusive {
			return execStat(p)
		}
		return failedAt(p, err, "EEXIST")
	}
	err = unix.Fchmod(fd, mode)
	unix.Close(fd)
	if err != nil {
		return failedAt(p, err, "EPERM")
	}
	return done(p)
}

// execRmdir is op_rmdir: rmdir(2).
func execRmdir(p string) helper.Result {
	if err := unix.Rmdir(p); err != nil {
		return failedAt(p, err, "EIO")
	}
	return helper.Result{}
}

// execUnlink is op_unlink: EISDIR for a directory, else rm -f (unlink(2);
// a name gone meanwhile is no error).
func execUnlink(p string) helper.Result {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return lookupFailed(err)
	}
	if isDirMode(st.Mode) {
		return failed("EISDIR", "is a directory")
	}
	if err := unix.Unlink(p); err != nil && !isErrno(err, unix.ENOENT) && !isErrno(err, unix.ENOTDIR) {
		return failedAt(p, err, "EIO")
	}
	return helper.Result{}
}

// unsupportedFlag reports whether renameat2 failed because the file
// system (or the kernel) does not know RENAME_NOREPLACE.
func unsupportedFlag(err error) bool {
	return isErrno(err, unix.EINVAL) || isErrno(err, unix.ENOSYS) || isErrno(err, unix.EOPNOTSUPP)
}

// execRename is op_rename. NOREPLACE is EEXIST when dst exists; a
// non-directory is then moved with renameat2(RENAME_NOREPLACE), atomic
// as the script's hard link then unlink (which this falls back to where
// the flag is not supported); a directory is checked, then moved (with
// the flag too, where supported). Then rename(2)'s rules are checked as
// the script checks them before mv, and rename(2) runs.
func execRename(src, dst string, noReplace bool) helper.Result {
	sst, ok := lstatOf(src)
	if !ok {
		return why(src, "", "EIO")
	}
	srcDir := isDirMode(sst.Mode)
	flags := uint(0)
	if noReplace {
		if _, ok := lstatOf(dst); ok {
			return failed("EEXIST", "the destination exists")
		}
		if !srcDir {
			err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
			if err == nil {
				return done(dst)
			}
			if !unsupportedFlag(err) {
				return failedAt(dst, err, "EEXIST")
			}
			if r, fallThrough := linkThenUnlink(src, dst); !fallThrough {
				return r
			}
		} else {
			flags = unix.RENAME_NOREPLACE
		}
	}
	if src == dst {
		return done(dst)
	}
	if srcDir {
		if strings.HasPrefix(dst, src+"/") {
			return failed("EINVAL", "cannot move a directory into itself")
		}
		if dstSt, ok := lstatOf(dst); ok && !isDirMode(dstSt.Mode) {
			return failed("ENOTDIR", "the destination is not a directory")
		}
	} else if isDir(dst) {
		return failed("EISDIR", "the destination is a directory")
	} else if dstSt, ok := lstatOf(dst); ok && !isLinkMode(sst.Mode) && !isLinkMode(dstSt.Mode) {
		var a, b unix.Stat_t
		if unix.Stat(src, &a) == nil && unix.Stat(dst, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino {
			return done(dst) // two links of one file: rename(2) does nothing
		}
	}
	if !sameFS(src, dst) {
		return failed("EXDEV", "the destination is on another file system")
	}
	if dstSt, ok := lstatOf(dst); ok && mvSameFile(src, dst, &sst, &dstSt) {
		// mv refuses ("'A' and 'B' are the same file"), naming no
		// errno: the script then answers EIO, DST being there.
		return failed("EIO", "mv: the source and the destination are the same file")
	}
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, flags)
	if err != nil && flags != 0 && unsupportedFlag(err) {
		err = unix.Rename(src, dst)
	}
	if err != nil {
		if srcDir && isErrno(err, unix.EINVAL) {
			// mv's own words, "cannot move A to a subdirectory of
			// itself", name no errno: the script asks the lookup.
			return why(dst, "mv: cannot move a directory to a subdirectory of itself", "EIO")
		}
		return failedAt(dst, err, "EIO")
	}
	return done(dst)
}

// mvSameFile reports whether GNU mv (coreutils copy.c same_file_ok, in
// move mode) refuses to move src onto the existing dst as "the same
// file", where the script's checks have not settled it: one directory
// by two paths, two hard links of one symlink, or a symlink onto the
// file it resolves to, unless that file has other links and src
// resolves to another of them. A symlink at dst is always replaced.
func mvSameFile(src, dst string, sst, dstSt *unix.Stat_t) bool {
	srcLink, dstLink := isLinkMode(sst.Mode), isLinkMode(dstSt.Mode)
	switch {
	case srcLink == dstLink:
		return sst.Dev == dstSt.Dev && sst.Ino == dstSt.Ino
	case !srcLink:
		return false
	}
	var to unix.Stat_t
	if unix.Stat(src, &to) != nil || to.Dev != dstSt.Dev || to.Ino != dstSt.Ino {
		return false
	}
	if dstSt.Nlink > 1 {
		if abs, err := filepath.EvalSymlinks(src); err == nil {
			return abs == dst
		}
	}
	return true
}

// linkThenUnlink is the script's NOREPLACE for a non-directory: ln SRC
// DST, then rm SRC (DST removed again if that fails). fallThrough means
// hard links are not possible here (EPERM, EMLINK, ENOTSUP): check, then
// rename.
func linkThenUnlink(src, dst string) (r helper.Result, fallThrough bool) {
	if err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, 0); err != nil {
		if isErrno(err, unix.EPERM) || isErrno(err, unix.EMLINK) || isErrno(err, unix.EOPNOTSUPP) {
			return helper.Result{}, true
		}
		return failedAt(dst, err, "EEXIST"), false
	}
	if err := unix.Unlink(src); err != nil && !isErrno(err, unix.ENOENT) && !isErrno(err, unix.ENOTDIR) {
		unix.Unlink(dst)
		return failedAt(src, err, "EIO"), false
	}
	return done(dst), false
}

// parent is the script's ${p%/*}/: p's directory with a slash.
func parent(p string) string { return p[:strings.LastIndexByte(p, '/')+1] }

// sameFS is the script's _samefs: false only when the directories of a
// and b (followed) both resolve, on two devices.
func sameFS(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(parent(a), &sa) != nil || unix.Stat(parent(b), &sb) != nil {
		return true
	}
	return sa.Dev == sb.Dev
}

// execChmod is op_chmod: ENOTSUP on a symlink, else chmod(2).
func execChmod(p string, mode uint32) helper.Result {
	if st, ok := lstatOf(p); ok && isLinkMode(st.Mode) {
		return failed("ENOTSUP", "symbolic links have no mode")
	}
	if err := unix.Chmod(p, mode); err != nil {
		return failedAt(p, err, "EPERM")
	}
	return done(p)
}

// timeKey is a utimens time as the script's argument writes it, for
// comparing two.
func timeKey(t helper.Time) helper.Time {
	switch {
	case !t.Set:
		return helper.Time{}
	case t.Now:
		return helper.Time{Set: true, Now: true}
	}
	return t
}

// timespec is t for utimensat(2): UTIME_OMIT unset, UTIME_NOW now.
func timespec(t helper.Time) unix.Timespec {
	switch {
	case !t.Set:
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	case t.Now:
		return unix.Timespec{Nsec: unix.UTIME_NOW}
	}
	return unix.NsecToTimespec(t.Ns)
}

// execUtimens is op_utimens with the script's touch -h -c calls: when the
// two times are the same, one call (both now: no times at all, as touch
// passes); else one for the atime and one for the mtime, each only if
// set, the second only if the first succeeded. Symlinks are not followed.
func execUtimens(p string, atime, mtime helper.Time) helper.Result {
	if _, ok := lstatOf(p); !ok {
		return why(p, "", "EIO")
	}
	touch := func(ts []unix.Timespec) error {
		err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
		if isErrno(err, unix.ENOENT) {
			return nil // touch -c: gone meanwhile
		}
		return err
	}
	var err error
	omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
	switch a, m := timeKey(atime), timeKey(mtime); {
	case a == m && !a.Set:
	case a == m && a.Now:
		err = touch(nil)
	case a == m:
		err = touch([]unix.Timespec{timespec(a), timespec(m)})
	default:
		if a.Set {
			err = touch([]unix.Timespec{timespec(a), omit})
		}
		if err == nil && m.Set {
			err = touch([]unix.Timespec{omit, timespec(m)})
		}
	}
	if err != nil {
		return failedAt(p, err, "EPERM")
	}
	return done(p)
}

// execTruncate is op_truncate: EISDIR for a directory and EINVAL for
// anything but a regular file (both following a symlink, as test -d and
// -f do), else truncate -c: open(O_WRONLY|O_NONBLOCK), ftruncate.
func execTruncate(p string, size int64) helper.Result {
	if _, ok := lstatOf(p); !ok {
		return why(p, "", "EIO")
	}
	var st unix.Stat_t
	err := unix.Stat(p, &st)
	if err == nil && isDirMode(st.Mode) {
		return failed("EISDIR", "is a directory")
	}
	if err != nil || !isRegMode(st.Mode) {
		return failed("EINVAL", "not a regular file")
	}
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if isErrno(err, unix.ENOENT) {
			return done(p) // truncate -c: gone meanwhile
		}
		return failedAt(p, err, "EIO")
	}
	err = unix.Ftruncate(fd, size)
	unix.Close(fd)
	if err != nil {
		return failedAt(p, err, "EIO")
	}
	return done(p)
}

// execSymlink is op_symlink: symlink(2), ln -s -T.
func execSymlink(p, target string) helper.Result {
	if err := unix.Symlink(target, p); err != nil {
		return failedAt(p, err, "EEXIST")
	}
	return done(p)
}

// execLink is op_link: EPERM for a directory, else linkat(2) without
// following a symlink (ln -P -T).
func execLink(oldp, newp string) helper.Result {
	st, ok := lstatOf(oldp)
	if !ok {
		return why(oldp, "", "EIO")
	}
	if isDirMode(st.Mode) {
		return failed("EPERM", "hard links to directories are not allowed")
	}
	if err := unix.Linkat(unix.AT_FDCWD, oldp, unix.AT_FDCWD, newp, 0); err != nil {
		return failedAt(newp, err, "EEXIST")
	}
	return done(newp)
}

// execSetxattr is the perl program's set: lsetxattr(2) with the flags.
func execSetxattr(p, name, value string, flags int) helper.Result {
	if err := unix.Lsetxattr(p, name, []byte(value), flags); err != nil {
		return syscallFailed(err)
	}
	return helper.Result{}
}

// execRemovexattr is the perl program's remove: lremovexattr(2).
func execRemovexattr(p, name string) helper.Result {
	if err := unix.Lremovexattr(p, name); err != nil {
		return syscallFailed(err)
	}
	return helper.Result{}
}
