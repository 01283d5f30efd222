package emulator

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Bounds of a frame.
const (
	maxSpawnFrame = 64 << 20 // bytes of a message
	maxSpawnFDs   = 2        // descriptors with a message
)

// spawnConn is one end of the spawner's socket, a unix stream socket. A
// frame is a 4-byte big-endian length and a gob-encoded message; its
// descriptors (SCM_RIGHTS) travel with its first bytes. A read never goes
// past the frame being read, so the descriptors that come with a frame's
// bytes are that frame's.
type spawnConn struct {
	c *net.UnixConn

	wmu sync.Mutex // held while a frame is written, so frames never interleave
}

// newSpawnConn takes over f, a connected unix stream socket.
func newSpawnConn(f *os.File) (*spawnConn, error) {
	defer f.Close() // net.FileConn works on a copy
	fc, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("the spawner's socket: %w", err)
	}
	uc, ok := fc.(*net.UnixConn)
	if !ok {
		fc.Close()
		return nil, fmt.Errorf("the spawner's socket is a %T, not a unix socket", fc)
	}
	return &spawnConn{c: uc}, nil
}

func (c *spawnConn) close() error { return c.c.Close() }

// send writes msg, with fds, as one frame.
func (c *spawnConn) send(msg any, fds ...*os.File) error {
	var buf bytes.Buffer
	buf.Write(make([]byte, 4))
	if err := gob.NewEncoder(&buf).Encode(msg); err != nil {
		return fmt.Errorf("encoding %T: %w", msg, err)
	}
	b := buf.Bytes()
	if len(b)-4 > maxSpawnFrame {
		return fmt.Errorf("a %T of %d bytes is over the bound of %d", msg, len(b)-4, maxSpawnFrame)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	var oob []byte
	if len(fds) > 0 {
		ints := make([]int, len(fds))
		for i, f := range fds {
			ints[i] = int(f.Fd())
		}
		oob = unix.UnixRights(ints...)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, _, err := c.c.WriteMsgUnix(b, oob, nil)
	runtime.KeepAlive(fds)
	if err == nil && n < len(b) {
		_, err = c.c.Write(b[n:]) // the descriptors went with the first bytes
	}
	return err
}

// receive reads the next frame into msg and returns its descriptors
// (close-on-exec), which the caller owns. At the end of the stream, between
// frames, it returns io.EOF.
func (c *spawnConn) receive(msg any) ([]*os.File, error) {
	var fds []*os.File
	fail := func(err error) ([]*os.File, error) {
		closeFiles(fds)
		return nil, err
	}
	var hdr [4]byte
	if err := c.readFull(hdr[:], &fds, true); err != nil {
		return fail(err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxSpawnFrame {
		return fail(fmt.Errorf("a frame of %d bytes is over the bound of %d", n, maxSpawnFrame))
	}
	body := make([]byte, n)
	if err := c.readFull(body, &fds, false); err != nil {
		return fail(err)
	}
	if err := gob.NewDecoder(bytes.NewReader(body)).Decode(msg); err != nil {
		return fail(fmt.Errorf("decoding %T: %w", msg, err))
	}
	return fds, nil
}

// readFull fills b, adding the descriptors that come with it to fds. At
// the end of the stream it returns io.EOF if atStart and nothing was read,
// io.ErrUnexpectedEOF otherwise.
func (c *spawnConn) readFull(b []byte, fds *[]*os.File, atStart bool) error {
	oob := make([]byte, unix.CmsgSpace(4*maxSpawnFDs))
	for read := 0; read < len(b); {
		n, oobn, flags, _, err := c.c.ReadMsgUnix(b[read:], oob)
		if oobn > 0 {
			got, perr := parseRights(oob[:oobn])
			*fds = append(*fds, got...)
			if perr != nil {
				return perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return errors.New("descriptors were cut off")
		}
		if len(*fds) > maxSpawnFDs {
			return fmt.Errorf("%d descriptors with a frame, over the bound of %d", len(*fds), maxSpawnFDs)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			if atStart && read == 0 {
				return io.EOF
			}
			return io.ErrUnexpectedEOF
		}
		read += n
	}
	return nil
}

// parseRights returns the descriptors of SCM_RIGHTS messages in oob.
func parseRights(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue // not descriptors
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "spawner descriptor"))
		}
	}
	return files, nil
}
