package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Run limits.
const (
	defaultRunTimeout = 60 * time.Second
	maxRunTimeout     = 600 * time.Second
	maxRunOutput      = 64 << 20 // bytes kept of stdout and of stderr each; the rest is discarded
	maxConcurrentRuns = 16
	runEnvPath        = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// runEnv is the whole environment of a run.
var runEnv = []string{runEnvPath, "HOME=" + wire.HomeDir, "PWD=" + wire.HomeDir, "LANG=C.UTF-8"}

// errClientGone says the client went away before the run finished: there
// is no one to answer.
var errClientGone = &apiError{status: 499, body: wire.ErrorBody{Code: wire.CodeNetworkError, Message: "client went away"}}

// runs executes commands: a bounded number at a time, inside the
// platform's sandbox, with idempotency keys remembered.
type runs struct {
	home  string
	slots chan struct{} // one token per run in progress
	idem  idemStore

	mu          sync.Mutex // protects the fields below
	sb          *sandbox   // made on the first run, stopped by Close
	sbErr       *apiError  // why no sandbox can be made, once known
	forceUserNS bool       // tests: skip the in-process namespace
}

func newRuns(home string) *runs {
	return &runs{home: home, slots: make(chan struct{}, maxConcurrentRuns), idem: idemStore{m: map[string]*idemEntry{}}}
}

// getSandbox returns the sandbox, making it on first use.
func (rs *runs) getSandbox() (*sandbox, *apiError) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.sb == nil && rs.sbErr == nil {
		rs.sb, rs.sbErr = newSandbox(rs.home, rs.forceUserNS)
	}
	return rs.sb, rs.sbErr
}

// stopSandbox releases the sandbox; the next run makes a new one.
func (rs *runs) stopSandbox() {
	rs.mu.Lock()
	sb := rs.sb
	rs.sb, rs.sbErr = nil, nil
	rs.mu.Unlock()
	if sb != nil {
		sb.close()
	}
}

// handleRun answers POST /v1/vms/{id}/run.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r, wire.MaxRunBody)
	if err != nil {
		writeError(w, bodyError(err, wire.MaxRunBody))
		return
	}
	var req wire.RunRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, badRequest("run body is not valid JSON: %v", err))
		return
	}
	if strings.TrimSpace(req.Command) == "" {
		writeError(w, badRequest("empty command"))
		return
	}
	timeout := defaultRunTimeout
	if req.Timeout != nil {
		t := *req.Timeout
		if math.IsNaN(t) || t <= 0 || t > maxRunTimeout.Seconds() {
			writeError(w, badRequest("timeout must be more than 0 and at most %v seconds", maxRunTimeout.Seconds()))
			return
		}
		timeout = time.Duration(t * float64(time.Second))
	}
	runOnce := func() (int, []byte, bool) {
		resp, aerr := s.runs.run(r.Context(), req.Command, timeout)
		if aerr != nil {
			b, _ := json.Marshal(aerr.body)
			return aerr.status, b, false
		}
		b, _ := json.Marshal(resp)
		return http.StatusOK, b, true
	}
	var status int
	var out []byte
	var aerr *apiError
	if key := r.Header.Get(wire.HeaderIdempotencyKey); key != "" {
		status, out, aerr = s.runs.idem.do(r.Context(), key, sha256.Sum256(body), runOnce)
	} else {
		status, out, _ = runOnce()
	}
	switch {
	case r.Context().Err() != nil:
		return // the client went away: nobody to answer
	case aerr != nil:
		writeError(w, aerr)
	default:
		writeRaw(w, status, out)
	}
}

// run executes one command when a slot is free.
func (rs *runs) run(ctx context.Context, command string, timeout time.Duration) (*wire.RunResponse, *apiError) {
	select {
	case rs.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, errClientGone
	}
	defer func() { <-rs.slots }()
	sb, aerr := rs.getSandbox()
	if aerr != nil {
		return nil, aerr
	}
	return sb.execute(ctx, command, timeout)
}

// newRunID returns a fresh run id.
func newRunID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "run_" + hex.EncodeToString(b[:])
}

// encodeOutput returns output as it travels: itself when it is valid
// UTF-8, base64 otherwise.
func encodeOutput(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), wire.EncodingUTF8
	}
	return base64.StdEncoding.EncodeToString(b), wire.EncodingBase64
}

// capBuffer keeps the first max bytes written to it and discards the
// rest, without failing the writer (so a chatty command is not killed by
// SIGPIPE).
type capBuffer struct {
	buf bytes.Buffer
	max int
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// Idempotency-key bookkeeping.
const (
	idemTTL = time.Hour
	maxIdem = 10_000
)

// idemEntry is one idempotency key: its request's digest and, once the
// first request finished, the answer to replay.
type idemEntry struct {
	sum    [32]byte
	done   chan struct{} // closed when the first request finished
	stored bool          // status and body hold the answer
	status int
	body   []byte
	at     time.Time
}

// idemStore remembers run answers by idempotency key.
type idemStore struct {
	mu    sync.Mutex // protects the fields below
	m     map[string]*idemEntry
	order []string // keys in creation order, for expiry
}

// do answers the request with key and body digest sum: a stored answer
// when there is one, a conflict when the key came with another body, and
// otherwise fn's answer (stored when fn says keep). A duplicate that comes
// while the first is running waits for it.
func (st *idemStore) do(ctx context.Context, key string, sum [32]byte, fn func() (int, []byte, bool)) (int, []byte, *apiError) {
	for {
		st.mu.Lock()
		st.expireLocked(time.Now())
		e, ok := st.m[key]
		switch {
		case ok && e.sum != sum:
			st.mu.Unlock()
			return 0, nil, errorf(http.StatusConflict, wire.CodeConflict, "",
				"idempotency key %q was used with another request", key)
		case ok && e.stored:
			st.mu.Unlock()
			return e.status, e.body, nil
		case ok:
			st.mu.Unlock()
			select {
			case <-e.done:
				continue
			case <-ctx.Done():
				return 0, nil, errClientGone
			}
		}
		e = &idemEntry{sum: sum, done: make(chan struct{}), at: time.Now()}
		st.m[key] = e
		st.order = append(st.order, key)
		st.mu.Unlock()

		status, body, keep := fn()
		st.mu.Lock()
		if keep {
			e.stored, e.status, e.body = true, status, body
		} else if st.m[key] == e {
			delete(st.m, key)
		}
		close(e.done)
		st.mu.Unlock()
		return status, body, nil
	}
}

// expireLocked forgets stored answers older than idemTTL, and the oldest
// ones beyond maxIdem.
// LOCKS_REQUIRED(st.mu)
func (st *idemStore) expireLocked(now time.Time) {
	for len(st.order) > 0 {
		key := st.order[0]
		e, ok := st.m[key]
		if ok && !e.stored {
			return // still running: it will be looked at again later
		}
		if ok && now.Sub(e.at) < idemTTL && len(st.m) <= maxIdem {
			return
		}
		if ok {
			delete(st.m, key)
		}
		st.order = st.order[1:]
	}
}
