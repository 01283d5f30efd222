package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/wire"
)

// packSizes are the SDKs' test sizes around the chunk size.
var packSizes = []int{0, 5, wire.ChunkSize + 1, 20<<20 + 1}

// TestChunkPacking: every file's chunks are at most a chunk each, under
// one upload_id per file, in order, with the file's sha256; requests
// carry at most wire.ClientSyncRequestContent decoded bytes and pack
// several files. Lineage A (no /sync-stream) sends every file so.
func TestChunkPacking(t *testing.T) {
	e := newEmu(t, wire.LineageA)
	c := e.client(t)
	var ups []transport.Upload
	datas := map[string][]byte{}
	for _, n := range packSizes {
		d := randBytes(n)
		p := vm("p" + sizeName(n))
		datas[p] = d
		ups = append(ups, up(p, d))
	}
	mustUpload(t, c, ups...)
	for p, d := range datas {
		if got := e.readLocal(t, p); !bytes.Equal(got, d) {
			t.Errorf("%s differs", p)
		}
	}
	_, writes, _ := e.rec.snapshot()
	if len(writes) != 2 {
		t.Errorf("%d write requests for %d bytes, want 2", len(writes), 0+5+wire.ChunkSize+1+20<<20+1)
	}
	type fileState struct {
		tmp, id string
		next    int64
	}
	files := map[int64]*fileState{} // by size: each size once
	ids := map[string]bool{}
	for k, req := range writes {
		var total int64
		for _, ch := range req {
			total += ch.decoded
			if ch.decoded > wire.ChunkSize || ch.end-ch.start != ch.decoded {
				t.Errorf("request %d: chunk [%d,%d) of %d bytes", k, ch.start, ch.end, ch.decoded)
			}
			f := files[ch.size]
			if f == nil {
				f = &fileState{tmp: ch.path, id: ch.uploadID}
				files[ch.size] = f
				if ids[ch.uploadID] {
					t.Errorf("upload id %s used for two files", ch.uploadID)
				}
				ids[ch.uploadID] = true
			}
			if ch.path != f.tmp || ch.uploadID != f.id || ch.start != f.next || len(ch.uploadID) != 26 {
				t.Errorf("chunk %+v out of place (file at %d under %s)", ch, f.next, f.id)
			}
			if !strings.Contains(ch.path, "/.arkerfs-") || !strings.HasSuffix(ch.path, ".tmp") {
				t.Errorf("chunk written to %q, not a temporary name", ch.path)
			}
			if want := shaHex(datas[vm("p"+sizeName(int(ch.size)))]); ch.sha256 != want {
				t.Errorf("chunk of the %d-byte file carries sha256 %q", ch.size, ch.sha256)
			}
			f.next = ch.end
		}
		if total > wire.ClientSyncRequestContent {
			t.Errorf("request %d carries %d decoded bytes", k, total)
		}
	}
	for size, f := range files {
		if f.next != size {
			t.Errorf("the %d-byte file's chunks end at %d", size, f.next)
		}
	}
	if len(files) != len(packSizes) {
		t.Errorf("%d files written, want %d", len(files), len(packSizes))
	}
	if n := e.requests(emulator.EndpointRunsCreate); n != 1 {
		t.Errorf("%d runs to install %d files, want 1", n, len(packSizes))
	}
	e.noTemporaries(t, emulator.HomeDir)
}

// TestStreamOrChunks: lineage B sends files larger than a chunk through
// /sync-stream; lineage A has no such route (404), which the client
// learns once and then sends chunks. A 413 sends that file as chunks,
// and larger ones as chunks from then on.
func TestStreamOrChunks(t *testing.T) {
	streams := func(e *emu) int {
		_, _, paths := e.rec.snapshot()
		n := 0
		for _, p := range paths {
			if strings.HasSuffix(p, wire.SuffixSyncStream) {
				n++
			}
		}
		return n
	}
	t.Run("lineage=a", func(t *testing.T) {
		e := newEmu(t, wire.LineageA)
		c := e.client(t)
		for i := range 2 {
			d := randBytes(6 << 20)
			mustUpload(t, c, up(vm(fmt.Sprint(i)), d))
			if !bytes.Equal(e.readLocal(t, vm(fmt.Sprint(i))), d) {
				t.Fatal("content differs")
			}
		}
		if n := streams(e); n != 1 {
			t.Errorf("%d /sync-stream requests, want 1 (then remembered)", n)
		}
	})
	t.Run("lineage=b", func(t *testing.T) {
		e := newEmu(t, wire.LineageB)
		c := e.client(t)
		small, big := randBytes(100), randBytes(6<<20)
		mustUpload(t, c, up(vm("small"), small), up(vm("big"), big))
		if !bytes.Equal(e.readLocal(t, vm("big")), big) || !bytes.Equal(e.readLocal(t, vm("small")), small) {
			t.Fatal("content differs")
		}
		_, writes, _ := e.rec.snapshot()
		if n := e.requests(emulator.EndpointSyncStream); n != 1 || len(writes) != 1 || len(writes[0]) != 1 {
			t.Errorf("%d streams, writes %+v: want the big file streamed and the small one written", n, writes)
		}
		e.noTemporaries(t, emulator.HomeDir)
	})
	t.Run("lineage=b/413", func(t *testing.T) {
		e := newEmu(t, wire.LineageB, func(o *emulator.Options) { o.StreamMax = 8 << 20 })
		c := e.client(t)
		for _, n := range []int{10 << 20, 12 << 20, 6 << 20} {
			d := randBytes(n)
			mustUpload(t, c, up(vm(sizeName(n)), d))
			if !bytes.Equal(e.readLocal(t, vm(sizeName(n))), d) {
				t.Fatal("content differs")
			}
		}
		if n := e.requests(emulator.EndpointSyncStream); n != 2 {
			t.Errorf("%d streams, want 2 (10 MiB refused, 12 MiB not tried, 6 MiB streamed)", n)
		}
	})
}

// writeFaults are met by retries of the chunk writes.
var writeFaults = []emulator.Fault{
	{Kind: emulator.FaultDrop},
	{Kind: emulator.FaultDropAfter},
	{Kind: emulator.FaultStatus, Code: wire.CodeUnavailable},
	{Kind: emulator.FaultStatus, Code: wire.CodeRateLimited},
	{Kind: emulator.FaultStatus, Code: wire.CodeGatewayTimeout},
	{Kind: emulator.FaultTruncate},
	{Kind: emulator.FaultDelay, Delay: 2 * time.Second},
}

// TestWriteFaults: each fault is met by a retry of the same chunks, and
// the file lands once.
func TestWriteFaults(t *testing.T) {
	eachLineage(t, func(t *testing.T, lin wire.Lineage) {
		for _, f := range writeFaults {
			if lin == wire.LineageB && f.Code == wire.CodeGatewayTimeout {
				f.Code = wire.CodeBadGateway // lineage B has no gateway_timeout
			}
			t.Run(string(f.Kind)+"/"+f.Code, func(t *testing.T) {
				e := newEmu(t, lin)
				c := e.client(t, func(c *transport.Config) { c.RequestTimeout = 500 * time.Millisecond })
				f.Endpoint, f.Times = emulator.EndpointSyncWrite, 2
				e.InjectFault(f)
				d := randBytes(1000)
				mustUpload(t, c, up(vm("f"), d))
				if !bytes.Equal(e.readLocal(t, vm("f")), d) {
					t.Fatal("content differs")
				}
				if n := e.requests(emulator.EndpointSyncWrite); n != 3 {
					t.Errorf("%d sync writes, want 3 (two faults, then success)", n)
				}
			})
		}
	})
}

// TestWritePermanentFault: a refusal is not retried and fails the files
// of that request only.
func TestWritePermanentFault(t *testing.T) {
	e := newEmu(t, wire.LineageA)
	c := e.client(t)
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointSyncWrite, Kind: emulator.FaultStatus, Code: wire.CodeForbidden})
	res := c.Upload(ctxT(t), []transport.Upload{up(vm("a"), []byte("a"))})
	if transport.CodeOf(res[0].Err) != transport.CodeForbidden || e.requests(emulator.EndpointSyncWrite) != 1 {
		t.Fatalf("forbidden write: %v after %d requests", res[0].Err, e.requests(emulator.EndpointSyncWrite))
	}
	if _, err := os.Stat(e.local(vm("a"))); err == nil {
		t.Error("the file was installed")
	}
}

// TestStreamFaults: a raw upload carries no key, so it is never repeated
// blindly: a failure without an answer, or a transient answer, sends the
// file as chunk writes instead (its temporary name is ours alone).
func TestStreamFaults(t *testing.T) {
	for _, f := range []emulator.Fault{{Kind: emulator.FaultDrop}, {Kind: emulator.FaultDropAfter},
		{Kind: emulator.FaultStatus, Code: wire.CodeUnavailable}} {
		t.Run(string(f.Kind), func(t *testing.T) {
			e := newEmu(t, wire.LineageB)
			c := e.client(t)
			f.Endpoint = emulator.EndpointSyncStream
			e.InjectFault(f)
			d := randBytes(5 << 20)
			mustUpload(t, c, up(vm("f"), d))
			if !bytes.Equal(e.readLocal(t, vm("f")), d) {
				t.Fatal("content differs")
			}
			if s, w := e.requests(emulator.EndpointSyncStream), e.requests(emulator.EndpointSyncWrite); s != 1 || w != 1 {
				t.Errorf("%d streams and %d chunk write requests, want 1 and 1", s, w)
			}
			e.noTemporaries(t, emulator.HomeDir)
		})
	}
}

// TestUploadTarWays: lineage B unpacks on the server; lineage A uploads
// the archive to /tmp by chunks and unpacks it with a run, leaving
// nothing in /tmp, also when unpacking fails.
func TestUploadTarWays(t *testing.T) {
	eachLineage(t, func(t *testing.T, lin wire.Lineage) {
		tmp := t.TempDir()
		e := newEmu(t, lin, func(o *emulator.Options) { o.Mounts = map[string]string{"/tmp": tmp} })
		c := e.client(t)
		tarball := makeTar(t, map[string][]byte{"a/b.txt": []byte("b")}, nil, nil)
		if err := c.UploadTar(ctxT(t), vm("x"), bytes.NewReader(tarball), int64(len(tarball))); err != nil {
			t.Fatal(err)
		}
		if got := e.readLocal(t, vm("x/a/b.txt")); string(got) != "b" {
			t.Fatalf("unpacked %q", got)
		}
		streamed, runs := e.requests(emulator.EndpointSyncStream), e.requests(emulator.EndpointRunsCreate)
		if lin == wire.LineageB && (streamed != 1 || runs != 0) || lin == wire.LineageA && runs != 1 {
			t.Errorf("%d streams, %d runs", streamed, runs)
		}
		bad := bytes.Repeat([]byte("not a tar archive "), 100)
		err := c.UploadTar(ctxT(t), vm("y"), bytes.NewReader(bad), int64(len(bad)))
		if err == nil || transport.IsRetryable(err) {
			t.Errorf("a broken archive: %v", err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%d files left in /tmp", len(left))
		}
		e.checkSessions(t, c)
	})
}

// TestUploadTarUnknownOutcome: a raw tar upload whose answer is lost is
// reconciled with one manifest, never sent again: it succeeds when every
// file landed, and is an unknown outcome when they did not.
func TestUploadTarUnknownOutcome(t *testing.T) {
	for _, c := range []struct {
		kind   emulator.FaultKind
		landed bool
	}{{emulator.FaultDropAfter, true}, {emulator.FaultDrop, false}} {
		t.Run(string(c.kind), func(t *testing.T) {
			e := newEmu(t, wire.LineageB)
			cl := e.client(t)
			e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointSyncStream, Kind: c.kind})
			tarball := makeTar(t, map[string][]byte{"f": []byte("f"), "d/g": []byte("gg")}, nil, nil)
			err := cl.UploadTar(ctxT(t), vm("x"), bytes.NewReader(tarball), int64(len(tarball)))
			switch {
			case c.landed && err != nil:
				t.Fatalf("the archive landed, but: %v", err)
			case !c.landed && (transport.CodeOf(err) != transport.CodeUnknownOutcome || transport.IsRetryable(err)):
				t.Fatalf("lost request: %v", err)
			}
			if n, m := e.requests(emulator.EndpointSyncStream), e.requests(emulator.EndpointSyncManifest); n != 1 || m != 1 {
				t.Errorf("%d stream and %d manifest requests, want 1 and 1", n, m)
			}
		})
	}
}

// TestEntryResults drives the per-entry checks with a raw server: a
// transient per-entry error retries the request, a permanent one fails
// its file only, and a final chunk not complete and written fails.
func TestEntryResults(t *testing.T) {
	var n atomic.Int64
	var mu sync.Mutex
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, wire.SuffixSync) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var req wire.SyncWriteRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		defer mu.Unlock()
		attempt := n.Add(1)
		resp := wire.SyncWriteResponse{OK: true, Op: wire.OpWrite}
		for _, wr := range req.Writes {
			res := wire.SyncWriteResult{Path: wr.Path, Size: wr.Size, ReceivedBytes: wr.End, Ranges: []wire.ByteRange{{Start: 0, End: wr.End}},
				Complete: wr.End == wr.Size, Written: wr.End == wr.Size}
			switch {
			case attempt == 1:
				res.Error = &wire.EntryError{Code: wire.CodeUnavailable, Message: "try again"}
			case wr.Size == 1:
				res.Error = &wire.EntryError{Code: wire.CodeBadRequest, Message: "checksum mismatch"}
			case wr.Size == 2:
				res.Written = false
			}
			resp.Results = append(resp.Results, res)
		}
		_ = json.NewEncoder(w).Encode(resp)
	})
	c := rawClient(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := c.Upload(ctx, []transport.Upload{up("/home/user/one", []byte("1")), up("/home/user/two", []byte("22")), up("/home/user/three", []byte("333"))})
	if n.Load() != 2 {
		t.Errorf("%d write requests, want 2 (a transient per-entry error, then again)", n.Load())
	}
	if transport.CodeOf(res[0].Err) != transport.CodeBadRequest {
		t.Errorf("per-entry refusal: %v", res[0].Err)
	}
	if res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "did not complete") {
		t.Errorf("final chunk not written: %v", res[1].Err)
	}
	// The third file was written; its install run fails on this server.
	if res[2].Err == nil || transport.CodeOf(res[2].Err) == transport.CodeBadRequest {
		t.Errorf("third file: %v", res[2].Err)
	}
}

// TestUploadBatcherGroups: uploads that become ready together share
// requests and one install run.
func TestUploadBatcherGroups(t *testing.T) {
	e := newEmu(t, wire.LineageA, func(o *emulator.Options) { o.Latency = 20 * time.Millisecond })
	c := e.client(t)
	b := transport.NewUploadBatcher(c)
	const n = 32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if r := b.Do(ctxT(t), up(vm(fmt.Sprintf("u%02d", i)), []byte(fmt.Sprint(i)))); r.Err != nil {
				t.Error(r.Err)
			}
		}()
	}
	close(start)
	wg.Wait()
	w, r := e.requests(emulator.EndpointSyncWrite), e.requests(emulator.EndpointRunsCreate)
	t.Logf("%d uploads: %d write requests, %d install runs", n, w, r)
	if w > n/4 || r > n/4 {
		t.Errorf("%d write requests and %d runs for %d concurrent uploads", w, r, n)
	}
}

// gatedReader serves data once open is closed; the first read says it
// started.
type gatedReader struct {
	data    []byte
	open    chan struct{}
	started chan struct{}
	once    sync.Once
}

func (g *gatedReader) ReadAt(p []byte, off int64) (int, error) {
	g.once.Do(func() { close(g.started) })
	<-g.open
	return bytes.NewReader(g.data).ReadAt(p, off)
}

// A large upload goes on its own: a small one made while it is in flight
// does not wait for its bytes.
func TestUploadBatcherLargeGoesAlone(t *testing.T) {
	e := newEmu(t, wire.LineageA)
	c := e.client(t)
	b := transport.NewUploadBatcher(c)
	big := &gatedReader{data: bytes.Repeat([]byte("L"), 8<<20), open: make(chan struct{}), started: make(chan struct{})}
	bigDone := make(chan transport.UploadResult, 1)
	go func() {
		bigDone <- b.Do(ctxT(t), transport.Upload{Path: vm("large"), Size: int64(len(big.data)), Source: big})
	}()
	select {
	case <-big.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the large upload did not start")
	}
	if r := b.Do(ctxT(t), up(vm("small"), []byte("s"))); r.Err != nil {
		t.Fatalf("small upload while a large one waits for its bytes: %v", r.Err)
	}
	close(big.open)
	select {
	case r := <-bigDone:
		if r.Err != nil {
			t.Fatalf("large upload: %v", r.Err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the large upload did not end")
	}
	if got := e.readLocal(t, vm("large")); !bytes.Equal(got, big.data) {
		t.Errorf("the large file has %d bytes", len(got))
	}
}
