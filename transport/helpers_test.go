package transport_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/wire"
)

// lineages are the API lineages every emulator test runs against.
var lineages = []wire.Lineage{wire.LineageA, wire.LineageB}

// eachLineage runs f as a subtest per lineage.
func eachLineage(t *testing.T, f func(t *testing.T, lin wire.Lineage)) {
	for _, lin := range lineages {
		t.Run("lineage="+string(lin), func(t *testing.T) { f(t, lin) })
	}
}

// apiValidator, when set, wraps the emulator's API handler in every test
// with a validator of requests and answers against the published
// document, failing t on any violation. With package apispec:
//
//	apiValidator = func(t testing.TB, lin wire.Lineage) func(http.Handler) http.Handler {
//		spec, err := apispec.Load(lin)
//		if err != nil {
//			t.Fatal(err)
//		}
//		t.Cleanup(func() {
//			for _, v := range spec.Violations() {
//				t.Errorf("contract violation: %s", v)
//			}
//		})
//		return spec.Middleware
//	}
var apiValidator func(t testing.TB, lin wire.Lineage) func(http.Handler) http.Handler

// emu is an emulator over a fresh home directory, with a record of what
// the client sent.
type emu struct {
	*emulator.Server
	home string // the directory served as /home/user
	url  string
	lin  wire.Lineage
	rec  *recorder
}

// newEmu starts an emulator of lineage lin; mods adjust its options.
func newEmu(t testing.TB, lin wire.Lineage, mods ...func(*emulator.Options)) *emu {
	t.Helper()
	home := t.TempDir()
	rec := &recorder{}
	opts := emulator.Options{Home: home, Token: testKey, Lineage: lin}
	for _, m := range mods {
		m(&opts)
	}
	inner := opts.Wrap
	opts.Wrap = func(h http.Handler) http.Handler {
		if inner != nil {
			h = inner(h)
		}
		if apiValidator != nil {
			h = apiValidator(t, lin)(h)
		}
		return rec.wrap(h)
	}
	s, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("emulator Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &emu{Server: s, home: home, url: url, lin: lin, rec: rec}
}

// client makes a client of e with fast retries; mods adjust the config.
func (e *emu) client(t testing.TB, mods ...func(*transport.Config)) *transport.Client {
	t.Helper()
	cfg := transport.Config{APIKey: testKey, BaseURL: e.url, VMID: emulator.DefaultVMID, Retry: fastRetry,
		RequestTimeout: 30 * time.Second, TransferStall: 10 * time.Second, PollBase: 20 * time.Millisecond,
		PollMax: 100 * time.Millisecond, SpillDir: t.TempDir()}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := transport.New(cfg)
	if err != nil {
		t.Fatalf("transport.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// vm is a path under the VM's home.
func vm(name string) string { return emulator.HomeDir + "/" + name }

// local is the host path of a VM path under the emulator's home.
func (e *emu) local(vmPath string) string {
	return filepath.Join(e.home, strings.TrimPrefix(vmPath, emulator.HomeDir))
}

// requests is how many requests endpoint has seen.
func (e *emu) requests(endpoint string) int64 { return e.Stats().Requests[endpoint] }

// writeLocal writes a file into the emulator's home directly.
func (e *emu) writeLocal(t testing.TB, vmPath string, data []byte) {
	t.Helper()
	p := e.local(vmPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readLocal reads a file of the emulator's home directly.
func (e *emu) readLocal(t testing.TB, vmPath string) []byte {
	t.Helper()
	b, err := os.ReadFile(e.local(vmPath))
	if err != nil {
		t.Fatalf("reading %q on the VM: %v", vmPath, err)
	}
	return b
}

// lstat is the local truth behind a VM path.
func (e *emu) lstat(t *testing.T, vmPath string) (os.FileInfo, uint64) {
	t.Helper()
	fi, err := os.Lstat(e.local(vmPath))
	if err != nil {
		t.Fatalf("lstat %s: %v", vmPath, err)
	}
	return fi, fi.Sys().(*syscall.Stat_t).Ino
}

// noTemporaries fails t when a temporary upload file is left in dir.
func (e *emu) noTemporaries(t *testing.T, vmDir string) {
	t.Helper()
	des, _ := os.ReadDir(e.local(vmDir))
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".arkerfs-") {
			t.Errorf("temporary file %q left behind", de.Name())
		}
	}
}

// randBytes is n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// up is an Upload of data to path.
func up(path string, data []byte) transport.Upload {
	return transport.Upload{Path: path, Size: int64(len(data)), Source: bytes.NewReader(data)}
}

// mustUpload uploads and fails the test on any file's error.
func mustUpload(t testing.TB, c *transport.Client, ups ...transport.Upload) []transport.UploadResult {
	t.Helper()
	res := c.Upload(ctxT(t), ups)
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("upload %q: %v", r.Path, r.Err)
		}
	}
	return res
}

// readAll reads a whole object through ReadAt in one call.
func readAll(t testing.TB, c *transport.Client, path string) []byte {
	t.Helper()
	o, err := c.Open(ctxT(t), path)
	if err != nil {
		t.Fatalf("Open %q: %v", path, err)
	}
	defer o.Release()
	p := make([]byte, o.Size)
	n, err := c.ReadAt(ctxT(t), o, p, 0)
	if err != nil && !(err == io.EOF && n == len(p)) {
		t.Fatalf("ReadAt %q: %v", path, err)
	}
	return p[:n]
}

// recorder keeps what the client sent to the runs and sync-write
// endpoints (bodies decoded; chunk contents reduced to their length).
type recorder struct {
	mu     sync.Mutex // protects the fields below
	runs   []recordedRun
	writes [][]recordedChunk // one slice per sync write request
	paths  []string          // every request's method and path
}

type recordedRun struct {
	req   wire.RunRequest
	key   string // Idempotency-Key
	agent string // User-Agent
}

type recordedChunk struct {
	path, uploadID   string
	size, start, end int64
	decoded          int64
	sha256           string
}

func (rc *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.paths = append(rc.paths, r.Method+" "+r.URL.Path)
		rc.mu.Unlock()
		if r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, wire.SuffixRuns) || strings.HasSuffix(r.URL.Path, wire.SuffixSync)) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			rc.note(r, body)
		}
		h.ServeHTTP(w, r)
	})
}

func (rc *recorder) note(r *http.Request, body []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, wire.SuffixRuns) {
		var req wire.RunRequest
		_ = json.Unmarshal(body, &req)
		rc.runs = append(rc.runs, recordedRun{req: req, key: r.Header.Get(wire.HeaderIdempotencyKey), agent: r.UserAgent()})
		return
	}
	var req wire.SyncWriteRequest
	if json.Unmarshal(body, &req) != nil || req.Op != wire.OpWrite {
		return
	}
	var chunks []recordedChunk
	for _, w := range req.Writes {
		n := int64(base64.StdEncoding.DecodedLen(len(w.Content)))
		if b, err := base64.StdEncoding.DecodeString(w.Content); err == nil {
			n = int64(len(b))
		}
		sum := ""
		if w.SHA256 != nil {
			sum = *w.SHA256
		}
		chunks = append(chunks, recordedChunk{path: w.Path, uploadID: w.UploadID, size: w.Size, start: w.Start, end: w.End, decoded: n, sha256: sum})
	}
	rc.writes = append(rc.writes, chunks)
}

// snapshot returns copies of the records.
func (rc *recorder) snapshot() ([]recordedRun, [][]recordedChunk, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recordedRun(nil), rc.runs...), append([][]recordedChunk(nil), rc.writes...), append([]string(nil), rc.paths...)
}

// checkSessions fails t unless every run request of the client named a
// session index of its pool (never omitted, never 0) and carried an
// idempotency key of ours. Requests of other agents (a test acting as the
// VM's user) are left out.
func (e *emu) checkSessions(t *testing.T, c *transport.Client) {
	t.Helper()
	runs, _, _ := e.rec.snapshot()
	cfg := c.Config()
	for i, r := range runs {
		switch {
		case r.agent != "arkerfs":
			continue
		case r.req.Signal != nil:
		case r.req.SessionID != nil:
			t.Errorf("run %d named a session id", i)
		case r.req.SessionIdx == nil:
			t.Errorf("run %d omitted the session (the VM's default session)", i)
		case *r.req.SessionIdx == 0 || *r.req.SessionIdx < cfg.SessionBase:
			t.Errorf("run %d used session index %d", i, *r.req.SessionIdx)
		}
		if !strings.HasPrefix(r.key, "arkerfs-") {
			t.Errorf("run %d carried Idempotency-Key %q", i, r.key)
		}
	}
}

// sizeName names a size in test names.
func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB+%d", n>>20, n%(1<<20))
	}
	return fmt.Sprint(n)
}
