package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"syscall"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// syncRequest is a sync body before it is known to be a read ({path}) or
// a write ({writes}).
type syncRequest struct {
	wire.SyncReadRequest
	wire.SyncWriteRequest
}

// readSync reads and decodes a sync body and names its endpoint: a body
// with a writes array is a write, anything else a read; a body over the
// limit counts as a write.
func readSync(r *http.Request) (*syncRequest, string, *apiError) {
	body, err := readBody(r, wire.MaxSyncBody)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, EndpointSyncWrite, bodyError(err, wire.MaxSyncBody)
		}
		return nil, EndpointSyncRead, bodyError(err, wire.MaxSyncBody)
	}
	var req syncRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, EndpointSyncRead, badRequest("sync body is not valid JSON: %v", err)
	}
	if req.Writes != nil {
		if req.Path != "" {
			return nil, EndpointSyncWrite, badRequest("a sync body has either path or writes, not both")
		}
		return &req, EndpointSyncWrite, nil
	}
	return &req, EndpointSyncRead, nil
}

// openRead opens a file of Home for reading and stats it. A directory is
// EISDIR, and anything else that is not a regular file is EINVAL (it is
// opened non-blocking, so that a FIFO cannot hang the server).
func (s *Server) openRead(p vmPath) (*os.File, fileStat, *apiError) {
	f, err := s.home.OpenFile(p.rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fileStat{}, fileError(err, p.String())
	}
	st, err := fstat(f.Fd())
	if err != nil {
		f.Close()
		return nil, fileStat{}, fileError(err, p.String())
	}
	switch {
	case st.isDir():
		f.Close()
		return nil, st, fileError(syscall.EISDIR, p.String())
	case !st.isRegular():
		f.Close()
		return nil, st, errorf(http.StatusBadRequest, wire.CodeBadRequest, "EINVAL", "%s is not a regular file", p)
	}
	return f, st, nil
}

// syncRead answers a read: inline content up to wire.InlineReadMax,
// otherwise a presigned GET URL bound to the file's current version.
func (s *Server) syncRead(w http.ResponseWriter, r *http.Request, req wire.SyncReadRequest) {
	p, aerr := parsePath(req.Path, req.PathEncoding)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	f, st, aerr := s.openRead(p)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	defer f.Close()
	resp := wire.SyncReadResponse{Path: p.wire, PathEncoding: p.encoding}
	var content []byte
	if st.size <= wire.InlineReadMax {
		content, st, aerr = readWhole(f, p)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
	}
	resp.Size, resp.Version, resp.MtimeNs = st.size, st.version(), st.mtimeNs
	if content != nil {
		enc := base64.StdEncoding.EncodeToString(content)
		resp.Content, resp.Encoding = &enc, wire.EncodingBase64
		writeJSON(w, http.StatusOK, resp)
		return
	}
	exp, expAt := s.expiry()
	token := s.sign(claims{VM: s.opts.VMID, Path: p.raw, Op: opGet, Version: resp.Version, Expires: exp})
	resp.PresignedURL, resp.Method, resp.ExpiresAt = s.blobURL(r, token), http.MethodGet, expAt
	writeJSON(w, http.StatusOK, resp)
}

// readWhole reads a small file whole and returns it with the stat it
// matches: the file is stat'ed before and after reading, and read again if
// it changed meanwhile, so the content is never torn. A file that grew past
// the inline limit comes back with nil content.
func readWhole(f *os.File, p vmPath) ([]byte, fileStat, *apiError) {
	for range 5 {
		before, err := fstat(f.Fd())
		if err != nil {
			return nil, before, fileError(err, p.String())
		}
		if before.size > wire.InlineReadMax {
			return nil, before, nil
		}
		var buf bytes.Buffer
		buf.Grow(int(before.size))
		if _, err := buf.ReadFrom(io.NewSectionReader(f, 0, before.size+1)); err != nil {
			return nil, before, fileError(err, p.String())
		}
		after, err := fstat(f.Fd())
		if err != nil {
			return nil, before, fileError(err, p.String())
		}
		if before.version() == after.version() && int64(buf.Len()) == before.size {
			if buf.Len() == 0 {
				return []byte{}, before, nil // empty, but inline
			}
			return buf.Bytes(), before, nil
		}
	}
	return nil, fileStat{}, errorf(http.StatusServiceUnavailable, wire.CodeUnavailable, "",
		"%s keeps changing while it is read", p)
}
