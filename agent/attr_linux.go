//go:build linux

package agent

import (
	"math"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// attrOf is st as the script's find -printf '%y %m %n %U %G %s %b %i %D
// %A@ %T@ %C@' reports it and helper.Parse reads it back: the type, the
// mode's 07777 bits, st_blocks (512-byte units, as %b prints them),
// st_dev as the number %D prints, times in nanoseconds, saturated.
func attrOf(st *unix.Stat_t) helper.Attr {
	return helper.Attr{
		Type:    typeOf(st.Mode),
		Perm:    st.Mode & 0o7777,
		Nlink:   uint32(st.Nlink),
		UID:     st.Uid,
		GID:     st.Gid,
		Size:    int64(st.Size),
		Blocks:  int64(st.Blocks),
		Ino:     st.Ino,
		Dev:     uint64(st.Dev),
		AtimeNs: joinTime(int64(st.Atim.Sec), int64(st.Atim.Nsec)),
		MtimeNs: joinTime(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		CtimeNs: joinTime(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
	}
}

// typeOf is the file type of mode, as find's %y names it.
func typeOf(mode uint32) helper.FileType {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return helper.TypeRegular
	case unix.S_IFDIR:
		return helper.TypeDir
	case unix.S_IFLNK:
		return helper.TypeSymlink
	case unix.S_IFIFO:
		return helper.TypeFIFO
	case unix.S_IFSOCK:
		return helper.TypeSocket
	case unix.S_IFCHR:
		return helper.TypeChar
	case unix.S_IFBLK:
		return helper.TypeBlock
	}
	return 0
}

// joinTime is sec*1e9+nsec (0 <= nsec < 1e9), saturated at the ends of
// int64: what helper.Parse makes of find's [-]SEC.FRACTION.
func joinTime(sec, nsec int64) int64 {
	const (
		second = int64(1e9)
		maxSec = math.MaxInt64 / second
		maxNs  = math.MaxInt64 % second
		minSec = math.MinInt64/second - 1
		minNs  = second + math.MinInt64%second
	)
	switch {
	case sec > maxSec || sec == maxSec && nsec > maxNs:
		return math.MaxInt64
	case sec < minSec || sec == minSec && nsec < minNs:
		return math.MinInt64
	case sec < 0:
		return (sec+1)*second + (nsec - second)
	}
	return sec*second + nsec
}

// readlinkAt is the content of the symlink name in the directory dirfd
// (unix.AT_FDCWD: name is a path), or "" if it cannot be read, as find's
// %l prints it then.
func readlinkAt(dirfd int, name string) string {
	for size := 256; size <= 1<<16; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return ""
		}
		if n < size {
			return string(buf[:n])
		}
	}
	return ""
}
