package transport_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/emulator"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// Each injected fault is met by a retry, and the write lands exactly once:
// the file has the content, and nothing is left to land later.

var writeFaults = []struct {
	name  string
	fault emulator.Fault
}{
	{"drop", emulator.Fault{Kind: emulator.FaultDrop}},
	{"drop_after", emulator.Fault{Kind: emulator.FaultDropAfter}},
	{"status_503", emulator.Fault{Kind: emulator.FaultStatus, Status: 503, Code: wire.CodeUnavailable}},
	{"status_500", emulator.Fault{Kind: emulator.FaultStatus, Status: 500, Code: wire.CodeInternal}},
	{"status_429", emulator.Fault{Kind: emulator.FaultStatus, Status: 429, Code: wire.CodeResourcePressure}},
	{"truncate", emulator.Fault{Kind: emulator.FaultTruncate}},
	{"delay", emulator.Fault{Kind: emulator.FaultDelay, Delay: 2 * time.Second}},
}

func TestSmallWriteUnderFaults(t *testing.T) {
	for _, f := range writeFaults {
		t.Run(f.name, func(t *testing.T) {
			e := newEmu(t)
			c := e.client(t, func(c *transport.Config) { c.RequestTimeout = 500 * time.Millisecond })
			f.fault.Endpoint, f.fault.Times = emulator.EndpointSyncWrite, 2
			e.InjectFault(f.fault)
			data := randBytes(1000)
			mustUpload(t, c, up("/home/user/f", data))
			if got, _ := os.ReadFile(e.local("/home/user/f")); !bytes.Equal(got, data) {
				t.Fatal("content differs")
			}
			if n := e.requests(emulator.EndpointSyncWrite); n != 3 {
				t.Fatalf("%d sync writes, want 3 (two faults, then success)", n)
			}
		})
	}
}

func TestLargeWriteUnderFaults(t *testing.T) {
	for _, ep := range []string{emulator.EndpointBlobPut, emulator.EndpointSyncWrite} {
		for _, f := range writeFaults {
			t.Run(ep+"/"+f.name, func(t *testing.T) {
				e := newEmu(t)
				c := e.client(t, func(c *transport.Config) { c.RequestTimeout = 500 * time.Millisecond; c.MaxParallel = 3 })
				f.fault.Endpoint, f.fault.Times = ep, 2
				if ep == emulator.EndpointSyncWrite {
					f.fault.After = 1 // the commit, not the presign
				} else {
					f.fault.After = 2 // two parts in
				}
				e.InjectFault(f.fault)
				data := randBytes(4*wire.PartSize + 1)
				mustUpload(t, c, up("/home/user/big", data))
				if got, _ := os.ReadFile(e.local("/home/user/big")); !bytes.Equal(got, data) {
					t.Fatal("content differs")
				}
			})
		}
	}
}

// TestRetriedCommitDoesNotClobber: a commit whose answer is lost lands;
// the retry answers the stored result. A later write of the same path
// stands even when the first upload is sent again with its id.
func TestRetriedCommitDoesNotClobber(t *testing.T) {
	for _, size := range []int{100, 2*wire.PartSize + 5} {
		e := newEmu(t)
		c := e.client(t)
		p := "/home/user/f"
		first := up(p, randBytes(size))
		after := 0
		if size > wire.ChunkSize {
			after = 1 // presign, then the commit
		}
		e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointSyncWrite, Kind: emulator.FaultDropAfter, After: after})
		r1 := mustUpload(t, c, first)[0]
		second := randBytes(size)
		r2 := mustUpload(t, c, up(p, second))[0]
		if r1.Version == r2.Version {
			t.Fatal("the second write did not change the version")
		}
		// A late resend of the first upload (same id, same bytes).
		r3 := c.Upload(ctxT(t), []transport.Upload{first})[0]
		if r3.Err != nil || r3.Version != r1.Version {
			t.Fatalf("resend of the first upload: %+v, want its stored result %s", r3, r1.Version)
		}
		if got, _ := os.ReadFile(e.local(p)); !bytes.Equal(got, second) {
			t.Fatalf("size %d: the resent upload clobbered the later write", size)
		}
	}
}

func TestReadUnderFaults(t *testing.T) {
	for _, tc := range []struct {
		ep    string
		fault emulator.FaultKind
	}{
		{emulator.EndpointSyncRead, emulator.FaultDrop},
		{emulator.EndpointSyncRead, emulator.FaultTruncate},
		{emulator.EndpointSyncRead, emulator.FaultStatus},
		{emulator.EndpointBlobGet, emulator.FaultDrop},
		{emulator.EndpointBlobGet, emulator.FaultTruncate},
		{emulator.EndpointBlobGet, emulator.FaultStatus},
		{emulator.EndpointBlobGet, emulator.FaultDropAfter},
	} {
		t.Run(tc.ep+"/"+string(tc.fault), func(t *testing.T) {
			e := newEmu(t)
			c := e.client(t)
			big := randBytes(2<<20 + 3)
			small := []byte("small file")
			e.writeLocal(t, "/home/user/big", big)
			e.writeLocal(t, "/home/user/small", small)
			e.InjectFault(emulator.Fault{Endpoint: tc.ep, Kind: tc.fault, Times: 2})
			if got := readAll(t, c, "/home/user/small"); !bytes.Equal(got, small) {
				t.Fatal("small file differs")
			}
			if got := readAll(t, c, "/home/user/big"); !bytes.Equal(got, big) {
				t.Fatal("big file differs")
			}
		})
	}
}

func TestRetriesDisabled(t *testing.T) {
	e := newEmu(t)
	c := e.client(t, func(c *transport.Config) { c.Retry = transport.RetryPolicy{Attempts: 1} })
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointSyncWrite, Kind: emulator.FaultStatus, Status: 503})
	r := c.Upload(ctxT(t), []transport.Upload{up("/home/user/f", []byte("x"))})[0]
	if transport.CodeOf(r.Err) != transport.CodeUnavailable || r.Err.(*transport.Error).Status != 503 {
		t.Fatalf("upload under 503 without retries: %v", r.Err)
	}
	if n := e.requests(emulator.EndpointSyncWrite); n != 1 {
		t.Fatalf("%d attempts with retries off", n)
	}
	if _, err := os.Stat(e.local("/home/user/f")); !os.IsNotExist(err) {
		t.Fatal("the refused write landed")
	}
	// And the same upload, sent again, lands.
	mustUpload(t, c, up("/home/user/f", []byte("x")))
}

func TestRetriesGiveUp(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointSyncRead, Kind: emulator.FaultStatus, Status: 503, Times: -1})
	if _, err := c.Open(ctxT(t), "/home/user/x"); transport.CodeOf(err) != transport.CodeUnavailable {
		t.Fatalf("persistent 503: %v", err)
	}
	if n := e.requests(emulator.EndpointSyncRead); n != int64(fastRetry.Attempts) {
		t.Fatalf("%d attempts, want %d", n, fastRetry.Attempts)
	}
	e.ClearFaults()
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointSyncRead, Kind: emulator.FaultStatus, Status: 400, Code: wire.CodeBadRequest, Times: -1})
	e.ResetStats()
	if _, err := c.Open(ctxT(t), "/home/user/x"); transport.CodeOf(err) != transport.CodeBadRequest {
		t.Fatalf("400: %v", err)
	}
	if n := e.requests(emulator.EndpointSyncRead); n != 1 {
		t.Fatalf("a permanent error was retried: %d attempts", n)
	}
}

// countRuns is a command that appends a line to a file per execution and
// prints the count.
const countRuns = "echo x >> runs.log; wc -l < runs.log"

func TestRunRetriedOnlyWithKey(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	// With a key, a run whose answer is lost is retried and runs once.
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRun, Kind: emulator.FaultDropAfter})
	r, err := c.Run(ctxT(t), countRuns, transport.RunOptions{Timeout: 10 * time.Second, IdempotencyKey: newID()})
	if err != nil || string(bytes.TrimSpace(r.Stdout)) != "1" {
		t.Fatalf("keyed run under drop_after: %v %+v", err, r)
	}
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRun, Kind: emulator.FaultStatus, Status: 503})
	if r, err = c.Run(ctxT(t), countRuns, transport.RunOptions{IdempotencyKey: newID()}); err != nil || string(bytes.TrimSpace(r.Stdout)) != "2" {
		t.Fatalf("keyed run under 503: %v %+v", err, r)
	}
	// Without a key it is never repeated.
	e.ResetStats()
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRun, Kind: emulator.FaultStatus, Status: 503})
	if _, err := c.Run(ctxT(t), countRuns, transport.RunOptions{}); transport.CodeOf(err) != transport.CodeUnavailable {
		t.Fatalf("unkeyed run under 503: %v", err)
	}
	if n := e.requests(emulator.EndpointRun); n != 1 {
		t.Fatalf("an unkeyed run was sent %d times", n)
	}
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRun, Kind: emulator.FaultDropAfter})
	if _, err := c.Run(ctxT(t), countRuns, transport.RunOptions{}); transport.CodeOf(err) != transport.CodeNetworkError {
		t.Fatalf("unkeyed run under drop_after: %v", err)
	}
	if got, _ := os.ReadFile(e.local("/home/user/runs.log")); string(got) != "x\nx\nx\n" {
		t.Fatalf("runs.log = %q, want three runs", got)
	}
}
