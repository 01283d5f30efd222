package transport_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/emulator"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// Packing is exact: a batch planned at exactly wire.MaxSyncBody bytes is
// one request the server accepts, and one byte more makes two.
func TestBatchPackingExact(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	mk := func(pad int) []transport.Upload {
		a := up("/home/user/a", randBytes(wire.ChunkSize))
		b := up("/home/user/b", randBytes(wire.ChunkSize))
		// Fixed-length ids (their length counts), fresh for each round.
		a.UploadID, b.UploadID = strings.Repeat("a", 23)+fmt.Sprint(pad), strings.Repeat("b", 23)+fmt.Sprint(pad)
		used := transport.EnvelopeSize + transport.EntrySize(a) + transport.EntrySize(b) + 2 // two commas
		// The third file: as many bytes as fit, then the name takes up the slack.
		c := up("/home/user/c", nil)
		c.UploadID = strings.Repeat("c", 23) + fmt.Sprint(pad)
		base := transport.EntrySize(c)
		n := (wire.MaxSyncBody - used - base - 16) / 4 * 3 // 16: room for the "data" key
		data := randBytes(n)
		c = transport.Upload{Path: "/home/user/c", UploadID: c.UploadID, Size: int64(n), Source: bytes.NewReader(data)}
		slack := wire.MaxSyncBody - used - transport.EntrySize(c)
		c.Path += strings.Repeat("x", slack+pad)
		if pad == 0 && used+transport.EntrySize(c) != wire.MaxSyncBody {
			t.Fatalf("planned %d bytes, want exactly %d", used+transport.EntrySize(c), wire.MaxSyncBody)
		}
		return []transport.Upload{a, b, c}
	}
	for pad, want := range []int64{1, 2} {
		ups := mk(pad)
		if got := len(transport.PlanBatches(ups, []int{0, 1, 2})); int64(got) != want {
			t.Fatalf("pad %d: planned %d requests, want %d", pad, got, want)
		}
		e.ResetStats()
		mustUpload(t, c, ups...)
		if n := e.requests(emulator.EndpointSyncWrite); n != want {
			t.Fatalf("pad %d: %d sync writes, want %d", pad, n, want)
		}
		for _, u := range ups {
			want := make([]byte, u.Size)
			_, _ = u.Source.ReadAt(want, 0)
			if got, _ := os.ReadFile(e.local(u.Path)); !bytes.Equal(got, want) {
				t.Fatalf("%s differs", u.Path)
			}
		}
	}
}

// Many files of every size: as few requests as fit, each file on its own.
func TestBatchPackingMixed(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	var ups []transport.Upload
	for i := range 5 {
		ups = append(ups, up(fmt.Sprintf("/home/user/big%d", i), randBytes(wire.ChunkSize)))
	}
	for i := range 40 {
		ups = append(ups, up(fmt.Sprintf("/home/user/small%d", i), randBytes(i*100)))
	}
	mustUpload(t, c, ups...)
	// Two 4 MiB files fill most of a request; the small ones fit beside.
	if n := e.requests(emulator.EndpointSyncWrite); n != 3 {
		t.Fatalf("%d sync writes, want 3", n)
	}
	for _, u := range ups {
		want := make([]byte, u.Size)
		_, _ = u.Source.ReadAt(want, 0)
		if got, _ := os.ReadFile(e.local(u.Path)); !bytes.Equal(got, want) {
			t.Fatalf("%s differs", u.Path)
		}
	}
}

// An upload id is one logical write: reusing it with other bytes answers
// the first write's result, which the client refuses as a conflict.
func TestUploadIDReusedWithOtherContent(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	for _, size := range []int{10, wire.ChunkSize + 10} {
		p := fmt.Sprintf("/home/user/f%d", size)
		u := up(p, randBytes(size))
		first := mustUpload(t, c, u)[0]
		u.Source = bytes.NewReader(randBytes(size))
		r := c.Upload(ctxT(t), []transport.Upload{u})[0]
		if transport.CodeOf(r.Err) != transport.CodeConflict {
			t.Fatalf("size %d: reused id: %v, want conflict", size, r.Err)
		}
		if got, _ := os.ReadFile(e.local(p)); fmt.Sprintf("%x", sha256.Sum256(got)) != first.SHA256 {
			t.Fatalf("size %d: the reused id changed the file", size)
		}
	}
}
