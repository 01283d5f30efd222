package transport_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/emulator"
	"github.com/arker-ai/arkerfs/transport/wire"
)

const testKey = "ark_test_5ecret5ecret5ecret"

// fastRetry keeps retried tests quick.
var fastRetry = transport.RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond}

// emu is an emulator over a fresh home directory.
type emu struct {
	*emulator.Server
	home string // the directory served as /home/user
	url  string
}

// newEmu starts an emulator; mods adjust its options.
func newEmu(t testing.TB, mods ...func(*emulator.Options)) *emu {
	t.Helper()
	home := t.TempDir()
	opts := emulator.Options{Home: home, Token: testKey}
	for _, m := range mods {
		m(&opts)
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
	return &emu{Server: s, home: home, url: url}
}

// client makes a client of e with fast retries; mods adjust the config.
func (e *emu) client(t testing.TB, mods ...func(*transport.Config)) *transport.Client {
	t.Helper()
	cfg := transport.Config{APIKey: testKey, BaseURL: e.url, VMID: "local", Retry: fastRetry,
		RequestTimeout: 10 * time.Second, TransferStall: 10 * time.Second}
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

// local is the host path of a VM path under the emulator's home.
func (e *emu) local(vmPath string) string {
	return filepath.Join(e.home, strings.TrimPrefix(vmPath, wire.HomeDir))
}

// requests is how many requests endpoint has seen.
func (e *emu) requests(endpoint string) int64 { return e.Stats().Requests[endpoint] }

// ctxT is a context bounded for one test step.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// randBytes is n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newID is a fresh upload id.
func newID() string { return hex.EncodeToString(randBytes(12)) }

// up is an Upload of data to path with a fresh id.
func up(path string, data []byte) transport.Upload {
	return transport.Upload{Path: path, UploadID: newID(), Size: int64(len(data)), Source: bytes.NewReader(data)}
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
	p := make([]byte, o.Size)
	n, err := c.ReadAt(ctxT(t), o, p, 0)
	if err != nil && !(err.Error() == "EOF" && n == len(p)) {
		t.Fatalf("ReadAt %q: %v", path, err)
	}
	return p[:n]
}

// logSink collects debug lines.
type logSink struct {
	mu    sync.Mutex // protects lines
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logSink) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

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
