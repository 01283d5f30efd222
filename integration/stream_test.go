package integration

import (
	"bytes"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// TestLargeWriteUploadsWhileWriting: a file written in order starts
// going to the VM before it is closed; a part rewritten after it went,
// and the tail, are sent at close, and the VM gets the exact bytes.
func TestLargeWriteUploadsWhileWriting(t *testing.T) {
	e := newEnv(t)
	const ps = wire.PartSize
	data := make([]byte, 7*ps+4321)
	rand.New(rand.NewSource(3)).Read(data)
	f, err := os.Create(e.path("stream.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const step = 1 << 20
	for off := 0; off < 6*ps; off += step {
		if _, err := f.Write(data[off : off+step]); err != nil {
			t.Fatal(err)
		}
	}
	// The file is still open: the finished parts go on their own.
	eventually(t, 30*time.Second, "parts uploaded before close", func() bool {
		return e.requests(emulator.EndpointBlobPut) >= 3
	})
	if _, err := os.Stat(e.vm("stream.bin")); !os.IsNotExist(err) {
		t.Fatalf("the file is visible on the VM before close: %v", err)
	}
	// Rewrite bytes of the first part, which went already.
	patch := bytes.Repeat([]byte{0xAB}, 4096)
	copy(data[1000:], patch)
	if _, err := f.WriteAt(patch, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(6*ps, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[6*ps:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close (upload): %v", err)
	}
	if got := e.vmRead("stream.bin"); !bytes.Equal(got, data) {
		t.Fatalf("VM copy differs: %d bytes of %d", len(got), len(data))
	}
	got, err := os.ReadFile(e.path("stream.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back through the mount differs (%v)", err)
	}
	// Each of the 8 parts once, plus the rewritten first part (once more
	// at most, if it had gone before the rewrite).
	if n := e.requests(emulator.EndpointBlobPut); n < 8 || n > 9 {
		t.Fatalf("%d part PUTs for 8 parts", n)
	}
}

// TestLargeWriteRemovedWhileWritingUploadsNothing: a streamed file
// unlinked before close never appears on the VM.
func TestLargeWriteRemovedWhileWritingUploadsNothing(t *testing.T) {
	e := newEnv(t)
	data := make([]byte, 5*wire.PartSize)
	f, err := os.Create(e.path("gone.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "parts uploaded before close", func() bool {
		return e.requests(emulator.EndpointBlobPut) >= 1
	})
	if err := os.Remove(e.path("gone.bin")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(e.vm("gone.bin")); !os.IsNotExist(err) {
		t.Fatalf("an unlinked file reached the VM: %v", err)
	}
}
