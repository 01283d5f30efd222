// Package emulator is a local HTTP server that implements the published
// Arker VM API (docs/arker-api.yaml, docs/PROTOCOL.md) over local
// directories that play the VM's file system. Tests of every other package
// talk to it over real HTTP on loopback, and `arkerfs serve` exposes it so
// that a VM can be mounted with no account.
//
// It serves either API lineage (Options.Lineage): A (typed error envelopes,
// no /sync-stream) or B (flat error envelopes, /sync-stream with tar
// extraction). It is strict: a request the published schema forbids is
// refused, as the service would refuse it. It is a real server, not a mock:
// bearer-token auth, sync reads (inline, or a presigned GET URL that never
// serves a changed file), chunk writes with a ledger and an atomic commit,
// manifests, runs that execute real commands in sessions (queueing, the
// interrupt rule, 202 and polling, idempotency keys) with every mapping
// bind-mounted at its VM path (Linux: a private mount namespace), forked
// by a spawner process in programs that call ServeSpawnerIfAsked. Requests
// to the VM's inbound hostnames are reverse-proxied to its ports on
// loopback (ingress.go). Knobs add latency, inject faults and deny
// ingress, and counters report what was asked.
//
// It imports only package wire, never the client (package transport), so
// that the client is tested against an independent implementation of the
// contract.
package emulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// Defaults of Options.
const (
	DefaultVMID          = "local"
	DefaultVMName        = "emulator"
	DefaultOrgID         = "org_local"
	DefaultOrgName       = "local"
	DefaultInlineReadMax = 1 << 20          // bytes
	DefaultPresignTTL    = 15 * time.Minute // lifetime of presigned URLs
)

// HomeDir is the VM path Options.Home is mapped at.
const HomeDir = "/home/user"

// TmpDir is the VM path of the server's private temporary directory, unless
// Options.Mounts maps it.
const TmpDir = "/tmp"

// Options configure a Server. The zero value of every field but Home and
// Token is a usable default.
type Options struct {
	// Home is the host directory served as /home/user (required, must exist).
	Home string
	// Mounts maps further VM paths (absolute, clean, not "/", none below
	// another) to host directories that must exist. /tmp is mapped to a
	// private temporary directory the server makes (and removes on Close)
	// unless it is given here; /home/user may not be given.
	Mounts map[string]string
	// Lineage is the API lineage served; default wire.LineageA.
	Lineage wire.Lineage
	// VMID is the one VM id served; default DefaultVMID. VMName is its
	// name, accepted in place of the id; default DefaultVMName.
	VMID, VMName string
	// OrgID and OrgName are what /v1/whoami answers; defaults DefaultOrgID
	// and DefaultOrgName.
	OrgID, OrgName string
	// Token is the bearer token required on API calls (required).
	Token string
	// Latency is a one-way delay, slept before a request is handled and
	// again before its answer starts (every endpoint, presigned URLs
	// included).
	Latency time.Duration
	// RunLatency is slept before each command starts: the cost of a
	// process start on a real VM. The run is "running" meanwhile.
	RunLatency time.Duration
	// InlineReadMax is the largest file a sync read answers inline; larger
	// ones get a presigned URL. Default DefaultInlineReadMax bytes.
	InlineReadMax int64
	// NoRange makes presigned GETs ignore Range and answer 200 with the
	// whole body, as a server that does not honour Range does. By default
	// a single byte range is honoured (206).
	NoRange bool
	// StreamMax is the largest /sync-stream body accepted (413 above);
	// default wire.MaxSyncFileBytes.
	StreamMax int64
	// Secret is the HMAC key of presigned URLs; random when nil.
	Secret []byte
	// PresignTTL is the lifetime of presigned URLs; default DefaultPresignTTL.
	PresignTTL time.Duration
	// Now is the clock of presigned-URL and upload expiry (tests); default
	// time.Now.
	Now func() time.Time
	// Wrap, when set, wraps the handler of the Arker API (/v1/…), e.g.
	// with a validator of requests and answers. The emulator's own
	// endpoints (/_emulator/…) are not wrapped.
	Wrap func(http.Handler) http.Handler
	// DenyIngress makes every request to the VM's inbound hostnames
	// answer 403 forbidden, as an inbound deny policy would; see
	// SetDenyIngress.
	DenyIngress bool
	// Logf receives a line per request and errors; nil = quiet.
	Logf func(format string, args ...any)
}

// Server is an emulated Arker VM. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	maps     *mappings
	madeTmp  string // the private /tmp the server made, "" when given
	secret   []byte
	latency  atomic.Int64 // one-way latency in nanoseconds
	stats    counters
	faults   faultSet
	ledger   *ledger
	runs     *runStore
	handler  http.Handler
	created  time.Time
	manifMax int // manifest entry cap (wire.ManifestMaxEntries; lowered by tests)

	denyIngress atomic.Bool            // Options.DenyIngress, changed by SetDenyIngress
	ingress     *httputil.ReverseProxy // to the guest ports (ingress.go)
	ingressTr   *http.Transport        // ingress's transport

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
	switch opts.Lineage {
	case "":
		opts.Lineage = wire.LineageA
	case wire.LineageA, wire.LineageB:
	default:
		return nil, fmt.Errorf("emulator: unknown lineage %q", opts.Lineage)
	}
	setDefault(&opts.VMID, DefaultVMID)
	setDefault(&opts.VMName, DefaultVMName)
	setDefault(&opts.OrgID, DefaultOrgID)
	setDefault(&opts.OrgName, DefaultOrgName)
	if opts.InlineReadMax <= 0 {
		opts.InlineReadMax = DefaultInlineReadMax
	}
	if opts.StreamMax <= 0 {
		opts.StreamMax = wire.MaxSyncFileBytes
	}
	if opts.PresignTTL <= 0 {
		opts.PresignTTL = DefaultPresignTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Latency < 0 || opts.RunLatency < 0 {
		return nil, errors.New("emulator: negative latency")
	}
	table := map[string]string{HomeDir: opts.Home}
	madeTmp := ""
	for vm, dir := range opts.Mounts {
		if vm == HomeDir {
			return nil, fmt.Errorf("emulator: Mounts may not map %s: it is Options.Home", HomeDir)
		}
		table[vm] = dir
	}
	if _, ok := table[TmpDir]; !ok {
		dir, err := os.MkdirTemp("", "arker-emulator-tmp-")
		if err != nil {
			return nil, fmt.Errorf("emulator: private %s: %w", TmpDir, err)
		}
		if err := os.Chmod(dir, 0o1777); err != nil {
			os.Remove(dir)
			return nil, fmt.Errorf("emulator: private %s: %w", TmpDir, err)
		}
		table[TmpDir], madeTmp = dir, dir
	}
	maps, err := newMappings(table)
	if err != nil {
		if madeTmp != "" {
			os.Remove(madeTmp)
		}
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s := &Server{opts: opts, maps: maps, madeTmp: madeTmp, secret: opts.Secret, created: time.Now().UTC(),
		manifMax: wire.ManifestMaxEntries}
	if s.secret == nil {
		s.secret = make([]byte, 32)
		_, _ = rand.Read(s.secret)
	}
	s.ledger = newLedger(s.now)
	s.runs = newRunStore(maps, opts.RunLatency)
	s.latency.Store(int64(opts.Latency))
	s.denyIngress.Store(opts.DenyIngress)
	s.ingress, s.ingressTr = s.newIngressProxy()
	api := http.Handler(http.HandlerFunc(s.serveAPI))
	if opts.Wrap != nil {
		api = opts.Wrap(api)
	}
	s.handler = s.top(api)
	return s, nil
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
// It returns the base URL. After Close it may be called again, with the
// same address to come back where clients expect the server.
func (s *Server) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("emulator: already serving")
	}
	if s.madeTmp != "" {
		// Close removed it; come back with an empty one at the same place.
		if err := os.Mkdir(s.madeTmp, 0o1777); err == nil {
			_ = os.Chmod(s.madeTmp, 0o1777)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("emulator: %w", err)
	}
	srv := &http.Server{
		Handler:           s.handler,
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
	s.logf("emulator: serving VM %q (lineage %s) at %s", s.opts.VMID, s.opts.Lineage, s.url)
	return s.url, nil
}

// URL returns the base URL, "http://127.0.0.1:PORT", of the last Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops listening and cuts every connection (proxied inbound ones
// included). Runs are killed and end
// failed; unfinished uploads, written results and run records survive, as
// on a VM whose API went away for a while; Start may be called again. The
// private /tmp the server made is removed.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.ingressTr.CloseIdleConnections()
	s.runs.killAll()
	s.runs.stopSandbox()
	s.ledger.tidy()
	if s.madeTmp != "" {
		_ = os.RemoveAll(s.madeTmp)
	}
	return err
}

// SetLatency changes the one-way latency (see Options.Latency).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(max(d, 0))) }

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
