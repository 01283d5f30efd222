package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// defaultMode is the permission of a file a commit creates without a mode.
const defaultMode = 0o644

// commit checks an upload and puts its staging file in place at p.
// size nil means "what was written" (chunk uploads) or the presigned size.
// The caller holds up.ioMu exclusively and up is not closed.
func (s *Server) commit(up *upload, p vmPath, size *int64, wantSHA string, mode *uint32) (wire.SyncWriteResult, *apiError) {
	n, aerr := up.commitSize(size)
	if aerr != nil {
		return wire.SyncWriteResult{}, aerr
	}
	st, err := fstat(up.file.Fd())
	if err != nil {
		return wire.SyncWriteResult{}, fileError(err, "staging")
	}
	if st.size != n {
		if err := up.file.Truncate(n); err != nil {
			return wire.SyncWriteResult{}, fileError(fmt.Errorf("truncating the staging file: %w", err), p.String())
		}
	}
	sum, err := up.digest(n)
	if err != nil {
		return wire.SyncWriteResult{}, fileError(err, p.String())
	}
	if wantSHA != "" && !strings.EqualFold(wantSHA, sum) {
		return wire.SyncWriteResult{}, errorf(http.StatusConflict, wire.CodeConflict, "",
			"sha256 of %s is %s, not %s", p, sum, wantSHA)
	}
	final, aerr := s.place(up, p, n, mode)
	if aerr != nil {
		return wire.SyncWriteResult{}, aerr
	}
	return wire.SyncWriteResult{
		Committed: true, Size: final.size, SHA256: sum,
		Version: final.version(), MtimeNs: final.mtimeNs, Ino: final.ino,
	}, nil
}

// commitSize decides the size of the committed file and checks that every
// byte of it was sent.
func (up *upload) commitSize(size *int64) (int64, *apiError) {
	up.mu.Lock()
	defer up.mu.Unlock()
	if size != nil && *size < 0 {
		return 0, badRequest("negative size")
	}
	if up.presigned {
		if size != nil && *size != up.size {
			return 0, badRequest("commit size %d differs from the presigned size %d", *size, up.size)
		}
		for i, ok := range up.received {
			if !ok {
				return 0, badRequest("part %d of %d was not uploaded", i+1, len(up.received))
			}
		}
		return up.size, nil
	}
	if size == nil {
		return up.end, nil
	}
	if *size > up.end {
		return 0, badRequest("size %d is past the %d bytes written", *size, up.end)
	}
	return *size, nil
}

// place moves the staging file of up to p (atomically, by rename) and
// returns the stat of the file now at p. An existing file keeps its
// permissions; a new one gets mode (default 0644). A file with several hard
// links is rewritten in place so that every link sees the new content.
func (s *Server) place(up *upload, p vmPath, size int64, mode *uint32) (fileStat, *apiError) {
	dirRel, base := p.split()
	if base == "" {
		return fileStat{}, fileError(syscall.EISDIR, p.String())
	}
	dir, err := s.home.Open(dirRel)
	if err != nil {
		return fileStat{}, fileError(err, p.String())
	}
	defer dir.Close()
	if dst, err := fstat(dir.Fd()); err != nil || !dst.isDir() {
		return fileStat{}, fileError(syscall.ENOTDIR, p.String())
	}
	dfd := int(dir.Fd())
	perm := uint32(defaultMode)
	if mode != nil {
		perm = *mode & 0o7777
	}
	var ust unix.Stat_t
	switch err := unix.Fstatat(dfd, base, &ust, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil:
		old := statFrom(&ust)
		if old.isDir() {
			return fileStat{}, fileError(syscall.EISDIR, p.String())
		}
		if old.isRegular() {
			perm = old.perm()
			if old.nlink > 1 {
				st, err := rewriteInPlace(dfd, base, up, size)
				return st, fileErrorOrNil(err, p)
			}
		}
	case !errors.Is(err, unix.ENOENT):
		return fileStat{}, fileError(err, p.String())
	}
	if err := unix.Fchmod(int(up.file.Fd()), perm); err != nil {
		return fileStat{}, fileError(err, p.String())
	}
	err = unix.Renameat(unix.AT_FDCWD, up.name, dfd, base)
	if errors.Is(err, unix.EXDEV) {
		st, err := copyIntoPlace(dfd, base, up, size, perm)
		return st, fileErrorOrNil(err, p)
	}
	if err != nil {
		return fileStat{}, fileError(err, p.String())
	}
	st, err := fstat(up.file.Fd())
	return st, fileErrorOrNil(err, p)
}

func fileErrorOrNil(err error, p vmPath) *apiError {
	if err == nil {
		return nil
	}
	return fileError(err, p.String())
}

// rewriteInPlace copies the staging file over the existing file base of
// the directory dfd, keeping its inode, then removes the staging file.
func rewriteInPlace(dfd int, base string, up *upload, size int64) (fileStat, error) {
	fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fileStat{}, fmt.Errorf("opening the target: %w", err)
	}
	dst := os.NewFile(uintptr(fd), base)
	defer dst.Close()
	if err := copyFile(dst, up.file, size); err != nil {
		return fileStat{}, err
	}
	os.Remove(up.name)
	return fstat(dst.Fd())
}

// copyIntoPlace copies the staging file to a temporary file in the
// directory dfd and renames that over base: the fallback when staging and
// target are on different file systems.
func copyIntoPlace(dfd int, base string, up *upload, size int64, perm uint32) (fileStat, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := ".arkerfs-commit-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, perm)
	if err != nil {
		return fileStat{}, fmt.Errorf("creating a temporary file beside the target: %w", err)
	}
	dst := os.NewFile(uintptr(fd), tmp)
	defer dst.Close()
	err = copyFile(dst, up.file, size)
	if err == nil {
		err = unix.Fchmod(fd, perm)
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, base)
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return fileStat{}, err
	}
	os.Remove(up.name)
	return fstat(dst.Fd())
}

// copyFile copies the first size bytes of src over dst and cuts dst there.
func copyFile(dst, src *os.File, size int64) error {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("copying: %w", err)
	}
	if _, err := dst.ReadFrom(io.LimitReader(src, size)); err != nil {
		return fmt.Errorf("copying: %w", err)
	}
	if err := dst.Truncate(size); err != nil {
		return fmt.Errorf("copying: %w", err)
	}
	return nil
}
