package emulator

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// mapping is a host directory seen at a VM path. Every file access of the
// sync API goes through its os.Root, so that nothing outside the directory
// is reached, through ".." or a symlink.
type mapping struct {
	vm   string // VM path: absolute, clean, not "/"
	host string // absolute host directory
	root *os.Root
}

// mappings is the VM's file system: the mappings, none below another.
type mappings struct {
	list []*mapping // sorted by VM path
}

// newMappings checks table (VM path → host directory) and opens the roots.
func newMappings(table map[string]string) (*mappings, error) {
	ms := &mappings{}
	for vm, host := range table {
		if !path.IsAbs(vm) || path.Clean(vm) != vm || vm == "/" || strings.ContainsRune(vm, 0) {
			return nil, fmt.Errorf("mapping %q: the VM path must be absolute, clean and not /", vm)
		}
		abs, err := filepath.Abs(host)
		if err != nil {
			return nil, fmt.Errorf("mapping %s: %w", vm, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("mapping %s: %w", vm, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("mapping %s: %s is not a directory", vm, abs)
		}
		ms.list = append(ms.list, &mapping{vm: vm, host: abs})
	}
	slices.SortFunc(ms.list, func(a, b *mapping) int { return strings.Compare(a.vm, b.vm) })
	for i, a := range ms.list {
		for _, b := range ms.list[i+1:] {
			if under(b.vm, a.vm) || under(a.vm, b.vm) {
				return nil, fmt.Errorf("mapping %s is below mapping %s", b.vm, a.vm)
			}
		}
	}
	for _, m := range ms.list {
		root, err := os.OpenRoot(m.host)
		if err != nil {
			ms.close()
			return nil, fmt.Errorf("mapping %s: %w", m.vm, err)
		}
		m.root = root
	}
	return ms, nil
}

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// vmFile is a VM path resolved to a mapping.
type vmFile struct {
	path string // the clean VM path
	m    *mapping
	rel  string // relative to the mapping's directory; "." for the directory itself
}

func (f vmFile) String() string { return fmt.Sprintf("%q", f.path) }

// resolve checks a path of a request: absolute, no NUL, inside a mapping
// (after cleaning: "/home/user/../etc" is "/etc"). A relative path is a
// bad_request (violation on field), a path outside every mapping forbidden.
func (ms *mappings) resolve(p, field string) (vmFile, *apiError) {
	switch {
	case p == "":
		return vmFile{}, invalidField(field, "must not be empty")
	case !strings.HasPrefix(p, "/"):
		return vmFile{}, invalidField(field, "must be an absolute path, not %q", p)
	case strings.ContainsRune(p, 0):
		return vmFile{}, invalidField(field, "must not contain NUL")
	}
	clean := path.Clean(p)
	for _, m := range ms.list {
		if under(clean, m.vm) {
			rel := "."
			if clean != m.vm {
				rel = clean[len(m.vm)+1:]
			}
			return vmFile{path: clean, m: m, rel: rel}, nil
		}
	}
	return vmFile{}, forbidden("%q is outside the VM's file system served here", p)
}

// close releases the roots.
func (ms *mappings) close() {
	for _, m := range ms.list {
		if m.root != nil {
			m.root.Close()
		}
	}
}

// identity is what tells one version of a file from another.
type identity struct {
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"` // nanoseconds
	Ino   uint64 `json:"i"`
}

// identityOf returns fi's identity.
func identityOf(fi os.FileInfo) identity {
	id := identity{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Ino = uint64(st.Ino)
	}
	return id
}

// fileError turns an error of a file operation on f into an apiError. An
// error that is not an errno comes from os.Root refusing a path that
// leaves the mapping (through a symlink): forbidden.
func fileError(err error, f vmFile) *apiError {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return forbidden("%s leads outside %s: %v", f, f.m.vm, err)
	}
	switch errno {
	case syscall.ENOENT:
		return notFound("file", "%s: no such file", f)
	case syscall.ENOTDIR, syscall.EISDIR, syscall.ENAMETOOLONG, syscall.ELOOP, syscall.EINVAL:
		return badRequest("%s: %v", f, errno)
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		return forbidden("%s: %v", f, errno)
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
		return newError(wire.CodePayloadTooLarge, "%s: %v", f, errno)
	}
	return internalError("%s: %v", f, errno)
}

// rfc3339 formats t as the API's timestamps.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
