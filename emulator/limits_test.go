package emulator

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/arker-ai/arkerfs/wire"
)

func TestOutputWindow(t *testing.T) {
	requireRun(t)
	e := newEnv(t, wire.LineageB)
	r := e.run(map[string]any{"command": "head -c 11000000 /dev/zero | tr '\\0' a; echo done >&2"}, nil)
	if r.Status != 200 || exit(r) != 0 || len(r.Stdout) != outputWindow || r.Stderr != "" {
		t.Fatalf("window: status %d, exit %d, %d bytes of stdout, stderr %q", r.Status, exit(r), len(r.Stdout), r.Stderr)
	}
}

func TestRunRecordsBounded(t *testing.T) {
	requireRun(t)
	e := newEnv(t, wire.LineageA)
	e.s.runs.mu.Lock()
	e.s.runs.maxRecords = 3
	e.s.runs.mu.Unlock()
	var ids []string
	for i := range 5 {
		r := e.run(map[string]any{"command": "true"}, map[string]string{"Idempotency-Key": fmt.Sprintf("k%d", i)})
		ids = append(ids, r.RunID)
	}
	status, b := e.call("GET", vm("/runs/"+ids[0]), nil, nil)
	e.wantError(status, b, 404, wire.CodeNotFound)
	e.getRun(ids[4])
	status, b = e.call("GET", vm("/runs"), nil, nil)
	var l wire.ListRunsResponse
	mustJSON(t, b, &l)
	if status != 200 || len(l.Runs) != 3 || l.Runs[0].RunID != ids[4] {
		t.Fatalf("list: %s", b)
	}
	e.s.runs.mu.Lock()
	n := len(e.s.runs.idem)
	e.s.runs.mu.Unlock()
	if n != 3 {
		t.Errorf("%d idempotency keys kept", n)
	}
}

func TestPlanMounts(t *testing.T) {
	host := map[string]bool{"/": true, "/home": true, "/tmp": true, "/srv": true, "/srv/a": true}
	isDir := func(p string) bool { return host[p] }
	steps, err := planMounts([]string{"/home/user", "/srv/a", "/srv/b/c", "/tmp"}, isDir)
	if err != nil {
		t.Fatal(err)
	}
	want := []mountStep{
		{kind: mountTmpfs, path: "/home"},
		{kind: mountTmpfs, path: "/srv"},
		{kind: mountMkdir, path: "/home/user"},
		{kind: mountMkdir, path: "/srv/a"},
		{kind: mountMkdir, path: "/srv/b"},
		{kind: mountMkdir, path: "/srv/b/c"},
		{kind: mountBind, path: "/home/user", src: 0},
		{kind: mountBind, path: "/srv/a", src: 1},
		{kind: mountBind, path: "/srv/b/c", src: 2},
		{kind: mountBind, path: "/tmp", src: 3},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("plan\n got %v\nwant %v", steps, want)
	}
	if _, err := planMounts([]string{"/nowhere"}, isDir); err == nil {
		t.Error("a mapping under / with no directory: no error")
	}
}

func TestNewRefusesBadMappings(t *testing.T) {
	home := t.TempDir()
	for _, m := range []map[string]string{
		{"/home/user": t.TempDir()},
		{"relative": t.TempDir()},
		{"/a/../b": t.TempDir()},
		{"/": t.TempDir()},
		{"/data": "/does/not/exist"},
		{"/data": t.TempDir(), "/data/sub": t.TempDir()},
		{"/home/user/x": t.TempDir()},
	} {
		if s, err := New(Options{Home: home, Token: "k", Mounts: m}); err == nil {
			s.Close()
			t.Errorf("New accepted %v", m)
		}
	}
	if _, err := New(Options{Home: home, Token: "k", Lineage: "c"}); err == nil {
		t.Error("lineage c accepted")
	}
}
