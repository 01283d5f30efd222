package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"

	"github.com/arker-ai/arkerfs/wire"
)

// entryCodes are the codes a per-entry error may carry; any other refusal
// of an entry is reported as bad_request.
var entryCodes = []string{wire.CodeBadRequest, wire.CodeNotFound, wire.CodeConflict, wire.CodePayloadTooLarge,
	wire.CodeUnsupportedOperation, wire.CodeUnavailable, wire.CodeInternal, wire.CodeExpired}

// syncWrite answers op write: one result per entry, in order. Each entry
// succeeds or fails alone; a failure is the error of its result and the
// answer is still 200.
func (s *Server) syncWrite(c *call, entries []writeEntry) {
	resp := wire.SyncWriteResponse{OK: true, Op: wire.OpWrite, Results: make([]wire.SyncWriteResult, 0, len(entries))}
	for _, e := range entries {
		res := wire.SyncWriteResult{Path: e.chunk.Path, Size: e.chunk.Size, Ranges: []wire.ByteRange{}}
		var aerr *apiError
		if e.unsupported != "" {
			aerr = newError(wire.CodeUnsupportedOperation, "this server takes chunk writes only, not a %s", e.unsupported)
			aerr.details = &wire.ErrorDetails{Reason: reasonNotSupported}
		} else {
			aerr = s.writeChunk(e.chunk, &res)
		}
		if aerr != nil {
			if !slices.Contains(entryCodes, aerr.code) {
				aerr = badRequest("%s", aerr.msg)
			}
			res.Error = entryError(s.opts.Lineage, aerr)
		}
		resp.Results = append(resp.Results, res)
	}
	c.reply(http.StatusOK, resp)
}

// writeChunk applies one chunk to its upload and fills res with the
// upload's state; when every byte is in, it commits the file.
func (s *Server) writeChunk(e wire.SyncChunkWrite, res *wire.SyncWriteResult) *apiError {
	f, aerr := s.maps.resolve(e.Path, "path")
	if aerr != nil {
		return aerr
	}
	switch {
	case e.UploadID == "":
		return badRequest("upload_id must not be empty")
	case e.Start > e.End || e.End > e.Size:
		return badRequest("chunk [%d, %d) does not fit 0 ≤ start ≤ end ≤ size = %d", e.Start, e.End, e.Size)
	}
	data, err := base64.StdEncoding.Strict().DecodeString(e.Content)
	if err != nil {
		return badRequest("content is not valid base64: %v", err)
	}
	if len(data) > maxChunkBytes {
		return tooLarge(maxChunkBytes, "a chunk carries at most %d bytes, not %d", maxChunkBytes, len(data))
	}
	if int64(len(data)) != e.End-e.Start {
		return badRequest("content has %d bytes, end - start is %d", len(data), e.End-e.Start)
	}
	for {
		up, aerr := s.ledger.get(e.UploadID, f.path, e.Size)
		if aerr != nil {
			return aerr
		}
		up.mu.Lock()
		if up.gone {
			up.mu.Unlock()
			continue // dropped meanwhile: begin anew
		}
		aerr = s.applyChunk(up, f, e, data)
		res.ReceivedBytes, res.Ranges = received(up.ranges), append([]wire.ByteRange{}, up.ranges...)
		res.Complete = res.ReceivedBytes == up.size
		res.Written = up.written
		up.mu.Unlock()
		return aerr
	}
}

// applyChunk writes data at e.Start, and commits the upload once complete.
// A chunk of an upload already written writes nothing.
// LOCKS_REQUIRED(up.mu)
func (s *Server) applyChunk(up *upload, f vmFile, e wire.SyncChunkWrite, data []byte) *apiError {
	up.last = s.ledger.now()
	if up.written {
		return nil
	}
	if e.SHA256 != nil {
		up.sha = *e.SHA256
	}
	if len(data) > 0 {
		if up.file == nil {
			sf, err := s.ledger.stagingFile()
			if err != nil {
				return internalError("%v", err)
			}
			up.file = sf
		}
		if _, err := up.file.WriteAt(data, e.Start); err != nil {
			return fileError(err, f)
		}
	}
	up.ranges = addRange(up.ranges, e.Start, e.End)
	if received(up.ranges) != up.size {
		return nil
	}
	if up.sha != "" {
		sum, err := up.digest()
		if err != nil {
			return internalError("%v", err)
		}
		if sum != up.sha {
			up.ranges = []wire.ByteRange{}
			s.ledger.drop(up)
			return badRequest("sha256 mismatch: the upload's bytes hash to %s, not %s; the upload is dropped", sum, up.sha)
		}
	}
	var src io.Reader
	if up.file != nil {
		src = io.NewSectionReader(up.file, 0, up.size)
	}
	if aerr := commitFile(f, src, up.size, nil); aerr != nil {
		return aerr
	}
	up.written = true
	up.closeFile()
	return nil
}

// digest is the sha256 of the staged bytes.
// LOCKS_REQUIRED(up.mu)
func (up *upload) digest() (string, error) {
	h := sha256.New()
	if up.file != nil {
		if _, err := io.Copy(h, io.NewSectionReader(up.file, 0, up.size)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// commitFile puts size bytes of src (nil for an empty file) at f
// atomically for VM readers: parents are made, the bytes go to a temporary
// file beside the target, which takes the target's mode (0644 for a new
// file) and is renamed over it. check, when set, runs once the bytes are
// in and may still refuse them: then nothing changes.
func commitFile(f vmFile, src io.Reader, size int64, check func() *apiError) *apiError {
	root := f.m.root
	if f.rel == "." {
		return badRequest("%s is a directory", f)
	}
	dir := path.Dir(f.rel)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fileError(err, f)
		}
	}
	mode := fs.FileMode(0o644)
	if fi, err := root.Lstat(f.rel); err == nil {
		if fi.IsDir() {
			return badRequest("%s is a directory", f)
		}
		if fi.Mode().IsRegular() {
			mode = fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fileError(err, f)
	}
	tmp := path.Join(dir, tempName())
	out, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fileError(err, f)
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
			root.Remove(tmp)
		}
	}()
	if src != nil {
		n, err := io.Copy(out, io.LimitReader(src, size))
		if err != nil {
			return fileError(err, f)
		}
		if n != size {
			return badRequest("%s: got %d of %d bytes", f, n, size)
		}
	}
	if check != nil {
		if aerr := check(); aerr != nil {
			return aerr
		}
	}
	if err := out.Chmod(mode); err != nil {
		return fileError(err, f)
	}
	if err := out.Close(); err != nil {
		return fileError(err, f)
	}
	if err := root.Rename(tmp, f.rel); err != nil {
		return fileError(err, f)
	}
	ok = true
	return nil
}

// tempName is a fresh name for a temporary file beside a target.
func tempName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return ".arker-emulator-" + hex.EncodeToString(b[:]) + ".tmp"
}
