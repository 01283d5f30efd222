//go:build linux

package agent

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// xattrBuffer is the buffer the script's perl program gives lgetxattr and
// llistxattr: a longer list is ERANGE there, so here too.
const xattrBuffer = 64 << 10

// execGetxattr is the script's getxattr: lgetxattr(2) (a symlink is not
// followed); ENODATA when the file has no such attribute. The value of an
// empty attribute is empty, not nil, as helper.Parse decodes it.
func execGetxattr(p, name string) helper.Result {
	buf := make([]byte, xattrBuffer)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return syscallFailed(err)
	}
	return helper.Result{Value: append([]byte{}, buf[:n]...)}
}

// execListxattr is the script's listxattr: llistxattr(2)'s names in the
// VM's order.
func execListxattr(p string) helper.Result {
	buf := make([]byte, xattrBuffer)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return syscallFailed(err)
	}
	if n == 0 {
		return helper.Result{}
	}
	b := buf[:n]
	if b[len(b)-1] != 0 {
		return failed("EIO", "xattr name list not NUL-terminated")
	}
	names := strings.Split(string(b[:len(b)-1]), "\x00")
	for _, s := range names {
		if s == "" || len(s) > helper.MaxXattrName {
			return failed("EIO", "bad xattr name in the list")
		}
	}
	return helper.Result{Names: names}
}
