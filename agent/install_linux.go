//go:build linux

package agent

import (
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// execInstall is op_install DST TMP MODE: TMP, an uploaded regular file,
// takes DST's place with one rename(2), after getting MODE (KeepMode:
// DST's mode when DST is a regular file, else 0644) and, with
// KeepXattrs, the user xattrs of DST (when DST, followed, is a regular
// file; best effort). Missing parents of DST are made 0755. A DST with
// several hard links is rewritten in place instead (every link sees the
// new content). TMP is removed when the install fails after the checks.
func execInstall(dst, tmp string, mode uint32, keepMode, keepXattrs bool) helper.Result {
	var st unix.Stat_t
	if err := unix.Stat(tmp, &st); err != nil || !isRegMode(st.Mode) || isSymlink(tmp) {
		if _, ok := lstatOf(tmp); ok {
			return failed("EINVAL", "the uploaded file is not a regular file")
		}
		return why(tmp, "the uploaded file is missing", "EIO")
	}
	if isDir(dst) {
		unix.Unlink(tmp)
		return failed("EISDIR", "is a directory")
	}
	if d := dst[:strings.LastIndexByte(dst, '/')]; d != "" {
		var ds unix.Stat_t
		if unix.Stat(d, &ds) != nil || !isDirMode(ds.Mode) {
			mkdirParents(d)
		}
	}
	dstSt, dstOK := lstatOf(dst)
	dstReg := dstOK && isRegMode(dstSt.Mode)
	if keepMode {
		mode = 0o644
		if dstReg {
			mode = dstSt.Mode & 0o7777
		}
	}
	if dstReg && dstSt.Nlink > 1 {
		// Several names share DST's inode: rewrite it in place.
		err := rewrite(dst, tmp)
		if err == nil {
			err = unix.Chmod(dst, mode)
		}
		unix.Unlink(tmp)
		if err != nil {
			return failedAt(dst, err, "EIO")
		}
		return done(dst)
	}
	if err := unix.Chmod(tmp, mode); err != nil {
		unix.Unlink(tmp)
		return failedAt(tmp, err, "EPERM")
	}
	if keepXattrs {
		var fs unix.Stat_t
		if unix.Stat(dst, &fs) == nil && isRegMode(fs.Mode) {
			copyUserXattrs(dst, tmp)
		}
	}
	if err := unix.Rename(tmp, dst); err != nil {
		unix.Unlink(tmp)
		return failedAt(dst, err, "EIO")
	}
	return done(dst)
}

// isSymlink is test -L.
func isSymlink(p string) bool {
	st, ok := lstatOf(p)
	return ok && isLinkMode(st.Mode)
}

// mkdirParents is the script's (umask 022 && mkdir -p -- DIR), errors
// ignored: each missing directory of d made with mode 0777 under the
// umask 022 (0755, with a setgid bit inherited), an existing directory
// (a symlink to one too) passed through.
func mkdirParents(d string) {
	for i := 1; i <= len(d); i++ {
		if i < len(d) && d[i] != '/' {
			continue
		}
		p := d[:i]
		if err := unix.Mkdir(p, 0o777); err != nil {
			var st unix.Stat_t
			if !isErrno(err, unix.EEXIST) || unix.Stat(p, &st) != nil || !isDirMode(st.Mode) {
				return
			}
		}
	}
}

// rewrite is the script's cat TMP >DST: DST opened for writing and
// truncated (the shell's redirection, before cat opens TMP), then TMP's
// content copied in.
func rewrite(dst, tmp string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	in, err := os.Open(tmp)
	if err == nil {
		_, err = io.Copy(out, in)
		in.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyUserXattrs is the perl program's copy: the user.* xattrs of src
// (not followed) set on dst, best effort, silently.
func copyUserXattrs(src, dst string) {
	r := execListxattr(src)
	for _, name := range r.Names {
		if !strings.HasPrefix(name, "user.") {
			continue
		}
		buf := make([]byte, xattrBuffer)
		n, err := unix.Lgetxattr(src, name, buf)
		if err != nil {
			continue
		}
		unix.Lsetxattr(dst, name, buf[:n], 0)
	}
}

// execMknod is op_mknod: a FIFO or a device made by mknod(2) and then
// given exactly MODE by chmod, as mknod -m does (the script passes set-ID
// and sticky bits by a chmod of its own, and removes the file if that
// fails); a socket bound in PATH's directory, then chmod MODE.
func execMknod(p string, typ helper.FileType, mode, major, minor uint32) helper.Result {
	special := mode&^0o777 != 0 || typ == helper.TypeSocket
	var err error
	switch typ {
	case helper.TypeFIFO:
		err = mknodExact(p, unix.S_IFIFO, mode, 0)
	case helper.TypeChar:
		err = mknodExact(p, unix.S_IFCHR, mode, int(unix.Mkdev(major, minor)))
	case helper.TypeBlock:
		err = mknodExact(p, unix.S_IFBLK, mode, int(unix.Mkdev(major, minor)))
	case helper.TypeSocket:
		err = bindSocket(p)
	default:
		return failed("EINVAL", "mknod: Invalid argument")
	}
	if err != nil {
		return failedAt(p, err, "EEXIST")
	}
	if special {
		if err := unix.Chmod(p, mode); err != nil {
			unix.Unlink(p)
			return failedAt(p, err, "EPERM")
		}
	}
	return done(p)
}

// mknodExact is mknod -m PERM: mknod(2), then chmod PERM (the mode's
// permission bits; 0 when it has set-ID or sticky bits, which the
// caller's chmod then sets). A failed chmod leaves the file.
func mknodExact(p string, typ, mode uint32, dev int) error {
	perm := mode
	if mode&^0o777 != 0 {
		perm = 0
	}
	if err := unix.Mknod(p, typ|perm, dev); err != nil {
		return err
	}
	return unix.Chmod(p, perm)
}

// sunPathMax is the longest name the script's perl binds directly
// (shorter than sun_path's 108 bytes).
const sunPathMax = 107

// sockSeq tells apart the temporary names of sockets bound at once.
var sockSeq atomic.Uint64

// bindSocket is the script's _sock: in PATH's directory (made the
// working directory of a thread of its own, so the process's is left
// alone) bind a Unix-domain stream socket at PATH's name, or, for a name
// too long for sun_path, at a short temporary name hard-linked into
// place; then close it. EADDRINUSE is EEXIST, as the perl says.
func bindSocket(p string) error {
	i := strings.LastIndexByte(p, '/')
	dir, name := p[:i+1], p[i+1:]
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it ends with this goroutine, and
		// its working directory with it.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return err
			}
			if err := unix.Chdir(dir); err != nil {
				return err
			}
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			b := name
			if len(name) > sunPathMax {
				b = ".arkerfs-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(sockSeq.Add(1), 10) + ".sock"
			}
			if err := unix.Bind(fd, &unix.SockaddrUnix{Name: b}); err != nil {
				if isErrno(err, unix.EADDRINUSE) {
					return unix.EEXIST
				}
				return err
			}
			if b == name {
				return nil
			}
			err = unix.Link(b, name)
			unix.Unlink(b)
			return err
		}()
	}()
	return <-errc
}
