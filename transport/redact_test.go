package transport_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/emulator"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// The key never appears in debug logs or error strings, and neither does
// a presigned URL's token.
func TestKeyAndTokensNeverShown(t *testing.T) {
	const secret = "5ecret5ecret5ecret"
	if !strings.Contains(testKey, secret) {
		t.Fatal("test key changed")
	}
	var logs logSink
	e := newEmu(t)
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
	for _, r := range c.Upload(ctxT(t), []transport.Upload{up("/home/user/big", data), up("/home/user/small", data[:10])}) {
		note(r.Err)
	}
	if got := readAll(t, c, "/home/user/big"); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	// Failures of every kind, presigned ones included.
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointBlobGet, Kind: emulator.FaultDrop, Times: -1})
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointBlobPut, Kind: emulator.FaultDrop, Times: -1})
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRun, Kind: emulator.FaultStatus, Status: 500, Times: -1})
	o, err := c.Open(ctxT(t), "/home/user/big")
	note(err)
	_, err = c.ReadAt(ctxT(t), o, make([]byte, 10), 0)
	note(err)
	for _, r := range c.Upload(ctxT(t), []transport.Upload{up("/home/user/big2", data)}) {
		note(r.Err)
	}
	_, err = c.Run(ctxT(t), "true", transport.RunOptions{IdempotencyKey: newID()})
	note(err)
	_, err = c.Open(ctxT(t), "/home/user/missing")
	note(err)
	bad := e.client(t, func(c *transport.Config) { c.Debug = logs.logf; c.APIKey = "ark_wrong_" + secret })
	_, err = bad.DescribeVM(ctxT(t))
	note(err)
	if len(errs) < 5 {
		t.Fatalf("only %d failures to look at: %v", len(errs), errs)
	}
	text := logs.text()
	for _, err := range errs {
		text += "\n" + err.Error()
	}
	if strings.Contains(text, secret) {
		t.Fatalf("the key shows:\n%s", text)
	}
	if strings.Contains(text, wire.PathBlob) {
		t.Fatalf("a presigned URL shows:\n%s", text)
	}
	if !strings.Contains(text, "(presigned)") || !strings.Contains(text, "sync read") {
		t.Fatalf("the log says too little:\n%s", text)
	}
}
