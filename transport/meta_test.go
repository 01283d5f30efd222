package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
	"github.com/arker-ai/arkerfs/wire"
)

// metaEmu is an emulator and a client for metadata tests.
func metaEmu(t *testing.T) (*emu, *transport.Client) {
	t.Helper()
	e := newEmu(t, wire.LineageA)
	return e, e.client(t)
}

func wantCode(t *testing.T, what string, err error, code transport.Code) {
	t.Helper()
	var te *transport.Error
	if !errors.As(err, &te) || te.Code != code {
		t.Errorf("%s: got %v, want code %s", what, err, code)
	}
}

// TestMetaEveryOp runs each wrapper through the emulator's run endpoint
// and checks the VM's files and the errors' codes.
func TestMetaEveryOp(t *testing.T) {
	e, c := metaEmu(t)
	ctx := ctxT(t)
	e.writeLocal(t, vm("f"), []byte("hello"))

	a, err := c.Stat(ctx, vm("f"))
	if fi, ino := e.lstat(t, vm("f")); err != nil || a.Size != 5 || a.Ino != ino || a.MtimeNs != fi.ModTime().UnixNano() {
		t.Fatalf("Stat = %+v, %v", a, err)
	}
	_, err = c.Stat(ctx, vm("missing"))
	if !transport.IsNotFound(err) {
		t.Errorf("Stat missing: %v", err)
	}
	var te *transport.Error
	if errors.As(err, &te) && (te.Op != "stat" || te.Path != vm("missing")) {
		t.Errorf("error names op %q path %q", te.Op, te.Path)
	}
	if a, err := c.Mkdir(ctx, vm("d"), 0o750); err != nil || a.Type != helper.TypeDir || a.Perm != 0o750 {
		t.Fatalf("Mkdir = %+v, %v", a, err)
	}
	_, err = c.Mkdir(ctx, vm("d"), 0o750)
	wantCode(t, "Mkdir existing", err, transport.CodeExists)
	if a, err := c.Create(ctx, vm("d/new"), 0o600, true); err != nil || a.Perm != 0o600 || a.Size != 0 {
		t.Fatalf("Create = %+v, %v", a, err)
	}
	_, err = c.Create(ctx, vm("d/new"), 0o600, true)
	wantCode(t, "Create existing", err, transport.CodeExists)
	if a, err := c.Symlink(ctx, "../f", vm("d/ln")); err != nil || a.Type != helper.TypeSymlink {
		t.Fatalf("Symlink = %+v, %v", a, err)
	}
	if target, err := c.Readlink(ctx, vm("d/ln")); err != nil || target != "../f" {
		t.Fatalf("Readlink = %q, %v", target, err)
	}
	if a, err := c.Link(ctx, vm("f"), vm("d/hard")); err != nil || a.Nlink != 2 {
		t.Fatalf("Link = %+v, %v", a, err)
	}
	es, err := c.List(ctx, vm("d"))
	if err != nil || len(es) != 3 {
		t.Fatalf("List = %d entries, %v", len(es), err)
	}
	es, truncated, err := c.Tree(ctx, emulator.HomeDir, 2, 3)
	if err != nil || len(es) != 3 || !truncated {
		t.Fatalf("Tree = %d entries, truncated %v, %v", len(es), truncated, err)
	}
	if a, err := c.Rename(ctx, vm("d/new"), vm("renamed"), true); err != nil || a.Type != helper.TypeRegular {
		t.Fatalf("Rename = %+v, %v", a, err)
	}
	_, err = c.Rename(ctx, vm("f"), vm("renamed"), true)
	wantCode(t, "Rename no-replace onto a file", err, transport.CodeExists)
	_, err = c.Rename(ctx, vm("f"), vm("d"), false)
	wantCode(t, "Rename a file onto a dir", err, transport.CodeIsDir)
	if a, err := c.Chmod(ctx, vm("renamed"), 0o644); err != nil || a.Perm != 0o644 {
		t.Fatalf("Chmod = %+v, %v", a, err)
	}
	when := time.Date(2020, 2, 2, 2, 2, 2, 123456789, time.UTC).UnixNano()
	if a, err := c.Utimens(ctx, vm("renamed"), transport.MetaTime{}, transport.MetaTime{Set: true, Ns: when}); err != nil || a.MtimeNs != when {
		t.Fatalf("Utimens = %+v, %v", a, err)
	}
	if a, err := c.Truncate(ctx, vm("renamed"), 4096); err != nil || a.Size != 4096 {
		t.Fatalf("Truncate = %+v, %v", a, err)
	}
	if s, err := c.StatFS(ctx, emulator.HomeDir); err != nil || s.Blocks == 0 || s.NameLen == 0 {
		t.Fatalf("StatFS = %+v, %v", s, err)
	}
	wantCode(t, "Rmdir non-empty", c.Rmdir(ctx, vm("d")), transport.CodeNotEmpty)
	wantCode(t, "Unlink a dir", c.Unlink(ctx, vm("d")), transport.CodeIsDir)
	for _, n := range []string{"d/ln", "d/hard", "renamed"} {
		if err := c.Unlink(ctx, vm(n)); err != nil {
			t.Fatalf("Unlink %s: %v", n, err)
		}
	}
	if err := c.Rmdir(ctx, vm("d")); err != nil {
		t.Fatalf("Rmdir: %v", err)
	}
	if left, _ := os.ReadDir(e.home); len(left) != 1 {
		t.Errorf("home holds %d entries, want only f", len(left))
	}
}

// TestMetaAwkwardNames round-trips names with every awkward byte through
// the real server: create, list, readlink, rename.
func TestMetaAwkwardNames(t *testing.T) {
	e, c := metaEmu(t)
	ctx := ctxT(t)
	names := []string{"sp ace", "q'uote", "new\nline", "$(touch pwned)", "`touch pwned`", `back\slash`, "\\c",
		"-dash", "*", "%s", "\xff\xfe invalid", "ü", strings.Repeat("n", 255), strings.Repeat("\xe9", 255), "trail\n\n"}
	var ops []transport.MetaOp
	for i, n := range names {
		ops = append(ops,
			transport.MetaOp{Kind: helper.OpCreate, Path: vm(n), Mode: 0o644, Exclusive: true},
			transport.MetaOp{Kind: helper.OpSymlink, Path: vm(fmt.Sprintf("link%02d", i)), Target: n})
	}
	res, err := c.Meta(ctx, ops...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("op %d: %v", i, r.Err)
		}
	}
	for _, n := range names {
		if _, err := os.Lstat(e.local(vm(n))); err != nil {
			t.Errorf("%q not on disk: %v", n, err)
		}
	}
	if _, err := os.Lstat(e.local(vm("pwned"))); err == nil {
		t.Fatal("a name ran as shell syntax")
	}
	es, err := c.List(ctx, emulator.HomeDir)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, en := range es {
		listed[en.Name] = en.Target
	}
	for i, n := range names {
		if _, ok := listed[n]; !ok {
			t.Errorf("List lacks %q", n)
		}
		if got := listed[fmt.Sprintf("link%02d", i)]; got != n {
			t.Errorf("listed target %q, want %q", got, n)
		}
		if got, err := c.Readlink(ctx, vm(fmt.Sprintf("link%02d", i))); err != nil || got != n {
			t.Errorf("Readlink = %q, %v; want %q", got, err, n)
		}
	}
	ops = []transport.MetaOp{{Kind: helper.OpMkdir, Path: vm("moved"), Mode: 0o755}}
	for i, n := range names {
		ops = append(ops, transport.MetaOp{Kind: helper.OpRename, Path: vm(n), Path2: vm("moved/" + names[(i+1)%len(names)])})
	}
	if res, err = c.Meta(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("op %d: %v", i, r.Err)
		}
	}
	for _, n := range names {
		if _, err := os.Lstat(e.local(vm("moved/" + n))); err != nil {
			t.Errorf("%q not moved: %v", n, err)
		}
	}
}

// TestMetaBatchesAndSplits checks that one Meta call is one run when it
// fits, several in order when it does not, and that invalid ops are
// answered without a run.
func TestMetaBatchesAndSplits(t *testing.T) {
	e, c := metaEmu(t)
	ctx := ctxT(t)
	e.writeLocal(t, vm("f"), []byte("x"))
	before := e.requests(emulator.EndpointRunsCreate)
	res, err := c.Meta(ctx,
		transport.MetaOp{Kind: helper.OpStat, Path: vm("f")},
		transport.MetaOp{Kind: helper.OpStat, Path: "relative"},
		transport.MetaOp{Kind: helper.OpStat, Path: vm("missing")},
		transport.MetaOp{Kind: helper.OpMkdir, Path: vm("d"), Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Attr.Size != 1 {
		t.Errorf("stat: %+v", res[0])
	}
	wantCode(t, "invalid op", res[1].Err, transport.CodeInvalid)
	wantCode(t, "missing", res[2].Err, transport.CodeNotFound)
	if res[3].Err != nil {
		t.Errorf("mkdir: %v", res[3].Err)
	}
	if n := e.requests(emulator.EndpointRunsCreate) - before; n != 1 {
		t.Errorf("%d runs for one small batch", n)
	}
	if _, err := c.Meta(ctx, transport.MetaOp{Kind: helper.OpStat, Path: "/a/../b"}); err != nil {
		t.Errorf("a batch of invalid ops only: %v", err)
	}
	if n := e.requests(emulator.EndpointRunsCreate) - before; n != 1 {
		t.Errorf("an invalid op was sent (%d runs)", n)
	}

	var many []transport.MetaOp
	for i := 0; i < 1500; i++ {
		many = append(many, transport.MetaOp{Kind: helper.OpStat, Path: vm(fmt.Sprintf("%s-%d", strings.Repeat("n", 200), i))})
	}
	many = append(many, transport.MetaOp{Kind: helper.OpStat, Path: vm("f")})
	before = e.requests(emulator.EndpointRunsCreate)
	res, err = c.Meta(ctx, many...)
	if err != nil {
		t.Fatal(err)
	}
	runs := e.requests(emulator.EndpointRunsCreate) - before
	if want := int64(len(helper.Split(many, helper.MaxCommandBytes))); runs != want || runs < 2 {
		t.Errorf("%d runs, want %d (more than one)", runs, want)
	}
	for i := range many[:1500] {
		if !transport.IsNotFound(res[i].Err) {
			t.Fatalf("op %d: %v", i, res[i].Err)
		}
	}
	if r := res[1500]; r.Err != nil || r.Attr.Size != 1 {
		t.Errorf("last op's result out of place: %+v", r)
	}
}

// TestMetaRetriedRunIsNotRepeated drops the answer to a run that ran:
// the retry, with the same idempotency key, gets the first answer; a new
// call gets a new key and really runs.
func TestMetaRetriedRunIsNotRepeated(t *testing.T) {
	e, c := metaEmu(t)
	ctx := ctxT(t)
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRunsCreate, Kind: emulator.FaultDropAfter})
	before := e.requests(emulator.EndpointRunsCreate)
	if _, err := c.Mkdir(ctx, vm("once"), 0o755); err != nil {
		t.Fatalf("Mkdir with a lost answer: %v", err)
	}
	if n := e.requests(emulator.EndpointRunsCreate) - before; n != 2 {
		t.Errorf("%d run requests, want 2 (the lost one and its retry)", n)
	}
	_, err := c.Mkdir(ctx, vm("once"), 0o755)
	wantCode(t, "second Mkdir", err, transport.CodeExists)
}

// TestMetaBatcherGroupCommit sends N concurrent operations through a
// MetaBatcher and counts the runs.
func TestMetaBatcherGroupCommit(t *testing.T) {
	e, c := metaEmu(t)
	ctx := ctxT(t)
	const n = 64
	for i := 0; i < n; i++ {
		e.writeLocal(t, vm(fmt.Sprintf("f%02d", i)), make([]byte, i))
	}
	b := transport.NewMetaBatcher(c)
	before := e.requests(emulator.EndpointRunsCreate)
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := b.Do(ctx, transport.MetaOp{Kind: helper.OpStat, Path: vm(fmt.Sprintf("f%02d", i))})
			switch {
			case err != nil:
				errs <- err
			case r.Err != nil:
				errs <- r.Err
			case r.Attr.Size != int64(i):
				errs <- fmt.Errorf("f%02d has size %d: results crossed", i, r.Attr.Size)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	runs := e.requests(emulator.EndpointRunsCreate) - before
	t.Logf("%d concurrent operations took %d runs", n, runs)
	if runs > n/8 {
		t.Errorf("%d runs for %d concurrent operations", runs, n)
	}

	// A lone operation goes at once, and errors stay per operation.
	r, err := b.Do(ctx, transport.MetaOp{Kind: helper.OpStat, Path: vm("missing")})
	if err != nil || !transport.IsNotFound(r.Err) {
		t.Errorf("lone Do = %+v, %v", r, err)
	}
}

// TestMetaBatcherCancel checks that a caller whose context ends is
// answered at once while a run is in flight, and that the batcher goes on.
func TestMetaBatcherCancel(t *testing.T) {
	arrived := make(chan struct{}, 1)
	e := newEmu(t, wire.LineageA, func(o *emulator.Options) {
		o.Wrap = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, wire.SuffixRuns) {
					select {
					case arrived <- struct{}{}:
					default:
					}
				}
				h.ServeHTTP(w, r)
			})
		}
	})
	c := e.client(t)
	b := transport.NewMetaBatcher(c)
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRunsCreate, Kind: emulator.FaultDelay, Delay: time.Second})
	slow := make(chan error, 1)
	go func() {
		_, err := b.Do(ctxT(t), transport.MetaOp{Kind: helper.OpStat, Path: emulator.HomeDir})
		slow <- err
	}()
	// Wait until the slow run is in flight, then queue one that gives up.
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first run never arrived")
	}
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := b.Do(ctx, transport.MetaOp{Kind: helper.OpMkdir, Path: vm("never"), Mode: 0o755})
		gaveUp <- err
	}()
	cancel()
	select {
	case err := <-gaveUp:
		if !errors.Is(err, context.Canceled) && transport.CodeOf(err) == "" {
			t.Errorf("cancelled Do = %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("a cancelled Do waited for the run in flight")
	}
	if err := <-slow; err != nil {
		t.Fatalf("slow Do: %v", err)
	}
	if _, err := b.Do(ctxT(t), transport.MetaOp{Kind: helper.OpStat, Path: emulator.HomeDir}); err != nil {
		t.Fatalf("Do after a cancel: %v", err)
	}
	if _, err := os.Lstat(e.local(vm("never"))); err == nil {
		t.Error("the cancelled operation ran")
	}
}
