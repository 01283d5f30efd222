package transport_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport/emulator"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// growingFile is a local file written in steps, as a writer would.
type growingFile struct {
	t *testing.T
	f *os.File
}

func newGrowingFile(t *testing.T) *growingFile {
	f, err := os.Create(filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &growingFile{t: t, f: f}
}

func (g *growingFile) writeAt(p []byte, off int64) {
	if _, err := g.f.WriteAt(p, off); err != nil {
		g.t.Fatal(err)
	}
}

// waitRequests polls the emulator's counter of endpoint until it reaches
// n, or fails the test after a bounded wait.
func waitRequests(t *testing.T, e *emu, endpoint string, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for e.requests(endpoint) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d requests, waited for %d", endpoint, e.requests(endpoint), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Parts the writer has finished go before Finish; at Finish only the tail
// is sent, each part exactly once, and the VM has the file.
func TestPartStreamSendsFinishedPartsEarly(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	const ps = wire.PartSize
	data := make([]byte, 5*ps+12345)
	rand.Read(data)
	src := newGrowingFile(t)
	s := c.NewPartStream(wire.HomeDir+"/streamed.bin", "stream-1", src.f)
	for off := 0; off < 4*ps; off += 1 << 20 {
		src.writeAt(data[off:off+1<<20], int64(off))
		s.Ready(int64(off + 1<<20))
	}
	waitRequests(t, e, emulator.EndpointBlobPut, 4) // sent while "writing"
	src.writeAt(data[4*ps:], 4*ps)
	res, ok := s.Finish(ctxT(t), int64(len(data)), nil)
	if !ok || res.Err != nil {
		t.Fatalf("Finish: ok %v, %v", ok, res.Err)
	}
	if res.Size != int64(len(data)) || res.SHA256 != shaHex(data) {
		t.Fatalf("result %+v", res)
	}
	got, err := os.ReadFile(e.local(wire.HomeDir + "/streamed.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("VM copy differs (%v)", err)
	}
	if n := e.requests(emulator.EndpointBlobPut); n != 6 {
		t.Fatalf("%d part PUTs for 6 parts", n)
	}
}

// A part rewritten after it was sent, a failed background PUT and a file
// that shrinks are all set right at Finish.
func TestPartStreamChangesAndFailures(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	const ps = wire.PartSize
	data := make([]byte, 6*ps)
	rand.Read(data)
	src := newGrowingFile(t)
	s := c.NewPartStream(wire.HomeDir+"/changed.bin", "stream-2", src.f)
	// The second PUT fails for good (400 is not retried): the stream stops
	// sending in the background.
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointBlobPut, Kind: emulator.FaultStatus, Status: 400, Code: "bad_request", After: 1})
	src.writeAt(data[:3*ps], 0)
	s.Ready(3 * ps)
	waitRequests(t, e, emulator.EndpointBlobPut, 2)
	// Rewrite bytes inside part 1, which went or is going already.
	patch := bytes.Repeat([]byte("x"), 1000)
	copy(data[100:], patch)
	src.writeAt(patch, 100)
	s.Changed(100, 1100)
	// The file grows, then is cut inside its last part.
	src.writeAt(data[3*ps:], 3*ps)
	s.Ready(6 * ps)
	size := int64(5*ps + 4321)
	if err := src.f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	s.Changed(size, 6*ps)
	res, ok := s.Finish(ctxT(t), size, nil)
	if !ok || res.Err != nil {
		t.Fatalf("Finish: ok %v, %v", ok, res.Err)
	}
	got, err := os.ReadFile(e.local(wire.HomeDir + "/changed.bin"))
	if err != nil || !bytes.Equal(got, data[:size]) {
		t.Fatalf("VM copy differs (%v)", err)
	}
}

// A stream whose file ends smaller than one part declines, and the
// caller uploads as usual; an aborted stream writes nothing.
func TestPartStreamDeclinesAndAborts(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	src := newGrowingFile(t)
	src.writeAt([]byte("small"), 0)
	s := c.NewPartStream(wire.HomeDir+"/small.bin", "stream-3", src.f)
	if _, ok := s.Finish(ctxT(t), 5, nil); ok {
		t.Fatal("Finish of a 5-byte file did not decline")
	}
	big := make([]byte, 2*wire.PartSize)
	src.writeAt(big, 0)
	a := c.NewPartStream(wire.HomeDir+"/aborted.bin", "stream-4", src.f)
	a.Ready(int64(len(big)))
	a.Abort()
	if _, err := os.Stat(e.local(wire.HomeDir + "/aborted.bin")); !os.IsNotExist(err) {
		t.Fatalf("an aborted stream left a file: %v", err)
	}
}
