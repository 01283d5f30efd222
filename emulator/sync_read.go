package emulator

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"syscall"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/wire"
)

// openRegular opens f for reading and stats it. A directory or anything
// else that is not a regular file is a bad_request (opened non-blocking, so
// that a FIFO cannot hang the server).
func openRegular(f vmFile) (*os.File, os.FileInfo, *apiError) {
	fh, err := f.m.root.OpenFile(f.rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fileError(err, f)
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, fileError(err, f)
	}
	if !fi.Mode().IsRegular() {
		fh.Close()
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory"
		}
		return nil, nil, badRequest("%s is %s", f, what)
	}
	return fh, fi, nil
}

// syncRead answers op read: the content inline when the file is at most
// InlineReadMax bytes, otherwise a presigned GET URL bound to the file's
// identity.
func (s *Server) syncRead(c *call, req wire.SyncReadRequest) {
	f, aerr := s.maps.resolve(req.Path, "path")
	if aerr != nil {
		c.fail(aerr)
		return
	}
	fh, fi, aerr := openRegular(f)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	defer fh.Close()
	resp := wire.SyncReadResponse{OK: true, Op: wire.OpRead, Path: req.Path}
	if fi.Size() <= s.opts.InlineReadMax {
		content, id, aerr := readWhole(fh, f, s.opts.InlineReadMax)
		if aerr != nil {
			c.fail(aerr)
			return
		}
		if content != nil {
			resp.Size = id.Size
			enc, str := wire.SyncEncodingUTF8, string(content)
			if !utf8.Valid(content) {
				enc, str = wire.EncodingBase64, base64.StdEncoding.EncodeToString(content)
			}
			resp.Content, resp.Encoding = &str, enc
			c.reply(http.StatusOK, resp)
			return
		}
		fi, _ = fh.Stat() // it grew past the inline limit meanwhile
	}
	id := identityOf(fi)
	exp := s.now().Add(s.opts.PresignTTL)
	token := s.sign(claims{Path: f.path, ID: id, Expires: exp.Unix()})
	secs := int64(s.opts.PresignTTL.Seconds())
	resp.Size, resp.PresignedURL, resp.ExpiresIn, resp.Method = id.Size, presignedURL(c.r, token), &secs, http.MethodGet
	c.reply(http.StatusOK, resp)
}

// readWhole reads a small file whole and returns it with the identity it
// matches: the file is stat'ed before and after reading, and read again if
// it changed meanwhile, so the content is never torn. A file that grew past
// limit comes back with nil content.
func readWhole(fh *os.File, f vmFile, limit int64) ([]byte, identity, *apiError) {
	for range 5 {
		fi, err := fh.Stat()
		if err != nil {
			return nil, identity{}, fileError(err, f)
		}
		before := identityOf(fi)
		if before.Size > limit {
			return nil, before, nil
		}
		var buf bytes.Buffer
		buf.Grow(int(before.Size))
		if _, err := buf.ReadFrom(io.NewSectionReader(fh, 0, before.Size+1)); err != nil {
			return nil, before, fileError(err, f)
		}
		if fi, err = fh.Stat(); err != nil {
			return nil, before, fileError(err, f)
		}
		if identityOf(fi) == before && int64(buf.Len()) == before.Size {
			return append([]byte{}, buf.Bytes()...), before, nil
		}
	}
	return nil, identity{}, unavailable(1, "%s keeps changing while it is read", f)
}
