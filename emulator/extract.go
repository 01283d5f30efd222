package emulator

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// extractTar unpacks the tar (plain or gzip, told by its magic, as tar -x
// does) in src into the directory f, made if missing: regular files,
// directories, symlinks and hard links, with their modes and mtimes.
// Devices and FIFOs are skipped. An entry that would land outside f (an
// absolute name, a ".." component, a path through a symlink that leads
// out) is a bad_request; names are all checked before anything is written,
// symlinks as they are met (an earlier entry may be unpacked by then, as
// with tar).
func extractTar(f vmFile, src io.ReaderAt) *apiError {
	if err := checkTarNames(src); err != nil {
		return err
	}
	if f.rel != "." {
		if err := f.m.root.MkdirAll(f.rel, 0o755); err != nil {
			return fileError(err, f)
		}
	}
	dir, err := f.m.root.OpenRoot(f.rel)
	if err != nil {
		return fileError(err, f)
	}
	defer dir.Close()
	tr, closeTar, aerr := openTar(src)
	if aerr != nil {
		return aerr
	}
	defer closeTar()
	type dirTimes struct {
		name  string
		mode  fs.FileMode
		mtime time.Time
	}
	var dirs []dirTimes
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return badRequest("reading the tar: %v", err)
		}
		name := entryName(hdr.Name)
		if name == "." {
			continue
		}
		if err := extractEntry(dir, tr, hdr, name); err != nil {
			return extractError(err, hdr.Name)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{name, hdr.FileInfo().Mode(), hdr.ModTime})
		}
	}
	// Directories last, deepest first: their entries changed their mtimes.
	slices.SortFunc(dirs, func(a, b dirTimes) int { return strings.Count(b.name, "/") - strings.Count(a.name, "/") })
	for _, d := range dirs {
		if err := dir.Chmod(d.name, d.mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return extractError(err, d.name)
		}
		if err := dir.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return extractError(err, d.name)
		}
	}
	return nil
}

// openTar opens the tar in src, through gzip when it starts with gzip's
// magic.
func openTar(src io.ReaderAt) (*tar.Reader, func(), *apiError) {
	br := bufio.NewReader(io.NewSectionReader(src, 0, 1<<62))
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, badRequest("reading the gzip stream: %v", err)
		}
		return tar.NewReader(zr), func() { zr.Close() }, nil
	}
	return tar.NewReader(br), func() {}, nil
}

// entryName is a tar entry's name, relative and clean.
func entryName(n string) string { return path.Clean(strings.TrimPrefix(n, "./")) }

// escapes reports whether a tar name (or hard-link target) leaves the
// directory it is unpacked into.
func escapes(n string) bool {
	if strings.HasPrefix(n, "/") {
		return true
	}
	return slices.Contains(strings.Split(n, "/"), "..")
}

// checkTarNames refuses a tar with an entry (or hard-link target) that
// names a place outside the directory.
func checkTarNames(src io.ReaderAt) *apiError {
	tr, closeTar, aerr := openTar(src)
	if aerr != nil {
		return aerr
	}
	defer closeTar()
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return badRequest("reading the tar: %v", err)
		}
		if escapes(hdr.Name) || hdr.Typeflag == tar.TypeLink && escapes(hdr.Linkname) {
			return badRequest("tar entry %q leads outside the directory", hdr.Name)
		}
		if strings.ContainsRune(hdr.Name, 0) {
			return badRequest("tar entry %q contains NUL", hdr.Name)
		}
	}
}

// extractEntry unpacks one entry into dir. Whatever is at the name is
// replaced (a directory only by a directory), so an existing symlink is
// never followed to write elsewhere.
func extractEntry(dir *os.Root, tr *tar.Reader, hdr *tar.Header, name string) error {
	if p := path.Dir(name); p != "." {
		if err := dir.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	mode := hdr.FileInfo().Mode()
	if hdr.Typeflag == tar.TypeDir {
		if fi, err := dir.Lstat(name); err == nil && !fi.IsDir() {
			if err := dir.Remove(name); err != nil {
				return err
			}
		}
		if err := dir.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		return nil // devices, FIFOs, …: skipped
	}
	if fi, err := dir.Lstat(name); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%w: a directory is in the way", syscall.EISDIR)
		}
		if err := dir.Remove(name); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		return dir.Symlink(hdr.Linkname, name)
	case tar.TypeLink:
		return dir.Link(entryName(hdr.Linkname), name)
	}
	out, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, tr); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return dir.Chtimes(name, hdr.ModTime, hdr.ModTime)
}

// extractError turns an error of unpacking entry name into an apiError:
// os.Root refusing a path through a symlink that leads out is a
// bad_request, as is anything in the way.
func extractError(err error, name string) *apiError {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return badRequest("tar entry %q leads outside the directory: %v", name, err)
	}
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
		return newError(wire.CodePayloadTooLarge, "tar entry %q: %v", name, err)
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		return forbidden("tar entry %q: %v", name, err)
	case syscall.EIO:
		return internalError("tar entry %q: %v", name, err)
	}
	return badRequest("tar entry %q: %v", name, err)
}
