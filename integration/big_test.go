package integration

import (
	"crypto/sha256"
	"io"
	"math/rand"
	"os"
	"testing"
)

// TestOneGiBRoundTrip writes 1 GiB through the mount, checks the VM copy
// and reads it back, comparing sha256 digests.
func TestOneGiBRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB round trip skipped in -short mode")
	}
	e := newEnv(t)
	const size = 1 << 30
	f, err := os.Create(e.path("big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	src := rand.New(rand.NewSource(1))
	buf := make([]byte, 1<<20)
	for n := 0; n < size; n += len(buf) {
		src.Read(buf)
		h.Write(buf)
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close (upload): %v", err)
	}
	want := h.Sum(nil)
	for _, p := range []string{e.vm("big.bin"), e.path("big.bin")} {
		g, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		h2 := sha256.New()
		n, err := io.Copy(h2, g)
		g.Close()
		if err != nil || n != size || string(h2.Sum(nil)) != string(want) {
			t.Fatalf("%s: %d bytes, %v, digest mismatch=%v", p, n, err, string(h2.Sum(nil)) != string(want))
		}
	}
}
