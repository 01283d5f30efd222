//go:build linux

package agent

import (
	"encoding/binary"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// The order of a directory's entries is find's: readdir's, except that
// GNU find's fts reads a directory in batches of ftsMaxEntries and sorts
// a batch of more than ftsSortThreshold entries by inode number unless
// the file system is tmpfs, NFS or CIFS (gnulib fts.c, as findutils 4.9
// and 4.10 ship it).
const (
	ftsMaxEntries    = 100_000
	ftsSortThreshold = 10_000
)

// File system magic numbers on which fts does not sort (coreutils fs.h).
const (
	magicTmpfs = 0x01021994
	magicNFS   = 0x6969
	magicCIFS  = 0xFF534D42
)

// dirent is one name read from a directory, with its d_ino.
type dirent struct {
	name string
	ino  uint64
}

// readNames reads the names of the directory open at fd (but . and ..),
// in find's order. A read error ends the listing with what was read, as
// find lists what it read before the error.
func readNames(fd int) []dirent {
	var names []dirent
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		names = parseDirents(buf[:n], names)
	}
	if len(names) > ftsSortThreshold && sortsByInode(fd) {
		for i := 0; i < len(names); i += ftsMaxEntries {
			batch := names[i:min(i+ftsMaxEntries, len(names))]
			if len(batch) > ftsSortThreshold {
				sort.SliceStable(batch, func(a, b int) bool { return batch[a].ino < batch[b].ino })
			}
		}
	}
	return names
}

// parseDirents appends the names of getdents64 records in b to names:
// d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), the name and NULs.
func parseDirents(b []byte, names []dirent) []dirent {
	const nameOff = 19
	for len(b) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < nameOff || reclen > len(b) {
			break
		}
		ino := binary.NativeEndian.Uint64(b[0:8])
		name := b[nameOff:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if s := string(name); s != "." && s != ".." && s != "" {
			names = append(names, dirent{name: s, ino: ino})
		}
		b = b[reclen:]
	}
	return names
}

// sortsByInode reports whether fts sorts a large directory open at fd.
func sortsByInode(fd int) bool {
	var fs unix.Statfs_t
	if unix.Fstatfs(fd, &fs) != nil {
		return true
	}
	switch uint32(fs.Type) {
	case magicTmpfs, magicNFS, magicCIFS:
		return false
	}
	return true
}

// openDir opens the directory rel below the directory dirfd ("" is dirfd
// itself, opened anew) without following a symlink in its last
// component; a relative rel too long for one system call (a deep tree)
// is opened component by component.
func openDir(dirfd int, rel string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	if rel == "" {
		return unix.Openat(dirfd, ".", flags, 0)
	}
	if len(rel) <= helper.MaxPathBytes || rel[0] == '/' {
		return unix.Openat(dirfd, rel, flags, 0)
	}
	fd, err := unix.Openat(dirfd, ".", flags, 0)
	if err != nil {
		return -1, err
	}
	for rest := rel; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		next, err := unix.Openat(fd, c, flags, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// listAt lists the directory open at fd: at most max entries (max < 0:
// all), each with its attributes (lstat) and a symlink's target, in
// find's order. An entry that cannot be examined (removed meanwhile, or
// in a directory that is readable but not searchable) is left out, as
// find leaves it out.
func listAt(fd int, max int) []helper.Entry {
	var out []helper.Entry
	for _, d := range readNames(fd) {
		if max >= 0 && len(out) >= max {
			break
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, d.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue
		}
		e := helper.Entry{Name: d.name, Attr: attrOf(&st)}
		if e.Attr.Type == helper.TypeSymlink {
			e.Target = readlinkAt(fd, d.name)
		}
		out = append(out, e)
	}
	return out
}
