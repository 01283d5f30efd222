// Package emulator is a local, Arker-compatible HTTP server: the contract
// of docs/PROTOCOL.md served over a local directory that plays the VM's
// /home/user. Tests of every other package talk to it over real HTTP on
// loopback, and `arkerfs serve` exposes it so that a VM can be mounted with
// no account.
//
// It is a real server, not a mock: bearer-token auth, sync reads and
// writes with staging, idempotent commits and presigned URLs (HMAC-signed,
// expiring, with Range support), and runs that execute real commands with
// the directory seen at /home/user (Linux: a private mount namespace). Knobs
// add latency and inject faults, and counters report what was asked.
//
// It imports only transport/wire, never package transport, so that the
// client is tested against an independent implementation of the contract.
package emulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Options configure a Server.
type Options struct {
	Home       string                           // directory served as /home/user (required, must exist)
	VMID       string                           // the one VM id served; default "local"
	Token      string                           // bearer token required on API calls (required, non-empty)
	Latency    time.Duration                    // one-way delay, slept before handling a request and again before answering it (every endpoint, blobs included)
	Secret     []byte                           // HMAC key of presigned URLs; random when nil
	PresignTTL time.Duration                    // lifetime of presigned URLs; default wire.PresignTTL
	Now        func() time.Time                 // clock for expiry (tests); default time.Now
	Logf       func(format string, args ...any) // request and error log; nil = quiet
}

// Server is an emulated Arker VM. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	home    *os.Root // Home; every file access of the sync API goes through it
	secret  []byte
	latency atomic.Int64 // one-way latency in nanoseconds
	stats   counters
	faults  faultSet
	uploads *uploads
	runs    *runs

	mu  sync.Mutex // protects the fields below
	srv *http.Server
	url string
}

// New checks opts and returns a Server that is not listening yet: call
// Start, or mount Handler in a server of your own.
func New(opts Options) (*Server, error) {
	if opts.Home == "" {
		return nil, errors.New("emulator: Options.Home is required")
	}
	if opts.Token == "" {
		return nil, errors.New("emulator: Options.Token is required")
	}
	fi, err := os.Stat(opts.Home)
	if err != nil {
		return nil, fmt.Errorf("emulator: home: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("emulator: home %s is not a directory", opts.Home)
	}
	if opts.VMID == "" {
		opts.VMID = "local"
	}
	if opts.PresignTTL <= 0 {
		opts.PresignTTL = wire.PresignTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	root, err := os.OpenRoot(opts.Home)
	if err != nil {
		return nil, fmt.Errorf("emulator: home: %w", err)
	}
	s := &Server{opts: opts, home: root, secret: opts.Secret}
	if s.secret == nil {
		s.secret = make([]byte, 32)
		_, _ = rand.Read(s.secret)
	}
	s.uploads = newUploads(stagingParent(opts.Home), time.Now) // Options.Now is for URL expiry only
	s.runs = newRuns(opts.Home)
	s.latency.Store(int64(opts.Latency))
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
// It returns the base URL. After Close it may be called again, with the
// same address to come back where clients expect the server.
func (s *Server) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("emulator: already serving")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("emulator: %w", err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(logWriter{s}, "", 0),
	}
	s.srv = srv
	s.url = "http://" + ln.Addr().String()
	// Make the run sandbox now, before this process mounts anything that
	// its namespace could copy; a failure is kept and answered per run.
	_, _ = s.runs.getSandbox()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logf("emulator: serve: %v", err)
		}
	}()
	s.logf("emulator: serving %s as VM %q at %s", s.opts.Home, s.opts.VMID, s.url)
	return s.url, nil
}

// URL returns the base URL, "http://127.0.0.1:PORT", of the last Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops listening and cuts every connection, in-flight requests
// included (their runs are killed). Unfinished uploads, committed results
// and stored run answers survive, as on a VM whose API went away for a
// while; Start may be called again.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.runs.stopSandbox()
	s.uploads.tidy()
	return err
}

// SetLatency changes the one-way latency (see Options.Latency).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Stats returns the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the counters.
func (s *Server) ResetStats() { s.stats.reset() }

// InjectFault adds a fault (see Fault). A fault that does not validate
// (unknown kind or endpoint) is ignored and logged.
func (s *Server) InjectFault(f Fault) {
	if err := f.validate(); err != nil {
		s.logf("emulator: fault ignored: %v", err)
		return
	}
	s.faults.add(f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() { s.faults.clear() }

func (s *Server) now() time.Time { return s.opts.Now() }

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// logWriter sends net/http's own messages to Logf.
type logWriter struct{ s *Server }

func (l logWriter) Write(p []byte) (int, error) {
	l.s.logf("%s", p)
	return len(p), nil
}

// sleepCtx sleeps d unless ctx ends first; it reports whether it slept
// the whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
