//go:build linux

package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// chanWriter hands each write (Run prints its state line in one) to a
// channel.
type chanWriter chan string

func (c chanWriter) Write(b []byte) (int, error) {
	c <- string(b)
	return len(b), nil
}

// syncLog collects log lines from the agent's goroutines.
type syncLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *syncLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// agent is a Run under test.
type agent struct {
	state proto.State
	line  string
	base  string
	done  chan error // Run's result
	log   *syncLog
}

// startAgent runs an agent on 127.0.0.1 over stateDir and waits for its
// state line.
func startAgent(t *testing.T, ctx context.Context, stateDir string, idle time.Duration) *agent {
	t.Helper()
	out := make(chanWriter, 4)
	a := &agent{done: make(chan error, 1), log: &syncLog{}}
	go func() {
		a.done <- Run(ctx, Options{StateDir: stateDir, Listen: "127.0.0.1:0", Idle: idle, Version: "v-test", Logf: a.log.logf, Stdout: out})
	}()
	select {
	case a.line = <-out:
	case err := <-a.done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no state line within 20s")
	}
	if !strings.HasSuffix(a.line, "\n") || strings.Count(a.line, "\n") != 1 {
		t.Fatalf("state line %q is not one line", a.line)
	}
	if err := json.Unmarshal([]byte(a.line), &a.state); err != nil {
		t.Fatalf("state line %q: %v", a.line, err)
	}
	if a.state.Protocol != proto.Version || a.state.Version != "v-test" || a.state.PID != os.Getpid() || a.state.Port <= 0 {
		t.Fatalf("state %+v", a.state)
	}
	a.base = fmt.Sprintf("http://127.0.0.1:%d", a.state.Port)
	return a
}

// wait waits for Run to return, at most 20s.
func (a *agent) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-a.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20s")
		return nil
	}
}

// writeMount writes the mount file mounts/id with mode.
func writeMount(t *testing.T, stateDir, id, secret, root string, mode os.FileMode) {
	t.Helper()
	b, err := json.Marshal(proto.MountFile{Secret: secret, Root: []byte(root)})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(stateDir, mountsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, id)
	if err := os.WriteFile(p+".tmp", b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p+".tmp", mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
}

// call makes one request and returns the status and body.
func call(t *testing.T, method, url string, headers map[string]string, body io.Reader) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func creds(mount, secret string) map[string]string {
	return map[string]string{proto.HeaderMount: mount, proto.HeaderSecret: secret}
}

// opsCall posts ops with creds and decodes the answer.
func opsCall(t *testing.T, a *agent, h map[string]string, ops []helper.Op) []proto.Result {
	t.Helper()
	req := proto.Request{Ops: make([]proto.Op, len(ops))}
	for i, op := range ops {
		req.Ops[i] = proto.FromOp(op)
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	code, body := call(t, http.MethodPost, a.base+proto.PathOps, h, bytes.NewReader(b))
	if code != http.StatusOK {
		t.Fatalf("POST ops: %d %s", code, body)
	}
	var resp proto.Response
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Results) != len(ops) {
		t.Fatalf("answer %s: %v", body, err)
	}
	return resp.Results
}

// wireOf is r as the agent sends it, decoded.
func wireOf(t *testing.T, r helper.Result) proto.Result {
	t.Helper()
	b, err := json.Marshal(proto.FromResult(r))
	if err != nil {
		t.Fatal(err)
	}
	var w proto.Result
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestServer(t *testing.T) {
	base := t.TempDir()
	stateDir := filepath.Join(base, "state")
	root := filepath.Join(base, "home", "user")
	build(t, root, [][2]string{{"f", "x"}, {"d/g", "y"}, {"d/e/h", "z"}, {"l", "->d"}})
	build(t, base, [][2]string{{"home/user2/secret", "s"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startAgent(t, ctx, stateDir, time.Minute)

	st, err := os.ReadFile(filepath.Join(stateDir, stateFile))
	if err != nil || string(st)+"\n" != a.line {
		t.Fatalf("agent.json %q (%v), state line %q", st, err, a.line)
	}
	for _, p := range []string{stateFile, "."} {
		if fi, err := os.Stat(filepath.Join(stateDir, p)); err != nil || fi.Mode().Perm() != 0o600 && p != "." || fi.Mode().Perm() != 0o700 && p == "." {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}

	const id, secret = "01HZX7Q3MOUNT", "the-secret"
	writeMount(t, stateDir, id, secret, root, 0o600)
	writeMount(t, stateDir, "open", secret, root, 0o640)
	writeMount(t, stateDir, "relative", secret, "home/user", 0o600)
	os.Symlink(filepath.Join(stateDir, mountsDir, id), filepath.Join(stateDir, mountsDir, "viaLink"))
	good := creds(id, secret)
	hello := a.base + proto.PathHello

	t.Run("credentials", func(t *testing.T) {
		for _, c := range []struct {
			h    map[string]string
			code int
		}{
			{map[string]string{}, 400},
			{creds("", secret), 400},
			{creds("a/b", secret), 400},
			{creds("..", secret), 400},
			{creds(strings.Repeat("a", 65), secret), 400},
			{creds("nosuch", secret), 401},
			{creds(id, ""), 401},
			{creds(id, secret+"x"), 401},
			{creds(id, secret[:len(secret)-1]), 401},
			{creds("open", secret), 401},
			{creds("relative", secret), 401},
			{creds("viaLink", secret), 401},
			{creds(strings.Repeat("a", 64), secret), 401},
			{good, 200},
		} {
			if code, body := call(t, http.MethodGet, hello, c.h, nil); code != c.code {
				t.Errorf("%v: %d %s, want %d", c.h, code, body, c.code)
			}
		}
		for _, why := range []string{"accessible to others", "not a clean absolute path", "wrong secret", "not a regular file"} {
			if !strings.Contains(a.log.String(), why) {
				t.Errorf("no refusal logged with %q in\n%s", why, a.log)
			}
		}
		if strings.Contains(a.log.String(), secret) {
			t.Error("the log shows the secret")
		}
	})

	t.Run("hello", func(t *testing.T) {
		code, body := call(t, http.MethodGet, hello, good, nil)
		var h proto.Hello
		if code != 200 || json.Unmarshal(body, &h) != nil {
			t.Fatalf("%d %s", code, body)
		}
		if want := (proto.Hello{Version: "v-test", Protocol: proto.Version, Root: []byte(root)}); !reflect.DeepEqual(h, want) {
			t.Errorf("hello %+v, want %+v", h, want)
		}
	})

	t.Run("routes", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			code         int
		}{
			{http.MethodPost, proto.PathHello, 405},
			{http.MethodGet, proto.PathOps, 405},
			{http.MethodGet, "/v2/hello", 404},
			{http.MethodGet, "/", 404},
		} {
			if code, body := call(t, c.method, a.base+c.path, good, strings.NewReader("{}")); code != c.code {
				t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.code)
			}
		}
	})

	t.Run("ops", func(t *testing.T) {
		ops := []helper.Op{
			{Kind: helper.OpStat, Path: root},
			{Kind: helper.OpStat, Path: root + "/l"},
			{Kind: helper.OpList, Path: root},
			{Kind: helper.OpTree, Path: root, Depth: 3, Limit: 100},
			{Kind: helper.OpTree, Path: root, Depth: 3, Limit: 2},
			{Kind: helper.OpReadlink, Path: root + "/l"},
			{Kind: helper.OpStatfs, Path: root},
			{Kind: helper.OpStat, Path: root + "/missing"},
			{Kind: helper.OpList, Path: root + "/f"},
			{Kind: helper.OpListxattr, Path: root + "/f"},
		}
		for i := range ops {
			Exec(ops[i]) // reading the directories once settles their atimes
		}
		got := opsCall(t, a, good, ops)
		for i, op := range ops {
			want := wireOf(t, Exec(op))
			if op.Kind == helper.OpStatfs {
				got[i].Statfs, want.Statfs = nil, nil // free counts move
			}
			if !reflect.DeepEqual(got[i], want) {
				t.Errorf("op %d %s: agent %+v\nExec %+v", i, op.Kind, got[i], want)
			}
		}
		if got[0].Attr == nil || got[2].Entries == nil || !got[4].Truncated || got[7].Errno != "ENOENT" || got[8].Errno != "ENOTDIR" {
			t.Errorf("unexpected answers %+v", got)
		}
	})

	t.Run("refused ops", func(t *testing.T) {
		ops := []helper.Op{
			{Kind: helper.OpStat, Path: filepath.Dir(root)},
			{Kind: helper.OpStat, Path: "/"},
			{Kind: helper.OpStat, Path: root + "2/secret"},
			{Kind: helper.OpList, Path: root + "2"},
			{Kind: helper.OpStat, Path: "/etc/passwd"},
			{Kind: helper.OpStat, Path: root + "/../user2"},
			{Kind: helper.OpStat, Path: "relative"},
			{Kind: helper.OpRename, Path: root + "/f", Path2: root + "2/f"},
			{Kind: helper.OpRename, Path: root + "2/secret", Path2: root + "/stolen"},
			{Kind: helper.OpLink, Path: root + "/f", Path2: "/tmp/f"},
			{Kind: helper.OpInstall, Path: root + "/f", Path2: root + "2/secret", KeepMode: true},
			{Kind: helper.OpMkdir, Path: root + "2/new", Mode: 0o755},
			{Kind: "bogus", Path: root},
			{Kind: helper.OpStat, Path: root + "/f"},
		}
		got := opsCall(t, a, good, ops)
		want := []string{"EACCES", "EACCES", "EACCES", "EACCES", "EACCES", "EINVAL", "EINVAL", "EACCES", "EACCES", "EACCES", "EACCES", "EACCES", "ENOSYS", ""}
		for i := range ops {
			if got[i].Errno != want[i] {
				t.Errorf("op %d %s %q: %q %q, want %s", i, ops[i].Kind, ops[i].Path, got[i].Errno, got[i].Message, want[i])
			}
		}
		for _, p := range []string{root + "2/f", root + "/stolen", "/tmp/f", root + "2/new"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s made", p)
			}
		}
		if b, err := os.ReadFile(root + "2/secret"); err != nil || string(b) != "s" {
			t.Errorf("secret: %q %v", b, err)
		}
	})

	t.Run("mutations", func(t *testing.T) {
		// A symlink's target is its content, not a path: it may point
		// anywhere.
		ops := []helper.Op{
			{Kind: helper.OpMkdir, Path: root + "/new", Mode: 0o2750},
			{Kind: helper.OpCreate, Path: root + "/new/c", Mode: 0o640, Exclusive: true},
			{Kind: helper.OpRename, Path: root + "/new/c", Path2: root + "/new/c2", NoReplace: true},
			{Kind: helper.OpSymlink, Path: root + "/new/out", Target: root + "2/secret"},
			{Kind: helper.OpSetxattr, Path: root + "/new/c2", Name: "user.k", Value: "v"},
			{Kind: helper.OpMkdir, Path: root + "/new", Mode: 0o755},
			{Kind: helper.OpStat, Path: root + "/new/c2"},
		}
		got := opsCall(t, a, good, ops)
		for i, r := range got[:5] {
			if r.Errno != "" || i != 4 && r.Attr == nil {
				t.Errorf("op %d %s: %+v", i, ops[i].Kind, r)
			}
		}
		if got[0].Attr == nil || got[0].Attr.Type != helper.TypeDir || got[0].Attr.Perm != 0o2750 {
			t.Errorf("mkdir: %+v", got[0].Attr)
		}
		if string(got[3].Target) != root+"2/secret" {
			t.Errorf("symlink target %q", got[3].Target)
		}
		if got[5].Errno != "EEXIST" || got[6].Attr == nil || got[6].Attr.Perm != 0o640 || got[6].Attr.Ino != got[2].Attr.Ino {
			t.Errorf("answers %+v %+v", got[5], got[6])
		}
		if fi, err := os.Stat(root + "/new/c2"); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("new/c2: %v %v", fi, err)
		}
	})

	t.Run("read", func(t *testing.T) {
		data := make([]byte, 3<<20)
		for i := range data {
			data[i] = byte(i * 7)
		}
		build(t, root, [][2]string{{"r/fifo", "|"}, {"r/sub/", ""}})
		big := root + "/r/big\n\xff"
		if err := os.WriteFile(big, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(big)
		mtime := fi.ModTime().UnixNano()
		size := int64(len(data))
		read := func(req proto.ReadRequest) (int, []byte) {
			b, _ := json.Marshal(req)
			return call(t, http.MethodPost, a.base+proto.PathRead, good, bytes.NewReader(b))
		}
		for _, c := range []struct {
			name     string
			req      proto.ReadRequest
			from, to int64 // the bytes of data answered
		}{
			{"middle", proto.ReadRequest{Path: []byte(big), Offset: 1 << 20, Length: 4096, Size: size, MtimeNs: mtime}, 1 << 20, 1<<20 + 4096},
			{"size only", proto.ReadRequest{Path: []byte(big), Offset: 5, Length: 10, Size: size}, 5, 15},
			{"past the end", proto.ReadRequest{Path: []byte(big), Offset: size - 3, Length: 100, Size: size}, size - 3, size},
			{"at the end", proto.ReadRequest{Path: []byte(big), Offset: size, Length: 100, Size: size}, size, size},
			{"largest", proto.ReadRequest{Path: []byte(big), Offset: 0, Length: proto.MaxRead, Size: size}, 0, size},
		} {
			code, body := read(c.req)
			if code != 200 || !bytes.Equal(body, data[c.from:c.to]) {
				t.Errorf("%s: %d, %d bytes (%.80q), want bytes %d-%d", c.name, code, len(body), body, c.from, c.to)
			}
		}
		for _, c := range []struct {
			name  string
			req   proto.ReadRequest
			code  int
			errno string
		}{
			{"other size", proto.ReadRequest{Path: []byte(big), Length: 1, Size: size - 1}, 409, "ESTALE"},
			{"other mtime", proto.ReadRequest{Path: []byte(big), Length: 1, Size: size, MtimeNs: mtime + 1}, 409, "ESTALE"},
			{"missing", proto.ReadRequest{Path: []byte(root + "/r/none"), Length: 1}, 409, "ENOENT"},
			{"directory", proto.ReadRequest{Path: []byte(root + "/r/sub"), Length: 1}, 409, "EISDIR"},
			{"fifo", proto.ReadRequest{Path: []byte(root + "/r/fifo"), Length: 1}, 409, "EINVAL"},
			{"outside", proto.ReadRequest{Path: []byte(root + "2/secret"), Length: 1, Size: 1}, 409, "EACCES"},
			{"unclean", proto.ReadRequest{Path: []byte(root + "/../user2/secret"), Length: 1, Size: 1}, 409, "EACCES"},
			{"no length", proto.ReadRequest{Path: []byte(big), Size: size}, 400, ""},
			{"too long", proto.ReadRequest{Path: []byte(big), Length: proto.MaxRead + 1, Size: size}, 400, ""},
			{"negative offset", proto.ReadRequest{Path: []byte(big), Offset: -1, Length: 1, Size: size}, 400, ""},
		} {
			code, body := read(c.req)
			var f proto.Failure
			if code != c.code || c.errno != "" && (json.Unmarshal(body, &f) != nil || f.Errno != c.errno) {
				t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.code, c.errno)
			}
			if c.errno == "ESTALE" && (f.Size != size || f.MtimeNs != mtime) {
				t.Errorf("%s: the failure says version %d/%d, want %d/%d", c.name, f.Size, f.MtimeNs, size, mtime)
			}
		}
		if code, body := call(t, http.MethodGet, a.base+proto.PathRead, good, nil); code != 405 {
			t.Errorf("GET read: %d %s", code, body)
		}
	})

	t.Run("bad bodies", func(t *testing.T) {
		many := proto.Request{Ops: make([]proto.Op, proto.MaxOps+1)}
		for i := range many.Ops {
			many.Ops[i] = proto.Op{Kind: "stat", Path: []byte(root)}
		}
		manyJSON, _ := json.Marshal(many)
		huge := strings.Repeat(" ", proto.MaxBody) + `{"ops":[]}`
		for _, c := range []struct {
			body string
			code int
		}{
			{`{"ops":[]}`, 200},
			{`{"ops":[`, 400},
			{`not json`, 400},
			{`{"ops":[],"extra":1}`, 400},
			{`{"ops":[{"kind":"stat","path":"L2V0Yw==","bogus":true}]}`, 400},
			{`{"ops":[]} {"ops":[]}`, 400},
			{string(manyJSON), 400},
			{huge, 413},
		} {
			code, body := call(t, http.MethodPost, a.base+proto.PathOps, good, strings.NewReader(c.body))
			if code != c.code {
				t.Errorf("body %.40q: %d %s, want %d", c.body, code, body, c.code)
			}
		}
	})

	t.Run("write", func(t *testing.T) {
		build(t, root, [][2]string{{"w/fifo", "|"}, {"w/sub/", ""}})
		p := root + "/w/file\n\xfe"
		if err := os.WriteFile(p, []byte("0123456789abcdefghijklmnopqrstuvwxyz"), 0o640); err != nil {
			t.Fatal(err)
		}
		i64 := func(v int64) *int64 { return &v }
		write := func(req proto.WriteRequest, data string) (int, []byte) {
			head, _ := json.Marshal(req)
			return call(t, http.MethodPost, a.base+proto.PathWrite, good, strings.NewReader(string(head)+"\n"+data))
		}
		code, body := write(proto.WriteRequest{Path: []byte(p), TruncateTo: i64(20), Spans: [][2]int64{{2, 3}, {24, 2}}, Size: i64(30)}, "ABCyz")
		var res proto.WriteResult
		if code != 200 || json.Unmarshal(body, &res) != nil {
			t.Fatalf("write: %d %s", code, body)
		}
		want := "01ABC56789abcdefghij\x00\x00\x00\x00yz\x00\x00\x00\x00"
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("after the write: %q %v, want %q", got, err, want)
		}
		if fi, _ := os.Stat(p); res.Attr.Size != 30 || res.Attr.Perm != 0o640 || res.Attr.MtimeNs != fi.ModTime().UnixNano() {
			t.Errorf("answered %+v", res.Attr)
		}
		if code, body := write(proto.WriteRequest{Path: []byte(p), Spans: [][2]int64{{0, 1}}}, "Z"); code != 200 {
			t.Errorf("a span alone: %d %s", code, body)
		} else if got, _ := os.ReadFile(p); string(got) != "Z"+want[1:] {
			t.Errorf("a span alone made %q", got)
		}
		for _, c := range []struct {
			name  string
			req   proto.WriteRequest
			data  string
			code  int
			errno string
		}{
			{"missing", proto.WriteRequest{Path: []byte(root + "/w/none"), Spans: [][2]int64{{0, 1}}}, "x", 409, "ENOENT"},
			{"directory", proto.WriteRequest{Path: []byte(root + "/w/sub"), Size: i64(0)}, "", 409, "EISDIR"},
			{"fifo", proto.WriteRequest{Path: []byte(root + "/w/fifo"), Size: i64(0)}, "", 409, "EINVAL"},
			{"outside", proto.WriteRequest{Path: []byte(root + "2/secret"), Size: i64(0)}, "", 409, "EACCES"},
			{"short body", proto.WriteRequest{Path: []byte(p), Spans: [][2]int64{{0, 4}}}, "ab", 400, ""},
			{"long body", proto.WriteRequest{Path: []byte(p), Spans: [][2]int64{{0, 1}}}, "abc", 400, ""},
			{"empty span", proto.WriteRequest{Path: []byte(p), Spans: [][2]int64{{0, 0}}}, "", 400, ""},
			{"negative offset", proto.WriteRequest{Path: []byte(p), Spans: [][2]int64{{-1, 1}}}, "a", 400, ""},
			{"negative size", proto.WriteRequest{Path: []byte(p), Size: i64(-1)}, "", 400, ""},
			{"too much", proto.WriteRequest{Path: []byte(p), Spans: [][2]int64{{0, proto.MaxWrite}, {0, 1}}}, "", 400, ""},
		} {
			code, body := write(c.req, c.data)
			var f proto.Failure
			if code != c.code || c.errno != "" && (json.Unmarshal(body, &f) != nil || f.Errno != c.errno) {
				t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.code, c.errno)
			}
		}
		if _, err := os.Lstat(root + "2/secret"); err != nil {
			t.Errorf("the file outside the root: %v", err)
		}
		if b, _ := os.ReadFile(root + "2/secret"); string(b) != "s" {
			t.Errorf("the file outside the root was changed: %q", b)
		}
		if got, _ := os.ReadFile(p); string(got) != "Z"+want[1:] {
			t.Errorf("refused writes changed the file: %q", got)
		}
		if code, body := call(t, http.MethodPost, a.base+proto.PathWrite, good, strings.NewReader("no newline")); code != 400 {
			t.Errorf("no request line: %d %s", code, body)
		}
	})

	t.Run("bye", func(t *testing.T) {
		const byeID = "01HZX7Q3BYE"
		writeMount(t, stateDir, byeID, secret, root, 0o600)
		h := creds(byeID, secret)
		if code, body := call(t, http.MethodGet, a.base+proto.PathBye, h, nil); code != 405 {
			t.Errorf("GET bye: %d %s", code, body)
		}
		if code, body := call(t, http.MethodPost, a.base+proto.PathBye, h, nil); code != 204 {
			t.Fatalf("bye: %d %s", code, body)
		}
		if _, err := os.Lstat(filepath.Join(stateDir, mountsDir, byeID)); !os.IsNotExist(err) {
			t.Errorf("the mount's file after bye: %v", err)
		}
		for _, p := range []string{proto.PathHello, proto.PathBye} {
			if code, _ := call(t, http.MethodGet, a.base+p, h, nil); code != 401 {
				t.Errorf("%s after bye: %d, want 401", p, code)
			}
		}
		if code, _ := call(t, http.MethodGet, hello, good, nil); code != 200 {
			t.Errorf("another mount after bye: %d", code)
		}
	})

	t.Run("mount file changes", func(t *testing.T) {
		writeMount(t, stateDir, id, "a-longer-new-secret", root, 0o600)
		if code, _ := call(t, http.MethodGet, hello, good, nil); code != 401 {
			t.Errorf("old secret: %d, want 401", code)
		}
		if code, _ := call(t, http.MethodGet, hello, creds(id, "a-longer-new-secret"), nil); code != 200 {
			t.Errorf("new secret: %d, want 200", code)
		}
		os.Remove(filepath.Join(stateDir, mountsDir, id))
		if code, _ := call(t, http.MethodGet, hello, creds(id, "a-longer-new-secret"), nil); code != 401 {
			t.Errorf("removed mount: %d, want 401", code)
		}
	})

	t.Run("second agent", func(t *testing.T) {
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Options{StateDir: stateDir, Listen: "127.0.0.1:0", Idle: time.Minute, Version: "v-other", Stdout: &out})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("second Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the second Run did not return at once")
		}
		if out.String() != a.line {
			t.Errorf("second Run printed %q, want the first's %q", out.String(), a.line)
		}
	})

	cancel()
	if err := a.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, stateFile)); !os.IsNotExist(err) {
		t.Errorf("agent.json after exit: %v", err)
	}
}

func TestIdleExit(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	const idle = 300 * time.Millisecond
	a := startAgent(t, context.Background(), stateDir, idle)
	root := t.TempDir()
	writeMount(t, stateDir, "m", "s", root, 0o600)
	var last time.Time
	for i := 0; i < 3; i++ { // requests keep it alive
		last = time.Now()
		if code, body := call(t, http.MethodGet, a.base+proto.PathHello, creds("m", "s"), nil); code != 200 {
			t.Fatalf("hello: %d %s", code, body)
		}
		time.Sleep(idle / 2)
	}
	if err := a.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if since := time.Since(last); since < idle {
		t.Errorf("stopped %v after the last request, idle is %v", since, idle)
	}
	if _, err := os.Stat(filepath.Join(stateDir, stateFile)); !os.IsNotExist(err) {
		t.Errorf("agent.json after exit: %v", err)
	}
	if !strings.Contains(a.log.String(), "no request for") {
		t.Errorf("log:\n%s", a.log)
	}
	// The state directory serves a new agent at once.
	b := startAgent(t, context.Background(), stateDir, 50*time.Millisecond)
	if err := b.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestEventsEndpoint follows the change feed over HTTP: a starting point,
// a change below the root reported after it, bad queries refused.
func TestEventsEndpoint(t *testing.T) {
	base := t.TempDir()
	stateDir := filepath.Join(base, "state")
	root := filepath.Join(base, "home", "user")
	build(t, root, [][2]string{{"d/f", "x"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startAgent(t, ctx, stateDir, time.Minute)
	const id, secret = "01HZX7Q3EVENTS", "s3cret"
	writeMount(t, stateDir, id, secret, root, 0o600)
	h := creds(id, secret)
	get := func(query string) (int, proto.Events) {
		code, body := call(t, http.MethodGet, a.base+proto.PathEvents+query, h, nil)
		var ev proto.Events
		if code == http.StatusOK {
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatalf("events %s: %v: %s", query, err, body)
			}
		}
		return code, ev
	}
	code, start := get("")
	if code != http.StatusOK || start.Overflow || len(start.Paths) != 0 {
		t.Fatalf("starting point: %d %+v", code, start)
	}
	p := filepath.Join(root, "d", "new")
	if err := os.WriteFile(p, []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	seq, found := start.Seq, false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); {
		code, ev := get(fmt.Sprintf("?after=%d&wait=2", seq))
		if code != http.StatusOK || ev.Overflow {
			t.Fatalf("events: %d %+v", code, ev)
		}
		for _, q := range ev.Paths {
			found = found || string(q) == p
		}
		seq = ev.Seq
	}
	if !found {
		t.Fatalf("the change of %s was not reported", p)
	}
	for _, q := range []string{"?after=x", "?after=1&wait=-1", "?after=1&wait=61"} {
		if code, _ := get(q); code != http.StatusBadRequest {
			t.Errorf("events %s: %d, want 400", q, code)
		}
	}
	cancel()
	if err := a.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
