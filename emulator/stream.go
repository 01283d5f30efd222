package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"

	"github.com/arker-ai/arkerfs/wire"
)

// maxDrain bounds the body bytes read and discarded before a refusal, so
// that the client reads the answer rather than a reset connection.
const maxDrain = 64 << 20

// streamQuery is the query of POST …/sync-stream.
type streamQuery struct {
	path    string
	size    int64
	sha256  string // "" when not given
	extract string // "" for a plain write
}

// parseStreamQuery checks the query: path and size required, sha256 and
// extract optional, nothing else.
func parseStreamQuery(q url.Values) (streamQuery, *apiError) {
	var sq streamQuery
	var vs []wire.Violation
	add := func(field, msg string) { vs = append(vs, wire.Violation{Field: field, Message: msg}) }
	for k, v := range q {
		switch {
		case !slices.Contains([]string{wire.QueryPath, wire.QuerySize, wire.QuerySHA256, wire.QueryExtract}, k):
			add(k, "unknown query parameter")
		case len(v) != 1:
			add(k, "must be given once")
		}
	}
	if !q.Has(wire.QueryPath) {
		add(wire.QueryPath, "is required")
	}
	sq.path = q.Get(wire.QueryPath)
	if !q.Has(wire.QuerySize) {
		add(wire.QuerySize, "is required")
	} else if n, err := strconv.ParseInt(q.Get(wire.QuerySize), 10, 64); err != nil || n < 0 {
		add(wire.QuerySize, "must be an integer ≥ 0")
	} else {
		sq.size = n
	}
	if q.Has(wire.QuerySHA256) {
		sq.sha256 = q.Get(wire.QuerySHA256)
		checkSHA(&vs, wire.QuerySHA256, &sq.sha256)
	}
	if q.Has(wire.QueryExtract) {
		sq.extract = q.Get(wire.QueryExtract)
		checkEnum(&vs, wire.QueryExtract, &sq.extract, wire.ExtractTarGz, wire.ExtractTgz, wire.ExtractTar)
	}
	if len(vs) > 0 {
		return sq, invalid(vs)
	}
	return sq, nil
}

// syncStream answers POST …/sync-stream (lineage B): the body, exactly
// size raw bytes, is written to path (a temporary file renamed into place,
// parents made), or with extract unpacked as a tar into the directory path.
func (s *Server) syncStream(c *call) {
	r := c.r
	fail := func(e *apiError) {
		_, _ = io.CopyN(io.Discard, r.Body, maxDrain)
		c.fail(e)
	}
	sq, aerr := parseStreamQuery(r.URL.Query())
	if aerr != nil {
		fail(aerr)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/octet-stream" {
			fail(badRequest("Content-Type must be application/octet-stream, not %q", ct))
			return
		}
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		fail(badRequest("Content-Encoding %q is not accepted", ce))
		return
	}
	if sq.size > s.opts.StreamMax {
		fail(tooLarge(s.opts.StreamMax, "a stream carries at most %d bytes, not %d", s.opts.StreamMax, sq.size))
		return
	}
	if r.ContentLength >= 0 && r.ContentLength != sq.size {
		fail(badRequest("the body has %d bytes, size says %d", r.ContentLength, sq.size))
		return
	}
	f, aerr := s.maps.resolve(sq.path, wire.QueryPath)
	if aerr != nil {
		fail(aerr)
		return
	}
	body := &exactBody{r: r.Body, left: sq.size, h: sha256.New()}
	check := func() *apiError { return body.check(sq) }
	resp := wire.SyncStreamResponse{OK: true, Path: f.path, Size: sq.size, Complete: true}
	yes := true
	if sq.extract == "" {
		resp.Op, resp.Written = wire.OpWriteStream, &yes
		aerr = commitFile(f, body, sq.size, check)
	} else {
		resp.Op, resp.Extracted = wire.OpExtractStream, &yes
		aerr = s.extractStream(f, body, sq.size, check)
	}
	if aerr != nil {
		fail(aerr)
		return
	}
	c.reply(http.StatusOK, resp)
}

// exactBody reads a body that must hold exactly left more bytes, hashing
// them.
type exactBody struct {
	r    io.Reader
	left int64
	h    hash.Hash
	err  error // a read error other than EOF
}

func (b *exactBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	b.h.Write(p[:n])
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// check runs once the size bytes were read: the body must end there and
// match sha256 when given (a mismatch is a conflict).
func (b *exactBody) check(sq streamQuery) *apiError {
	if b.err != nil {
		return badRequest("reading the body: %v", b.err)
	}
	if b.left > 0 {
		return badRequest("the body ended %d bytes short of size %d", b.left, sq.size)
	}
	var one [1]byte
	if n, _ := io.ReadFull(b.r, one[:]); n > 0 {
		return badRequest("the body is longer than size %d", sq.size)
	}
	if sum := hex.EncodeToString(b.h.Sum(nil)); sq.sha256 != "" && sum != sq.sha256 {
		return newError(wire.CodeConflict, "sha256 mismatch: the body hashes to %s, not %s", sum, sq.sha256)
	}
	return nil
}

// extractStream spools the tar to staging, checks it, and unpacks it into
// the directory f.
func (s *Server) extractStream(f vmFile, body io.Reader, size int64, check func() *apiError) *apiError {
	spool, err := s.ledger.stagingFile()
	if err != nil {
		return internalError("%v", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	if _, err := io.Copy(spool, body); err != nil {
		if aerr := check(); aerr != nil {
			return aerr
		}
		return internalError("spooling the tar: %v", err)
	}
	if aerr := check(); aerr != nil {
		return aerr
	}
	return extractTar(f, io.NewSectionReader(spool, 0, size))
}
