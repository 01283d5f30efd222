package transport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
	"github.com/arker-ai/arkerfs/wire"
)

// The conformance suite (restic's backend test suite is the model): each
// test is a function of a target, run against the emulator in both API
// lineages always, and against a live VM when ARKER_API_KEY,
// ARKER_BASE_URL and ARKER_TEST_VM are set. Its tests check through the
// API only (and the VM's disk where the target is an emulator); tests
// that need the emulator's knobs (faults, counters, lineage switches)
// live in the other test files.

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
	{"RoundTripSizes", testRoundTripSizes},
	{"BatchUpload", testBatchUpload},
	{"UploadModes", testUploadModes},
	{"PresignedReads", testPresignedReads},
	{"ConcurrentReadAt", testConcurrentReadAt},
	{"StaleAfterChange", testStaleAfterChange},
	{"NotFoundAndDir", testNotFoundAndDir},
	{"AwkwardNames", testAwkwardNames},
	{"Manifest", testManifest},
	{"UploadTar", testUploadTar},
	{"RunOutput", testRunOutput},
	{"RunNonUTF8Output", testRunNonUTF8Output},
	{"RunExitAndTimeout", testRunExitAndTimeout},
	{"RunIdempotent", testRunIdempotent},
	{"Probe", testProbe},
}

func TestConformanceEmulator(t *testing.T) {
	eachLineage(t, func(t *testing.T, lin wire.Lineage) {
		for _, tc := range suite {
			t.Run(tc.name, func(t *testing.T) {
				e := newEmu(t, lin)
				c := e.client(t)
				tg := &target{name: "emulator-" + string(lin), client: c, emu: e, dir: vm("t")}
				if err := os.Mkdir(e.local(tg.dir), 0o755); err != nil {
					t.Fatal(err)
				}
				tc.fn(t, tg)
				e.checkSessions(t, c)
			})
		}
	})
}

func TestConformanceLive(t *testing.T) {
	base, key, vmID := os.Getenv(transport.EnvBaseURL), os.Getenv(transport.EnvAPIKey), os.Getenv("ARKER_TEST_VM")
	if base == "" || key == "" || vmID == "" {
		t.Skip("live VM not configured: set ARKER_API_KEY, ARKER_BASE_URL and ARKER_TEST_VM to run the suite against it")
	}
	c, err := transport.New(transport.Config{APIKey: key, BaseURL: base, VMID: vmID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			dir := "/home/user/.arkerfs-test-" + fmt.Sprint(time.Now().UnixNano())
			if _, err := c.Mkdir(ctxT(t), dir, 0o755); err != nil {
				t.Fatalf("mkdir: %v", err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				_, _ = c.Run(ctx, "rm -rf -- '"+dir+"'", transport.RunOptions{Timeout: 60 * time.Second})
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
	if (vm.ID != tg.client.Config().VMID && vm.Name != tg.client.Config().VMID) || vm.State == "" {
		t.Fatalf("DescribeVM = %+v", vm)
	}
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// vmSHA256 asks the VM itself for a file's sha256.
func vmSHA256(t *testing.T, c *transport.Client, p string) string {
	t.Helper()
	r, err := c.Run(ctxT(t), "sha256sum -- '"+p+"' | cut -d' ' -f1", transport.RunOptions{Timeout: 60 * time.Second})
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("sha256sum on the VM: %v %+v", err, r)
	}
	return strings.TrimSpace(string(r.Stdout))
}

// testRoundTripSizes: the SDKs' live sizes, each written, installed with
// its attributes, read back, and hashed by the VM itself.
func testRoundTripSizes(t *testing.T, tg *target) {
	for _, n := range []int{0, 5, wire.ChunkSize + 1, 20<<20 + 1} {
		t.Run(sizeName(n), func(t *testing.T) {
			data := randBytes(n)
			p := tg.path("f" + sizeName(n))
			r := mustUpload(t, tg.client, up(p, data))[0]
			a, err := tg.client.Stat(ctxT(t), p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Size != int64(n) || r.SHA256 != shaHex(data) || r.Ino != a.Ino || r.MtimeNs != a.MtimeNs || r.Attr == nil || r.Attr.Perm != 0o644 {
				t.Errorf("result %+v, stat %+v", r, a)
			}
			if got := readAll(t, tg.client, p); !bytes.Equal(got, data) {
				t.Errorf("read back %d bytes, differ", len(got))
			}
			if sum := vmSHA256(t, tg.client, p); sum != shaHex(data) {
				t.Errorf("VM's sha256 %s", sum)
			}
		})
	}
	if tg.emu != nil {
		tg.emu.noTemporaries(t, tg.dir)
	}
}

func testBatchUpload(t *testing.T, tg *target) {
	var ups []transport.Upload
	var datas [][]byte
	for i := range 50 {
		d := randBytes(i * 997)
		datas = append(datas, d)
		ups = append(ups, up(tg.path(fmt.Sprintf("sub/b%02d", i)), d))
	}
	res := mustUpload(t, tg.client, ups...)
	for i, r := range res {
		if r.Path != ups[i].Path || r.Size != int64(len(datas[i])) {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	for _, i := range []int{0, 1, 49} {
		if got := readAll(t, tg.client, ups[i].Path); !bytes.Equal(got, datas[i]) {
			t.Errorf("file %d differs", i)
		}
	}
}

// testUploadModes: a new file is 0644, a given mode is set, and an
// overwrite without a mode keeps the file's mode.
func testUploadModes(t *testing.T, tg *target) {
	p := tg.path("m")
	mode := uint32(0o751)
	u := up(p, []byte("one"))
	u.Mode = &mode
	if r := mustUpload(t, tg.client, u)[0]; r.Attr.Perm != 0o751 {
		t.Fatalf("mode given: %o", r.Attr.Perm)
	}
	r := mustUpload(t, tg.client, up(p, []byte("two")))[0]
	if r.Attr.Perm != 0o751 || r.Size != 3 {
		t.Fatalf("mode kept: %o size %d", r.Attr.Perm, r.Size)
	}
	if got := readAll(t, tg.client, p); string(got) != "two" {
		t.Fatalf("content %q", got)
	}
	bad := uint32(0o10000)
	u = up(p, nil)
	u.Mode = &bad
	if r := tg.client.Upload(ctxT(t), []transport.Upload{u})[0]; transport.CodeOf(r.Err) != transport.CodeInvalid {
		t.Fatalf("bad mode: %v", r.Err)
	}
}

// testPresignedReads reads a file above the inline size by ranges.
func testPresignedReads(t *testing.T, tg *target) {
	data := randBytes(3<<20 + 7)
	p := tg.path("big")
	mustUpload(t, tg.client, up(p, data))
	o, err := tg.client.Open(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Release()
	if o.Inline != nil || o.Size != int64(len(data)) {
		t.Fatalf("object %q size %d inline %v", o.Path, o.Size, o.Inline != nil)
	}
	for _, r := range []struct{ off, n int64 }{{0, 10}, {1 << 20, 4096}, {int64(len(data)) - 5, 5}, {12345, 1 << 20}} {
		buf := make([]byte, r.n)
		n, err := tg.client.ReadAt(ctxT(t), o, buf, r.off)
		if err != nil || int64(n) != r.n || !bytes.Equal(buf, data[r.off:r.off+r.n]) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", r.off, r.n, n, err)
		}
	}
	buf := make([]byte, 10)
	n, err := tg.client.ReadAt(ctxT(t), o, buf, int64(len(data))-4)
	if n != 4 || err != io.EOF || !bytes.Equal(buf[:4], data[len(data)-4:]) {
		t.Fatalf("read past the end: %d, %v", n, err)
	}
	if _, err := tg.client.ReadAt(ctxT(t), o, buf, int64(len(data))); err != io.EOF {
		t.Fatalf("read at the end: %v", err)
	}
}

func testConcurrentReadAt(t *testing.T, tg *target) {
	data := randBytes(4<<20 + 3)
	p := tg.path("par")
	mustUpload(t, tg.client, up(p, data))
	o, err := tg.client.Open(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Release()
	const block = 256 << 10
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for off := int64(0); off < o.Size; off += block {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, block)
			n, err := tg.client.ReadAt(ctxT(t), o, buf, off)
			if err != nil && err != io.EOF || !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
				errs <- fmt.Errorf("block at %d: %d bytes, %v", off, n, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testStaleAfterChange: a file replaced after Open is never served torn.
func testStaleAfterChange(t *testing.T, tg *target) {
	p := tg.path("s")
	mustUpload(t, tg.client, up(p, randBytes(2<<20)))
	o, err := tg.client.Open(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Release()
	if o.Inline != nil {
		t.Skip("answered inline")
	}
	mustUpload(t, tg.client, up(p, randBytes(2<<20)))
	buf := make([]byte, 100)
	_, err = tg.client.ReadAt(ctxT(t), o, buf, 1000)
	if transport.CodeOf(err) != transport.CodeStale {
		t.Fatalf("read of a replaced file: %v, want stale", err)
	}
	if _, err := tg.client.ReadAt(ctxT(t), o, buf, 0); transport.CodeOf(err) != transport.CodeStale {
		t.Fatalf("second read: %v, want stale", err)
	}
}

func testNotFoundAndDir(t *testing.T, tg *target) {
	if _, err := tg.client.Open(ctxT(t), tg.path("missing")); !transport.IsNotFound(err) || transport.IsRetryable(err) {
		t.Errorf("Open missing: %v", err)
	}
	if _, err := tg.client.Mkdir(ctxT(t), tg.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.client.Open(ctxT(t), tg.path("d")); transport.CodeOf(err) != transport.CodeBadRequest {
		t.Errorf("Open a directory: %v, want bad_request", err)
	}
	if r := tg.client.Upload(ctxT(t), []transport.Upload{up(tg.path("d"), []byte("x"))})[0]; transport.CodeOf(r.Err) != transport.CodeIsDir {
		t.Errorf("Upload onto a directory: %v, want is_dir", r.Err)
	}
}

// awkwardNames are names with every awkward byte: shell syntax, quotes,
// newlines, invalid UTF-8.
var awkwardNames = []string{"sp ace", "q'uote", "new\nline", "$(touch pwned)", "`touch pwned`", `back\slash`,
	"-dash", "%s", "\xff\xfe invalid", "ü", "trail\n\n", "tab\there", "\x01\x7f"}

// allBytesName is a name with every byte but / and NUL.
func allBytesName() string {
	var b []byte
	for c := 1; c < 256; c++ {
		if c != '/' {
			b = append(b, byte(c))
		}
	}
	return string(b)
}

func testAwkwardNames(t *testing.T, tg *target) {
	names := append(append([]string(nil), awkwardNames...), allBytesName(), allBytesName()[100:]+"\xc3")
	var ups []transport.Upload
	for i, n := range names {
		ups = append(ups, up(tg.path("n\xfe/"+n), []byte(fmt.Sprintf("content %d", i))))
	}
	ups = append(ups, up(tg.path("big\xff"), randBytes(2<<20+1)))
	res := mustUpload(t, tg.client, ups...)
	for i, n := range names {
		p := tg.path("n\xfe/" + n)
		a, err := tg.client.Stat(ctxT(t), p)
		if err != nil || a.Ino != res[i].Ino || a.Size != res[i].Size {
			t.Errorf("%q: stat %+v %v, upload said %+v", n, a, err, res[i])
		}
		if got := readAll(t, tg.client, p); string(got) != fmt.Sprintf("content %d", i) {
			t.Errorf("%q: read %q", n, got)
		}
	}
	big := ups[len(ups)-1]
	want := make([]byte, big.Size)
	_, _ = big.Source.ReadAt(want, 0)
	if got := readAll(t, tg.client, big.Path); !bytes.Equal(got, want) {
		t.Errorf("large file with an invalid UTF-8 name: %d bytes read, differ", len(got))
	}
	es, err := tg.client.List(ctxT(t), tg.path("n\xfe"))
	if err != nil || len(es) != len(names) {
		t.Fatalf("List = %d entries, %v (left-over temporary files?)", len(es), err)
	}
	if tg.emu != nil {
		if _, err := os.Lstat(tg.emu.local(tg.path("pwned"))); err == nil {
			t.Fatal("a name ran as shell syntax")
		}
		tg.emu.noTemporaries(t, tg.dir)
	}
	// Metadata under awkward names: rename, link, symlink.
	src := tg.path("n\xfe/" + names[0])
	dst := tg.path("n\xfe/" + names[1] + ".moved")
	if _, err := tg.client.Rename(ctxT(t), src, dst, true); err != nil {
		t.Errorf("rename: %v", err)
	}
	if _, err := tg.client.Symlink(ctxT(t), names[2], tg.path("ln\xff")); err != nil {
		t.Errorf("symlink: %v", err)
	}
	if got, err := tg.client.Readlink(ctxT(t), tg.path("ln\xff")); err != nil || got != names[2] {
		t.Errorf("readlink = %q, %v", got, err)
	}
}

func testManifest(t *testing.T, tg *target) {
	files := map[string][]byte{"a.txt": []byte("a"), "nested/b.txt": []byte("bb"), "big.bin": randBytes(5 << 20)}
	var ups []transport.Upload
	for n, d := range files {
		ups = append(ups, up(tg.path("m/"+n), d))
	}
	mustUpload(t, tg.client, ups...)
	if _, err := tg.client.Symlink(ctxT(t), "a.txt", tg.path("m/ln")); err != nil {
		t.Fatal(err)
	}
	es, truncated, err := tg.client.Manifest(ctxT(t), tg.path("m"))
	if err != nil || truncated || len(es) != len(files) {
		t.Fatalf("Manifest = %+v, %v, %v", es, truncated, err)
	}
	for _, e := range es {
		d, ok := files[e.Path]
		if !ok || e.Size != int64(len(d)) || e.SHA256 != shaHex(d) || e.Mode&0o777 != 0o644 {
			t.Errorf("entry %+v", e)
		}
	}
	if es, _, err := tg.client.Manifest(ctxT(t), tg.path("none")); err != nil || len(es) != 0 {
		t.Errorf("manifest of a missing directory: %v, %v", es, err)
	}
	if _, _, err := tg.client.Manifest(ctxT(t), "/"); transport.CodeOf(err) != transport.CodeInvalid {
		t.Errorf("manifest of /: %v", err)
	}
}

func testUploadTar(t *testing.T, tg *target) {
	files := map[string][]byte{"x/a.txt": []byte("a\n"), "x/sub/b.bin": randBytes(70000), "top": {}}
	tarball := makeTar(t, files, map[string]string{"x/ln": "a.txt"}, map[string]int64{"x/sub/b.bin": 0o755})
	dir := tg.path("untar/here")
	if err := tg.client.UploadTar(ctxT(t), dir, bytes.NewReader(tarball), int64(len(tarball))); err != nil {
		t.Fatal(err)
	}
	for n, d := range files {
		if got := readAll(t, tg.client, dir+"/"+n); !bytes.Equal(got, d) {
			t.Errorf("%s differs", n)
		}
	}
	if a, err := tg.client.Stat(ctxT(t), dir+"/x/sub/b.bin"); err != nil || a.Perm != 0o755 || a.MtimeNs != tarTime.UnixNano() {
		t.Errorf("mode and mtime kept: %+v %v", a, err)
	}
	if got, err := tg.client.Readlink(ctxT(t), dir+"/x/ln"); err != nil || got != "a.txt" {
		t.Errorf("symlink: %q %v", got, err)
	}
	if err := tg.client.UploadTar(ctxT(t), "relative", bytes.NewReader(tarball), int64(len(tarball))); transport.CodeOf(err) != transport.CodeInvalid {
		t.Errorf("relative directory: %v", err)
	}
}

func testRunOutput(t *testing.T, tg *target) {
	r, err := tg.client.Run(ctxT(t), "echo out; echo err >&2; exit 3", transport.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" || r.ExitCode != 3 || r.State != wire.RunCompleted || r.RunID == "" {
		t.Fatalf("run = %+v", r)
	}
}

func testRunNonUTF8Output(t *testing.T, tg *target) {
	r, err := tg.client.Run(ctxT(t), `printf '\377\000x'`, transport.RunOptions{})
	if err != nil || !bytes.Equal(r.Stdout, []byte{0xff, 0, 'x'}) {
		t.Fatalf("run = %+v, %v", r, err)
	}
}

func testRunExitAndTimeout(t *testing.T, tg *target) {
	start := time.Now()
	r, err := tg.client.Run(ctxT(t), "sleep 30", transport.RunOptions{Timeout: 1500 * time.Millisecond})
	if transport.CodeOf(err) != transport.CodeTimeout || r == nil || r.State != wire.RunFailed || r.ExitCode >= 0 {
		t.Fatalf("run past its timeout: %+v, %v", r, err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the timeout (2 s, rounded up) took %v", d)
	}
}

// testRunIdempotent: the same key runs the command once.
func testRunIdempotent(t *testing.T, tg *target) {
	p := tg.path("count")
	cmd := "echo x >> '" + p + "'; wc -l < '" + p + "'"
	opt := transport.RunOptions{IdempotencyKey: "arkerfs-suite-" + fmt.Sprint(time.Now().UnixNano())}
	r1, err := tg.client.Run(ctxT(t), cmd, opt)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := tg.client.Run(ctxT(t), cmd, opt)
	if err != nil {
		t.Fatal(err)
	}
	if r1.RunID != r2.RunID || string(r2.Stdout) != "1\n" {
		t.Fatalf("same key: runs %s and %s, second output %q", r1.RunID, r2.RunID, r2.Stdout)
	}
	if _, err := tg.client.Run(ctxT(t), "true", opt); transport.CodeOf(err) != transport.CodeConflict {
		t.Fatalf("same key, another command: %v, want conflict", err)
	}
}

func testProbe(t *testing.T, tg *target) {
	p := tg.path("probe.bin")
	mustUpload(t, tg.client, up(p, randBytes(2<<20)))
	caps, err := tg.client.Probe(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Sessions || caps.Range == transport.RangeUnknown || len(caps.Problems) > 0 {
		t.Errorf("capabilities %+v", caps)
	}
	if tg.emu != nil {
		want := tg.emu.lin == wire.LineageB
		if caps.Lineage != tg.emu.lin || caps.SyncStream != want || caps.Range != transport.RangeHonoured {
			t.Errorf("capabilities %+v on lineage %s", caps, tg.emu.lin)
		}
	}
}

// metaOps is a helper op list, for tests that build batches.
func metaOps(kind helper.Kind, paths ...string) []transport.MetaOp {
	var ops []transport.MetaOp
	for _, p := range paths {
		ops = append(ops, transport.MetaOp{Kind: kind, Path: p})
	}
	return ops
}
