package emulator

import (
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// syncWrite answers a write request: one result per entry, in order. Each
// entry succeeds or fails alone; a failure is the error object of its
// result and the answer is still 200.
func (s *Server) syncWrite(w http.ResponseWriter, r *http.Request, req wire.SyncWriteRequest) {
	resp := wire.SyncWriteResponse{Results: make([]wire.SyncWriteResult, 0, len(req.Writes))}
	for _, e := range req.Writes {
		res, aerr := s.writeEntry(r, e)
		if aerr != nil {
			res = wire.SyncWriteResult{Error: &aerr.body}
		}
		res.Type, res.Path, res.PathEncoding, res.UploadID = e.Type, e.Path, e.PathEncoding, e.UploadID
		resp.Results = append(resp.Results, res)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) writeEntry(r *http.Request, e wire.SyncWriteEntry) (wire.SyncWriteResult, *apiError) {
	p, aerr := parsePath(e.Path, e.PathEncoding)
	if aerr != nil {
		return wire.SyncWriteResult{}, aerr
	}
	switch e.Type {
	case wire.WriteChunk:
		return s.writeChunk(e, p)
	case wire.WritePresign:
		return s.presignWrite(r, e, p)
	case wire.WriteCommit:
		return s.commitEntry(e, p)
	}
	return wire.SyncWriteResult{}, badRequest("unknown write type %q", e.Type)
}

// writeChunk writes one chunk, and commits the upload when it is final.
// A chunk of an upload already committed writes nothing; a final one
// answers the stored result.
func (s *Server) writeChunk(e wire.SyncWriteEntry, p vmPath) (wire.SyncWriteResult, *apiError) {
	var data []byte
	switch e.Encoding {
	case wire.EncodingBase64, "":
		b, err := base64.StdEncoding.DecodeString(e.Data)
		if err != nil {
			return wire.SyncWriteResult{}, badRequest("chunk data is not valid base64: %v", err)
		}
		data = b
	case wire.EncodingUTF8:
		data = []byte(e.Data)
	default:
		return wire.SyncWriteResult{}, badRequest("unknown chunk encoding %q", e.Encoding)
	}
	if len(data) > wire.ChunkSize {
		return wire.SyncWriteResult{}, badRequest("chunk of %d bytes is over %d", len(data), wire.ChunkSize)
	}
	if e.Offset < 0 {
		return wire.SyncWriteResult{}, badRequest("negative offset")
	}
	for {
		up, done, aerr := s.uploads.lookup(e.UploadID, p.raw, true)
		if aerr != nil {
			return wire.SyncWriteResult{}, aerr
		}
		if done != nil {
			if e.Final {
				return done.result, nil
			}
			return wire.SyncWriteResult{Written: int64(len(data))}, nil
		}
		if err := up.writeAt(data, e.Offset); errors.Is(err, errUploadClosed) {
			continue
		} else if err != nil {
			return wire.SyncWriteResult{}, fileError(err, p.String())
		}
		if !e.Final {
			return wire.SyncWriteResult{Written: int64(len(data))}, nil
		}
		res, aerr := s.finishUpload(up, p, e.Size, e.SHA256, e.Mode)
		if aerr == errRetryLookup {
			continue
		}
		if aerr != nil {
			return wire.SyncWriteResult{}, aerr
		}
		res.Written = int64(len(data))
		return res, nil
	}
}

// errRetryLookup says the upload closed while a commit waited for it: look
// the id up again (it is now committed, or gone).
var errRetryLookup = &apiError{status: http.StatusInternalServerError}

// finishUpload commits an open upload and records its result.
func (s *Server) finishUpload(up *upload, p vmPath, size *int64, sha string, mode *uint32) (wire.SyncWriteResult, *apiError) {
	up.ioMu.Lock()
	defer up.ioMu.Unlock()
	up.mu.Lock()
	closed := up.closed
	up.mu.Unlock()
	if closed {
		return wire.SyncWriteResult{}, errRetryLookup
	}
	res, aerr := s.commit(up, p, size, sha, mode)
	if aerr != nil {
		return res, aerr
	}
	s.uploads.finish(up, res)
	return res, nil
}

// commitEntry finishes a presigned (or chunked) upload.
func (s *Server) commitEntry(e wire.SyncWriteEntry, p vmPath) (wire.SyncWriteResult, *apiError) {
	for {
		up, done, aerr := s.uploads.lookup(e.UploadID, p.raw, false)
		if aerr != nil {
			return wire.SyncWriteResult{}, aerr
		}
		if done != nil {
			return done.result, nil
		}
		if up == nil {
			return wire.SyncWriteResult{}, errorf(http.StatusNotFound, wire.CodeNotFound, "",
				"unknown upload %q", e.UploadID)
		}
		res, aerr := s.finishUpload(up, p, e.Size, e.SHA256, e.Mode)
		if aerr == errRetryLookup {
			continue
		}
		return res, aerr
	}
}

// presignWrite lays an upload out in parts and answers a presigned PUT URL
// per part. Asking again for the same upload, size and part size keeps the
// parts already received and answers fresh URLs.
func (s *Server) presignWrite(r *http.Request, e wire.SyncWriteEntry, p vmPath) (wire.SyncWriteResult, *apiError) {
	if e.Size == nil || *e.Size < 0 {
		return wire.SyncWriteResult{}, badRequest("presign needs a size")
	}
	size, partSize := *e.Size, e.PartSize
	if partSize <= 0 {
		partSize = wire.PartSize
	}
	nparts := (size + partSize - 1) / partSize
	if nparts > maxParts {
		return wire.SyncWriteResult{}, badRequest("%d parts is over %d: use a larger part_size", nparts, maxParts)
	}
	for {
		up, done, aerr := s.uploads.lookup(e.UploadID, p.raw, true)
		if aerr != nil {
			return wire.SyncWriteResult{}, aerr
		}
		if done != nil {
			return wire.SyncWriteResult{}, errorf(http.StatusConflict, wire.CodeConflict, "",
				"upload %q is already committed", e.UploadID)
		}
		err := up.layout(size, partSize, int(nparts))
		if errors.Is(err, errUploadClosed) {
			continue
		}
		if err != nil {
			return wire.SyncWriteResult{}, fileError(err, p.String())
		}
		break
	}
	exp, expAt := s.expiry()
	res := wire.SyncWriteResult{ExpiresAt: expAt, Parts: make([]wire.PresignedPart, 0, nparts)}
	for i := int64(0); i < nparts; i++ {
		rng := wire.SyncByteRange{Offset: i * partSize, Length: min(partSize, size-i*partSize)}
		token := s.sign(claims{
			VM: s.opts.VMID, Path: p.raw, Op: opPut, Upload: e.UploadID,
			Part: int(i + 1), Offset: rng.Offset, Length: rng.Length, Expires: exp,
		})
		res.Parts = append(res.Parts, wire.PresignedPart{
			Part: int(i + 1), Range: rng, URL: s.blobURL(r, token), Method: http.MethodPut,
		})
	}
	return res, nil
}

// layout makes up a presigned upload of size bytes in parts of partSize.
// A layout with another size but the same part size keeps the parts
// received whose byte range is the same in both (the full parts the two
// sizes share), so a client may upload a file that is still growing;
// another part size forgets every part.
func (up *upload) layout(size, partSize int64, nparts int) error {
	up.ioMu.Lock()
	defer up.ioMu.Unlock()
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.closed {
		return errUploadClosed
	}
	if up.presigned && up.size == size && up.partSize == partSize {
		return nil
	}
	if err := up.file.Truncate(size); err != nil {
		return err
	}
	received := make([]bool, nparts)
	if up.presigned && up.partSize == partSize {
		// Parts full in both layouts keep their bytes and their flag.
		keep := min(up.size, size) / partSize
		for i := int64(0); i < keep && i < int64(len(up.received)); i++ {
			received[i] = up.received[i]
		}
	}
	up.presigned, up.size, up.partSize = true, size, partSize
	up.received = received
	up.hash = nil
	return nil
}

// checkPart checks that claims c name a part of up's current layout.
func (up *upload) checkPart(c claims) *apiError {
	up.mu.Lock()
	defer up.mu.Unlock()
	if !up.presigned || c.Part < 1 || c.Part > len(up.received) ||
		c.Offset != int64(c.Part-1)*up.partSize || c.Length != min(up.partSize, up.size-c.Offset) {
		return errorf(http.StatusConflict, wire.CodeConflict, "",
			"part %d does not match the upload's current layout", c.Part)
	}
	return nil
}

// markReceived marks part n (from 1) as uploaded.
func (up *upload) markReceived(n int) {
	up.mu.Lock()
	defer up.mu.Unlock()
	up.touched = time.Now()
	if n >= 1 && n <= len(up.received) {
		up.received[n-1] = true
	}
}
