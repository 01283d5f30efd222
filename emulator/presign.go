package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// claims is the signed content of a presigned URL's token: the file and
// the identity (size, mtime, inode) it had when the URL was made. Clients
// treat the token as opaque.
type claims struct {
	Path    string   `json:"p"` // clean VM path
	ID      identity `json:"id"`
	Expires int64    `json:"e"` // Unix seconds; invalid from then on
}

var b64url = base64.RawURLEncoding

// sign makes a token: base64url(claims) "." base64url(HMAC-SHA256(secret, claims)).
func (s *Server) sign(c claims) string {
	payload, _ := json.Marshal(c) // claims has no unencodable field
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	return b64url.EncodeToString(payload) + "." + b64url.EncodeToString(mac.Sum(nil))
}

// verify checks a token's signature and expiry and returns its claims.
// forceExpired (a fault) treats a valid token as expired.
func (s *Server) verify(token string, forceExpired bool) (claims, *apiError) {
	var c claims
	enc, sig, ok := strings.Cut(token, ".")
	payload, err1 := b64url.DecodeString(enc)
	got, err2 := b64url.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil {
		return c, forbidden("malformed presigned URL")
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	if !hmac.Equal(mac.Sum(nil), got) {
		return c, forbidden("bad presigned URL signature")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, forbidden("malformed presigned URL")
	}
	if forceExpired || !s.now().Before(time.Unix(c.Expires, 0)) {
		return c, forbidden("presigned URL expired")
	}
	return c, nil
}

// presignedURL is the URL of token for a request that came in on r: the
// same host the client used.
func presignedURL(r *http.Request, token string) string {
	return "http://" + r.Host + emulatorPrefix + presignedDir + token
}

// servePresigned answers a GET of a presigned URL (no auth): the whole
// file, or one byte range unless Options.NoRange, only while the file has
// the identity the URL was made for (412 once it changed).
func (s *Server) servePresigned(w http.ResponseWriter, r *http.Request, token string) {
	l := s.opts.Lineage
	fail := func(e *apiError, allow ...string) { writeError(w, r, l, "", e, allow) }
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		fail(newError(wire.CodeMethodNotAllowed, "%s is not allowed on a presigned URL", r.Method),
			http.MethodGet, http.MethodHead)
		return
	}
	r.Body = countingReader{r.Body, &s.stats.bytesIn}
	rw := &respWriter{ResponseWriter: w, s: s, ctx: r.Context()}
	w = rw
	if !sleepCtx(r.Context(), time.Duration(s.latency.Load())) {
		return
	}
	s.stats.count(EndpointPresignedGet)
	forceExpired, stop := s.applyFault(EndpointPresignedGet, rw, r, func(e *apiError) { fail(e) })
	if stop {
		return
	}
	s.presignedGet(w, r, token, forceExpired, fail)
	if rw.discard || rw.truncate {
		rw.cut()
	}
}

func (s *Server) presignedGet(w http.ResponseWriter, r *http.Request, token string, forceExpired bool, fail func(*apiError, ...string)) {
	c, aerr := s.verify(token, forceExpired)
	if aerr != nil {
		fail(aerr)
		return
	}
	f, aerr := s.maps.resolve(c.Path, "path")
	if aerr != nil {
		fail(aerr)
		return
	}
	fh, fi, aerr := openRegular(f)
	if aerr != nil {
		if aerr.code == wire.CodeNotFound {
			aerr = changed(f) // gone since the URL was made
		}
		fail(aerr)
		return
	}
	defer fh.Close()
	if identityOf(fi) != c.ID {
		fail(changed(f))
		return
	}
	size := fi.Size()
	start, end, partial := int64(0), size, false
	if !s.opts.NoRange {
		start, end, partial, aerr = parseRange(r.Header.Get("Range"), size)
		if aerr != nil {
			if aerr.status == http.StatusRequestedRangeNotSatisfiable {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			}
			fail(aerr)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	if !s.opts.NoRange {
		h.Set("Accept-Ranges", "bytes")
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, size))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	streamSection(w, fh, start, end, c.ID)
}

// changed is the 412 of a presigned URL whose file changed.
func changed(f vmFile) *apiError {
	e := newError(wire.CodeConflict, "%s changed since the URL was made", f)
	e.status = http.StatusPreconditionFailed
	return e
}

// copyBufSize is the block size of presigned GETs.
const copyBufSize = 256 << 10

// bufPool holds the buffers of presigned GETs.
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// streamSection copies bytes [start, end) of f to w. Before each block is
// sent the file is stat'ed again; if its identity changed (written in
// place meanwhile) the connection is cut, so that a reader gets a short
// body it can detect and never a torn one.
func streamSection(w http.ResponseWriter, f *os.File, start, end int64, id identity) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for off := start; off < end; {
		n := int(min(int64(len(buf)), end-off))
		if m, _ := f.ReadAt(buf[:n], off); m < n {
			panic(http.ErrAbortHandler) // the file shrank: it changed
		}
		if fi, err := f.Stat(); err != nil || identityOf(fi) != id {
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return // the client went away
		}
		off += int64(n)
	}
}

// parseRange parses a Range header against a file of size bytes and
// returns the byte range [start, end) to send. One range is supported:
// "bytes=a-b", "bytes=a-" or "bytes=-n". A range that starts past the end
// is 416; a malformed one is ignored (the whole body), as RFC 9110 says.
func parseRange(h string, size int64) (start, end int64, partial bool, aerr *apiError) {
	whole := func() (int64, int64, bool, *apiError) { return 0, size, false, nil }
	if h == "" {
		return whole()
	}
	unsatisfiable := badRequest("range %q is past the end of a %d-byte file", h, size)
	unsatisfiable.status = http.StatusRequestedRangeNotSatisfiable
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return whole()
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return whole()
	}
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return whole()
		}
		if n == 0 || size == 0 {
			return 0, 0, false, unsatisfiable
		}
		return size - min(n, size), size, true, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return whole()
	}
	end = size
	if last != "" {
		l, err := strconv.ParseInt(last, 10, 64)
		if err != nil || l < start {
			return whole()
		}
		end = min(l+1, size)
	}
	if start >= size {
		return 0, 0, false, unsatisfiable
	}
	return start, end, true, nil
}
