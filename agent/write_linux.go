//go:build linux

package agent

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// errBodyCut is a write whose request ended before its spans did.
var errBodyCut = errors.New("the request ended before its spans")

// writeSpans changes the existing regular file req names in place, as
// proto.WriteRequest says, with the spans' bytes read from data, and
// returns its attributes after. The open does not block on a fifo and
// does not make a terminal the agent's own.
func writeSpans(req proto.WriteRequest, data io.Reader) (helper.Attr, *proto.Failure) {
	if fi, err := os.Stat(string(req.Path)); err != nil {
		return helper.Attr{}, failure(err)
	} else if fi.IsDir() {
		return helper.Attr{}, failure(unix.EISDIR)
	} else if !fi.Mode().IsRegular() {
		return helper.Attr{}, failure(unix.EINVAL) // a fifo's open for writing fails ENXIO without a reader
	}
	f, err := os.OpenFile(string(req.Path), os.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return helper.Attr{}, failure(err)
	}
	defer f.Close()
	if _, err := versionOf(f); err != nil {
		return helper.Attr{}, failure(err)
	}
	if req.TruncateTo != nil {
		if err := f.Truncate(*req.TruncateTo); err != nil {
			return helper.Attr{}, failure(err)
		}
	}
	for _, sp := range req.Spans {
		n, err := io.CopyN(io.NewOffsetWriter(f, sp[0]), data, sp[1])
		if err != nil {
			if n < sp[1] && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				return helper.Attr{}, &proto.Failure{Errno: "EIO", Message: errBodyCut.Error()}
			}
			return helper.Attr{}, failure(err)
		}
	}
	if req.Size != nil {
		if err := f.Truncate(*req.Size); err != nil {
			return helper.Attr{}, failure(err)
		}
	}
	if err := f.Sync(); err != nil {
		return helper.Attr{}, failure(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return helper.Attr{}, failure(err)
	}
	return attrOf(&st), nil
}
