//go:build linux

package agent

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// readRange reads the bytes req asks for of a regular file, if it is of
// the version req expects both before and after the read (a file written
// meanwhile is ESTALE, never bytes of two versions). The open does not
// block on a fifo and does not make a terminal the agent's own.
func readRange(req proto.ReadRequest) ([]byte, fileVersion, *proto.Failure) {
	f, err := os.OpenFile(string(req.Path), os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fileVersion{}, failure(err)
	}
	defer f.Close()
	before, err := versionOf(f)
	if err != nil {
		return nil, fileVersion{}, failure(err)
	}
	if fail := before.check(req); fail != nil {
		return nil, before, fail
	}
	n := min(req.Length, max(0, before.Size-req.Offset))
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, req.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, before, failure(err)
	}
	after, err := versionOf(f)
	if err != nil {
		return nil, before, failure(err)
	}
	if fail := after.check(req); fail != nil {
		return nil, after, fail
	}
	if int64(got) != n {
		return nil, after, stale(after, "the file ended before its size")
	}
	return buf, after, nil
}

// versionOf is an open regular file's version; another kind of file is
// EISDIR (a directory) or EINVAL, as a sync read refuses it.
func versionOf(f *os.File) (fileVersion, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileVersion{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return fileVersion{}, unix.EIO
	case fi.IsDir():
		return fileVersion{}, unix.EISDIR
	case !fi.Mode().IsRegular():
		return fileVersion{}, unix.EINVAL
	}
	return fileVersion{Size: st.Size, MtimeNs: helper.JoinTime(st.Mtim.Sec, st.Mtim.Nsec)}, nil
}

// check is ESTALE unless v is the version req expects.
func (v fileVersion) check(req proto.ReadRequest) *proto.Failure {
	if v.Size != req.Size || req.MtimeNs != 0 && v.MtimeNs != req.MtimeNs {
		return stale(v, "the file is not the version the client read")
	}
	return nil
}

func stale(v fileVersion, msg string) *proto.Failure {
	return &proto.Failure{Errno: "ESTALE", Message: msg, Size: v.Size, MtimeNs: v.MtimeNs}
}

// failure is err as a read's failure, named as the helper names errnos.
func failure(err error) *proto.Failure {
	return &proto.Failure{Errno: errnoName(err), Message: errnoText(err)}
}
