package transport_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/wire"
)

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

// The key never appears in debug logs or error strings, and neither does
// a presigned URL's token.
func TestKeyAndTokensNeverShown(t *testing.T) {
	const secret = "5ecret5ecret5ecret"
	if !strings.Contains(testKey, secret) {
		t.Fatal("test key changed")
	}
	var logs logSink
	e := newEmu(t, wire.LineageB)
	c := e.client(t, func(c *transport.Config) { c.Debug = logs.logf })
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, err := c.DescribeVM(ctxT(t))
	note(err)
	data := randBytes(wire.ChunkSize + 1)
	for _, r := range c.Upload(ctxT(t), []transport.Upload{up(vm("big"), data), up(vm("small"), data[:10])}) {
		note(r.Err)
	}
	if got := readAll(t, c, vm("big")); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	// Failures of every kind, presigned ones included.
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointPresignedGet, Kind: emulator.FaultDrop, Times: -1})
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRunsCreate, Kind: emulator.FaultStatus, Code: wire.CodeInternal, Times: -1})
	o, err := c.Open(ctxT(t), vm("big"))
	note(err)
	_, err = c.ReadAt(ctxT(t), o, make([]byte, 10), 0)
	note(err)
	_, err = c.Run(ctxT(t), "true", transport.RunOptions{})
	note(err)
	_, err = c.Open(ctxT(t), vm("missing"))
	note(err)
	bad := e.client(t, func(c *transport.Config) { c.Debug = logs.logf; c.APIKey = "ark_wrong_" + secret })
	_, err = bad.DescribeVM(ctxT(t))
	note(err)
	if len(errs) < 4 {
		t.Fatalf("only %d failures to look at: %v", len(errs), errs)
	}
	text := logs.text()
	for _, err := range errs {
		text += "\n" + err.Error()
	}
	if strings.Contains(text, secret) {
		t.Fatalf("the key shows:\n%s", text)
	}
	if strings.Contains(text, "/_emulator/presigned/") {
		t.Fatalf("a presigned URL shows:\n%s", text)
	}
	if !strings.Contains(text, "(presigned)") || !strings.Contains(text, "sync read") {
		t.Fatalf("the log says too little:\n%s", text)
	}
}
