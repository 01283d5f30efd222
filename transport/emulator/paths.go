package emulator

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// vmPath is a path under /home/user as a request named it.
type vmPath struct {
	wire     string // the path field exactly as received, echoed in answers
	encoding string // the path_encoding field as received ("" or "base64")
	raw      []byte // the decoded path bytes
	rel      string // the path relative to Home: "." for Home itself, no "", "." or ".." components
}

// String is the path for messages: the decoded bytes, quoted when they are
// not plain.
func (p vmPath) String() string { return fmt.Sprintf("%q", p.raw) }

// base returns the directory (relative to Home) and the last component of
// p; base is "" for Home itself.
func (p vmPath) split() (dir, base string) {
	if p.rel == "." {
		return ".", ""
	}
	i := strings.LastIndexByte(p.rel, '/')
	if i < 0 {
		return ".", p.rel
	}
	return p.rel[:i], p.rel[i+1:]
}

// parsePath checks a path field of a request: absolute, /home/user or below
// it, no ".." component, no NUL. With encoding "base64" the field holds the
// path bytes base64-encoded (standard alphabet, padded).
func parsePath(field, encoding string) (vmPath, *apiError) {
	p := vmPath{wire: field, encoding: encoding}
	switch encoding {
	case "", wire.EncodingUTF8:
		p.raw = []byte(field)
	case wire.EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(field)
		if err != nil {
			return p, badRequest("path is not valid base64: %v", err)
		}
		p.raw = b
	default:
		return p, badRequest("unknown path_encoding %q", encoding)
	}
	aerr := p.resolve()
	return p, aerr
}

// resolve checks p.raw and sets p.rel.
func (p *vmPath) resolve() *apiError {
	if len(p.raw) == 0 {
		return badRequest("empty path")
	}
	if bytes.IndexByte(p.raw, 0) >= 0 {
		return badRequest("path %s contains NUL", p)
	}
	home := []byte(wire.HomeDir)
	rest, ok := bytes.CutPrefix(p.raw, home)
	if !ok || (len(rest) > 0 && rest[0] != '/') {
		return badRequest("path %s is not under %s", p, wire.HomeDir)
	}
	var parts []string
	for _, c := range strings.Split(string(rest), "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return badRequest("path %s has a .. component", p)
		}
		parts = append(parts, c)
	}
	p.rel = "."
	if len(parts) > 0 {
		p.rel = strings.Join(parts, "/")
	}
	return nil
}

// fileStat is what the emulator needs of a stat(2) answer.
type fileStat struct {
	mode    uint32 // type and permission bits (S_IFMT | 07777)
	size    int64
	mtimeNs int64
	ctimeNs int64
	ino     uint64
	nlink   uint64
}

func statFrom(st *unix.Stat_t) fileStat {
	return fileStat{
		mode:    uint32(st.Mode),
		size:    st.Size,
		mtimeNs: st.Mtim.Nano(),
		ctimeNs: st.Ctim.Nano(),
		ino:     uint64(st.Ino),
		nlink:   uint64(st.Nlink),
	}
}

// fstat stats an open file descriptor.
func fstat(fd uintptr) (fileStat, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(fd), &st); err != nil {
		return fileStat{}, fmt.Errorf("fstat: %w", err)
	}
	return statFrom(&st), nil
}

func (st fileStat) isDir() bool     { return st.mode&unix.S_IFMT == unix.S_IFDIR }
func (st fileStat) isRegular() bool { return st.mode&unix.S_IFMT == unix.S_IFREG }
func (st fileStat) perm() uint32    { return st.mode & 0o7777 }

// version is the opaque version string of a file: it changes whenever the
// content may have changed (size, mtime, ctime or inode changed).
func (st fileStat) version() string {
	return fmt.Sprintf("%x.%x.%x.%x", st.size, st.mtimeNs, st.ctimeNs, st.ino)
}
