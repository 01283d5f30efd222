package transport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/emulator"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// The conformance suite (restic's backend test suite is the model): each
// test is a function of a target, run against the emulator always and
// against a live VM when ARKER_TEST_BASE_URL, ARKER_API_KEY and
// ARKER_TEST_VM are set. Tests that need the emulator's knobs (faults,
// its home directory, its counters) are not part of it; they live in the
// other test files.

// target is a VM the suite runs against.
type target struct {
	name   string
	client *transport.Client
	dir    string // a fresh directory on the VM for this test's files
	emu    *emu   // nil for a live VM
}

// path is a VM path in the test's directory.
func (tg *target) path(name string) string { return tg.dir + "/" + name }

// suite lists the conformance tests.
var suite = []struct {
	name string
	fn   func(t *testing.T, tg *target)
}{
	{"DescribeVM", testDescribeVM},
	{"InlineRoundTrip", testInlineRoundTrip},
	{"EmptyFile", testEmptyFile},
	{"PresignedRangedReads", testPresignedRangedReads},
	{"LargeUploadRoundTrip", testLargeUploadRoundTrip},
	{"BatchUpload", testBatchUpload},
	{"OverwriteChangesVersion", testOverwriteChangesVersion},
	{"StaleAfterChange", testStaleAfterChange},
	{"NotFoundAndIsDir", testNotFoundAndIsDir},
	{"NonUTF8Path", testNonUTF8Path},
	{"RunOutput", testRunOutput},
	{"RunNonUTF8Output", testRunNonUTF8Output},
	{"RunTimeout", testRunTimeout},
	{"RunIdempotent", testRunIdempotent},
	{"ConcurrentReadAt", testConcurrentReadAt},
}

func TestConformanceEmulator(t *testing.T) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			e := newEmu(t)
			tg := &target{name: "emulator", client: e.client(t), emu: e, dir: wire.HomeDir + "/t"}
			if err := os.Mkdir(e.local(tg.dir), 0o755); err != nil {
				t.Fatal(err)
			}
			tc.fn(t, tg)
		})
	}
}

func TestConformanceLive(t *testing.T) {
	base, key, vm := os.Getenv("ARKER_TEST_BASE_URL"), os.Getenv("ARKER_API_KEY"), os.Getenv("ARKER_TEST_VM")
	if base == "" || key == "" || vm == "" {
		t.Skip("live VM not configured: set ARKER_TEST_BASE_URL, ARKER_API_KEY and ARKER_TEST_VM to run the suite against it")
	}
	c, err := transport.New(transport.Config{APIKey: key, BaseURL: base, VMID: vm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			dir := fmt.Sprintf("%s/.arkerfs-test-%s", wire.HomeDir, newID())
			if _, err := c.Run(ctxT(t), "mkdir -p '"+dir+"'", transport.RunOptions{Timeout: 30 * time.Second}); err != nil {
				t.Fatalf("mkdir: %v", err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				_, _ = c.Run(ctx, "rm -rf '"+dir+"'", transport.RunOptions{Timeout: 60 * time.Second})
			})
			tc.fn(t, &target{name: "live", client: c, dir: dir})
		})
	}
}

func testDescribeVM(t *testing.T, tg *target) {
	vm, err := tg.client.DescribeVM(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if vm.ID != tg.client.Config().VMID || vm.State == "" {
		t.Fatalf("DescribeVM = %+v", vm)
	}
}

func testInlineRoundTrip(t *testing.T, tg *target) {
	data := []byte("hello, VM\n")
	p := tg.path("a.txt")
	res := mustUpload(t, tg.client, up(p, data))
	sum := sha256.Sum256(data)
	if res[0].Size != int64(len(data)) || res[0].SHA256 != fmt.Sprintf("%x", sum) || res[0].Version == "" {
		t.Fatalf("result %+v", res[0])
	}
	o, err := tg.client.Open(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if o.Inline == nil || o.Version != res[0].Version || o.Size != int64(len(data)) {
		t.Fatalf("object %+v, want inline, version %s", o, res[0].Version)
	}
	buf := make([]byte, 4)
	n, err := tg.client.ReadAt(ctxT(t), o, buf, 7)
	if n != 3 || err != io.EOF || string(buf[:n]) != "VM\n" {
		t.Fatalf("ReadAt at 7 = %d %v %q, want 3 EOF \"VM\\n\"", n, err, buf[:n])
	}
	if n, err := tg.client.ReadAt(ctxT(t), o, buf, int64(len(data))); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at end = %d %v", n, err)
	}
}

func testEmptyFile(t *testing.T, tg *target) {
	p := tg.path("empty")
	mustUpload(t, tg.client, up(p, nil))
	if got := readAll(t, tg.client, p); len(got) != 0 {
		t.Fatalf("empty file read %d bytes", len(got))
	}
}

func testPresignedRangedReads(t *testing.T, tg *target) {
	data := randBytes(3<<20 + 12345) // over the inline limit, inline upload
	p := tg.path("big.bin")
	mustUpload(t, tg.client, up(p, data))
	o, err := tg.client.Open(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if o.Inline != nil {
		t.Fatal("a 3 MiB file answered inline")
	}
	for _, r := range []struct{ off, n int64 }{{0, 1}, {1, 7}, {4095, 4097}, {1<<20 + 3, 1<<20 + 5}, {int64(len(data)) - 1, 1}, {0, int64(len(data))}} {
		buf := make([]byte, r.n)
		n, err := tg.client.ReadAt(ctxT(t), o, buf, r.off)
		if err != nil && !(err == io.EOF && r.off+r.n == int64(len(data))) {
			t.Fatalf("ReadAt(%d, %d): %v", r.off, r.n, err)
		}
		if int64(n) != r.n || !bytes.Equal(buf, data[r.off:r.off+r.n]) {
			t.Fatalf("ReadAt(%d, %d) = %d bytes, content differs", r.off, r.n, n)
		}
	}
	// A read past the end is short, with io.EOF.
	buf := make([]byte, 100)
	n, err := tg.client.ReadAt(ctxT(t), o, buf, int64(len(data))-10)
	if n != 10 || err != io.EOF || !bytes.Equal(buf[:10], data[len(data)-10:]) {
		t.Fatalf("read over the end = %d, %v", n, err)
	}
}

func testLargeUploadRoundTrip(t *testing.T, tg *target) {
	data := randBytes(3*wire.PartSize + 777) // four parts
	p := tg.path("large.bin")
	res := mustUpload(t, tg.client, up(p, data))
	if want := fmt.Sprintf("%x", sha256.Sum256(data)); res[0].SHA256 != want {
		t.Fatalf("sha256 %s, want %s", res[0].SHA256, want)
	}
	if got := readAll(t, tg.client, p); !bytes.Equal(got, data) {
		t.Fatal("large file read back differs")
	}
}

func testBatchUpload(t *testing.T, tg *target) {
	var ups []transport.Upload
	want := map[string][]byte{}
	for i := range 20 {
		d := randBytes(i * 997)
		p := tg.path(fmt.Sprintf("f%02d", i))
		ups = append(ups, up(p, d))
		want[p] = d
	}
	ups = append(ups, up(tg.path("no/such/dir/x"), []byte("x"))) // fails alone
	var before int64
	if tg.emu != nil {
		before = tg.emu.requests(emulator.EndpointSyncWrite)
	}
	res := tg.client.Upload(ctxT(t), ups)
	if tg.emu != nil {
		if n := tg.emu.requests(emulator.EndpointSyncWrite) - before; n != 1 {
			t.Errorf("21 small files took %d sync writes, want 1", n)
		}
	}
	for i, r := range res {
		if r.Path != ups[i].Path {
			t.Fatalf("result %d is for %q, want %q", i, r.Path, ups[i].Path)
		}
		if i == len(res)-1 {
			if !transport.IsNotFound(r.Err) {
				t.Fatalf("upload into a missing directory: %v, want not found", r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("upload %q: %v", r.Path, r.Err)
		}
	}
	for p, d := range want {
		if got := readAll(t, tg.client, p); !bytes.Equal(got, d) {
			t.Fatalf("%s read back differs", p)
		}
	}
}

func testOverwriteChangesVersion(t *testing.T, tg *target) {
	p := tg.path("v")
	r1 := mustUpload(t, tg.client, up(p, []byte("one")))
	r2 := mustUpload(t, tg.client, up(p, []byte("two!")))
	if r1[0].Version == r2[0].Version {
		t.Fatal("overwrite kept the version")
	}
	if got := readAll(t, tg.client, p); string(got) != "two!" {
		t.Fatalf("read %q", got)
	}
}

func testStaleAfterChange(t *testing.T, tg *target) {
	p := tg.path("changing.bin")
	mustUpload(t, tg.client, up(p, randBytes(2<<20)))
	o, err := tg.client.Open(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if _, err := tg.client.ReadAt(ctxT(t), o, buf, 10); err != nil {
		t.Fatal(err)
	}
	mustUpload(t, tg.client, up(p, randBytes(2<<20)))
	_, err = tg.client.ReadAt(ctxT(t), o, buf, 20)
	if transport.CodeOf(err) != transport.CodeStale {
		t.Fatalf("read after the file changed: %v, want stale", err)
	}
	// Stale for good: a later read fails the same way without asking.
	if _, err := tg.client.ReadAt(ctxT(t), o, buf, 0); transport.CodeOf(err) != transport.CodeStale {
		t.Fatalf("second read: %v, want stale", err)
	}
}

func testNotFoundAndIsDir(t *testing.T, tg *target) {
	_, err := tg.client.Open(ctxT(t), tg.path("missing"))
	if !transport.IsNotFound(err) {
		t.Fatalf("Open missing: %v", err)
	}
	var e *transport.Error
	if !errors.As(err, &e) || e.Op == "" || e.Path != tg.path("missing") || e.Status != 404 {
		t.Fatalf("error fields: %#v", e)
	}
	if _, err := tg.client.Open(ctxT(t), tg.dir); transport.CodeOf(err) != transport.CodeIsDir {
		t.Fatalf("Open dir: %v, want is_dir", err)
	}
	if _, err := tg.client.Open(ctxT(t), "/etc/passwd"); transport.CodeOf(err) != transport.CodeBadRequest {
		t.Fatalf("Open outside home: %v, want bad_request", err)
	}
}

func testNonUTF8Path(t *testing.T, tg *target) {
	p := tg.path("caf\xe9 \xff'$(x)\n")
	mustUpload(t, tg.client, up(p, []byte("latin-1")))
	if got := readAll(t, tg.client, p); string(got) != "latin-1" {
		t.Fatalf("read %q", got)
	}
	big := randBytes(wire.ChunkSize + 1)
	mustUpload(t, tg.client, up(p, big))
	if got := readAll(t, tg.client, p); !bytes.Equal(got, big) {
		t.Fatal("large file under a non-UTF-8 name differs")
	}
}

func testRunOutput(t *testing.T, tg *target) {
	r, err := tg.client.Run(ctxT(t), "echo out; echo err >&2; exit 3", transport.RunOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" || r.ExitCode != 3 || r.State != wire.RunCompleted || r.RunID == "" {
		t.Fatalf("run = %+v", r)
	}
}

func testRunNonUTF8Output(t *testing.T, tg *target) {
	r, err := tg.client.Run(ctxT(t), `printf 'a\377\000b'; printf '\351' >&2`, transport.RunOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Stdout, []byte("a\xff\x00b")) || !bytes.Equal(r.Stderr, []byte("\xe9")) {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
}

func testRunTimeout(t *testing.T, tg *target) {
	start := time.Now()
	r, err := tg.client.Run(ctxT(t), "echo started; sleep 30", transport.RunOptions{Timeout: 500 * time.Millisecond})
	if transport.CodeOf(err) != transport.CodeTimeout {
		t.Fatalf("run past its timeout: %v, want timeout", err)
	}
	if r == nil || r.State != wire.RunFailed || r.FailReason != "timeout" || !strings.Contains(string(r.Stdout), "started") {
		t.Fatalf("result %+v", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("timed-out run took %v", d)
	}
}

func testRunIdempotent(t *testing.T, tg *target) {
	opt := transport.RunOptions{Timeout: 20 * time.Second, IdempotencyKey: newID()}
	cmd := "echo $$ >> '" + tg.dir + "/runs'; cat '" + tg.dir + "/runs'"
	r1, err := tg.client.Run(ctxT(t), cmd, opt)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := tg.client.Run(ctxT(t), cmd, opt)
	if err != nil {
		t.Fatal(err)
	}
	if r1.RunID != r2.RunID || !bytes.Equal(r1.Stdout, r2.Stdout) || bytes.Count(r1.Stdout, []byte("\n")) != 1 {
		t.Fatalf("a repeated idempotency key ran again: %q / %q", r1.Stdout, r2.Stdout)
	}
}

func testConcurrentReadAt(t *testing.T, tg *target) {
	data := randBytes(8<<20 + 5)
	p := tg.path("par.bin")
	mustUpload(t, tg.client, up(p, data))
	o, err := tg.client.Open(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	const chunk = 1<<20 - 3 // odd size: ranges straddle everything
	var wg sync.WaitGroup
	errs := make(chan error, len(data)/chunk+1)
	for off := 0; off < len(data); off += chunk {
		wg.Go(func() {
			end := min(off+chunk, len(data))
			if _, err := tg.client.ReadAt(ctxT(t), o, got[off:end], int64(off)); err != nil && err != io.EOF {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("parallel ranges differ")
	}
}
