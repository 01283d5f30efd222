//go:build linux

package agent

import (
	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// attrOf is st as the script's find -printf '%y %m %n %U %G %s %b %i %D
// %A@ %T@ %C@' reports it and helper.Parse reads it back: the type, the
// mode's 07777 bits, st_blocks (512-byte units, as %b prints them),
// st_dev as the number %D prints, times in nanoseconds, saturated.
func attrOf(st *unix.Stat_t) helper.Attr {
	return helper.Attr{
		Type:    helper.TypeOfMode(st.Mode),
		Perm:    st.Mode & 0o7777,
		Nlink:   uint32(st.Nlink),
		UID:     st.Uid,
		GID:     st.Gid,
		Size:    int64(st.Size),
		Blocks:  int64(st.Blocks),
		Ino:     st.Ino,
		Dev:     uint64(st.Dev),
		AtimeNs: helper.JoinTime(int64(st.Atim.Sec), int64(st.Atim.Nsec)),
		MtimeNs: helper.JoinTime(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		CtimeNs: helper.JoinTime(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
	}
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
