package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/arker-ai/arkerfs/transport/wire"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// chunk is a one-entry final chunk write of data.
func chunk(path, id string, data []byte) wire.SyncWriteEntry {
	return wire.SyncWriteEntry{Type: wire.WriteChunk, Path: path, UploadID: id, Data: b64(data),
		Encoding: wire.EncodingBase64, Final: true, Size: ptr(int64(len(data))), SHA256: sha(data)}
}

func TestSyncBadPaths(t *testing.T) {
	e := newEnv(t)
	e.put("ok.txt", []byte("x"))
	for _, tc := range []struct {
		path, enc string
		errno     string
		status    int
	}{
		{"relative/a.txt", "", "", 400},
		{"home/user/a.txt", "", "", 400},
		{"/etc/passwd", "", "", 400},
		{"/home/username/a", "", "", 400},
		{"/home/user/../user/ok.txt", "", "", 400},
		{"/home/user/a/../../x", "", "", 400},
		{"/home/user/..", "", "", 400},
		{"", "", "", 400},
		{"!!notbase64", wire.EncodingBase64, "", 400},
		{b64([]byte("/home/user/a\x00b")), wire.EncodingBase64, "", 400},
		{"/home/user/x", "latin1", "", 400},
		{"/home/user", "", "EISDIR", 400},
		{"/home/user/", "", "EISDIR", 400},
		{"/home/user/missing", "", "ENOENT", 404},
		{"/home/user/ok.txt/sub", "", "ENOTDIR", 400},
	} {
		status, b := e.call(http.MethodPost, e.syncPath(), wire.SyncReadRequest{Path: tc.path, PathEncoding: tc.enc}, nil)
		if status != tc.status {
			t.Errorf("read %q: status %d, want %d: %s", tc.path, status, tc.status, b)
			continue
		}
		eb := errorOf(t, b)
		if eb.Errno != tc.errno || (tc.status == 400 && eb.Code != wire.CodeBadRequest) {
			t.Errorf("read %q: %+v, want errno %q", tc.path, eb, tc.errno)
		}
		// The same path refused for writes too.
		w := chunk(tc.path, "bad-"+tc.path, []byte("x"))
		w.PathEncoding = tc.enc
		res := e.write(w)[0]
		if tc.path == "/home/user/missing" {
			continue // a valid write target
		}
		if res.Error == nil {
			t.Errorf("write %q: no error", tc.path)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.home), "x")); err == nil {
		t.Error("a write escaped home")
	}
}

func TestSymlinkOutOfHomeRefused(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	if err := os.Symlink(outside, filepath.Join(e.home, "link")); err != nil {
		t.Fatal(err)
	}
	status, _, eb := e.read("/home/user/link/secret")
	if status != http.StatusForbidden {
		t.Fatalf("read through an escaping symlink: %d %+v", status, eb)
	}
	res := e.write(chunk("/home/user/link/new", "u-sym", []byte("x")))[0]
	if res.Error == nil {
		t.Fatal("write through an escaping symlink succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatal("a write landed outside home")
	}
}

func TestInlineRead(t *testing.T) {
	e := newEnv(t)
	data := []byte("hello\n")
	e.put("dir/a.txt", data)
	status, r, eb := e.read("/home/user/dir/a.txt")
	if status != 200 {
		t.Fatalf("read: %d %+v", status, eb)
	}
	if r.Content == nil || r.Encoding != wire.EncodingBase64 || *r.Content != b64(data) || r.Size != 6 {
		t.Fatalf("read = %+v", r)
	}
	if r.Path != "/home/user/dir/a.txt" || r.PresignedURL != "" || r.Version == "" || r.MtimeNs == 0 {
		t.Fatalf("read = %+v", r)
	}
	fi, _ := os.Stat(filepath.Join(e.home, "dir/a.txt"))
	if r.MtimeNs != fi.ModTime().UnixNano() {
		t.Errorf("mtime_ns %d, want %d", r.MtimeNs, fi.ModTime().UnixNano())
	}
	// The version changes with the content.
	e.put("dir/a.txt", []byte("hello, again\n"))
	_, r2, _ := e.read("/home/user/dir/a.txt")
	if r2.Version == r.Version {
		t.Error("version did not change")
	}
	// An empty file is inline too.
	e.put("empty", nil)
	_, r3, _ := e.read("/home/user/empty")
	if r3.Content == nil || *r3.Content != "" || r3.Size != 0 {
		t.Errorf("empty read = %+v", r3)
	}
	// The largest inline file.
	big := bytes.Repeat([]byte("z"), wire.InlineReadMax)
	e.put("max", big)
	_, r4, _ := e.read("/home/user/max")
	if r4.Content == nil || r4.Size != wire.InlineReadMax {
		t.Errorf("1 MiB file not inline: size %d url %q", r4.Size, r4.PresignedURL)
	}
}

func TestAwkwardNames(t *testing.T) {
	e := newEnv(t)
	name := []byte("we\xffird $(x) 'q'\nname")
	path := append([]byte("/home/user/"), name...)
	if err := os.WriteFile(filepath.Join(e.home, string(name)), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	status, b := e.call(http.MethodPost, e.syncPath(), wire.SyncReadRequest{Path: b64(path), PathEncoding: wire.EncodingBase64}, nil)
	if status != 200 {
		t.Fatalf("read: %d %s", status, b)
	}
	var r wire.SyncReadResponse
	mustUnmarshal(t, b, &r)
	if r.Path != b64(path) || r.PathEncoding != wire.EncodingBase64 {
		t.Errorf("path echoed as %q (%s)", r.Path, r.PathEncoding)
	}
	w := chunk(b64(append(path, '2')), "u-awk", []byte("two"))
	w.PathEncoding = wire.EncodingBase64
	res := e.write(w)[0]
	if res.Error != nil || res.Path != w.Path || res.PathEncoding != wire.EncodingBase64 {
		t.Fatalf("write = %+v", res)
	}
	if got := e.get(string(name) + "2"); string(got) != "two" {
		t.Errorf("content %q", got)
	}
}

func TestChunkWriteSingle(t *testing.T) {
	e := newEnv(t)
	data := []byte("small file\n")
	w := chunk("/home/user/a.txt", "u1", data)
	w.Mode = ptr(uint32(0o600))
	res := e.write(w, chunk("/home/user/b.txt", "u2", []byte("b")))
	for _, r := range res {
		if r.Error != nil || !r.Committed {
			t.Fatalf("result %+v", r)
		}
	}
	if res[0].Type != wire.WriteChunk || res[0].Path != "/home/user/a.txt" || res[0].UploadID != "u1" {
		t.Errorf("echo: %+v", res[0])
	}
	if res[0].Size != int64(len(data)) || res[0].SHA256 != sha(data) || res[0].Version == "" || res[0].Ino == 0 || res[0].MtimeNs == 0 {
		t.Errorf("result %+v", res[0])
	}
	if got := e.get("a.txt"); !bytes.Equal(got, data) {
		t.Errorf("content %q", got)
	}
	fi, _ := os.Stat(filepath.Join(e.home, "a.txt"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if fi2, _ := os.Stat(filepath.Join(e.home, "b.txt")); fi2.Mode().Perm() != 0o644 {
		t.Errorf("default mode %v", fi2.Mode())
	}
	// The version of the write is the version a read sees.
	_, r, _ := e.read("/home/user/a.txt")
	if r.Version != res[0].Version {
		t.Errorf("read version %s, write version %s", r.Version, res[0].Version)
	}
	// Rewriting keeps the existing mode, even when a mode is sent.
	w2 := chunk("/home/user/a.txt", "u3", []byte("new"))
	w2.Mode = ptr(uint32(0o755))
	if r := e.write(w2)[0]; r.Error != nil {
		t.Fatal(r.Error)
	}
	if fi, _ := os.Stat(filepath.Join(e.home, "a.txt")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after rewrite %v", fi.Mode())
	}
	// Nothing of the staging is left in home.
	ents, _ := os.ReadDir(e.home)
	if len(ents) != 2 {
		t.Errorf("home holds %d entries", len(ents))
	}
}

func TestChunkWriteMulti(t *testing.T) {
	e := newEnv(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	parts := [][]byte{data[:400000], data[400000:800000], data[800000:]}
	off := int64(0)
	for i, p := range parts {
		w := wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/multi", UploadID: "m1",
			Offset: off, Data: b64(p), Encoding: wire.EncodingBase64}
		if i == len(parts)-1 {
			w.Final, w.Size, w.SHA256 = true, ptr(int64(len(data))), sha(data)
		}
		r := e.write(w)[0]
		if r.Error != nil || r.Written != int64(len(p)) {
			t.Fatalf("chunk %d: %+v", i, r)
		}
		if i < len(parts)-1 {
			if r.Committed {
				t.Fatalf("chunk %d committed", i)
			}
			if _, err := os.Stat(filepath.Join(e.home, "multi")); err == nil {
				t.Fatalf("file visible before the final chunk")
			}
		} else if !r.Committed || r.SHA256 != sha(data) {
			t.Fatalf("final: %+v", r)
		}
		off += int64(len(p))
	}
	if !bytes.Equal(e.get("multi"), data) {
		t.Fatal("content differs")
	}
	// Out of order and resent chunks still give the right file (hashed at commit).
	order := []int{2, 0, 1, 0}
	offs := []int64{0, 400000, 800000}
	for i, k := range order {
		w := wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/multi2", UploadID: "m2",
			Offset: offs[k], Data: b64(parts[k]), Encoding: wire.EncodingBase64}
		if i == len(order)-1 {
			w.Final, w.SHA256 = true, sha(data)
		}
		if r := e.write(w)[0]; r.Error != nil {
			t.Fatalf("chunk %d: %+v", i, r.Error)
		}
	}
	if !bytes.Equal(e.get("multi2"), data) {
		t.Fatal("content differs")
	}
}

func TestChunkWriteTruncatesToSize(t *testing.T) {
	e := newEnv(t)
	e.write(wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/t", UploadID: "t1", Data: b64([]byte("abcdef"))})
	r := e.write(wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/t", UploadID: "t1", Final: true, Size: ptr(int64(3))})[0]
	if r.Error != nil || r.Size != 3 || string(e.get("t")) != "abc" {
		t.Fatalf("result %+v, content %q", r, e.get("t"))
	}
	r = e.write(wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/t2", UploadID: "t2", Data: b64([]byte("ab")), Final: true, Size: ptr(int64(5))})[0]
	if r.Error == nil || r.Error.Code != wire.CodeBadRequest {
		t.Fatalf("size past the data: %+v", r)
	}
}

func TestIdempotentReplayAfterCommit(t *testing.T) {
	e := newEnv(t)
	first := chunk("/home/user/f", "id-1", []byte("first"))
	r1 := e.write(first)[0]
	if r1.Error != nil {
		t.Fatal(r1.Error)
	}
	r2 := e.write(chunk("/home/user/f", "id-2", []byte("second, later")))[0]
	if r2.Error != nil {
		t.Fatal(r2.Error)
	}
	fi1, _ := os.Stat(filepath.Join(e.home, "f"))
	// A retry of the first write answers its stored result and writes nothing.
	again := e.write(first)[0]
	if again.Error != nil || !again.Committed || again.Version != r1.Version || again.SHA256 != r1.SHA256 {
		t.Fatalf("replay = %+v, first = %+v", again, r1)
	}
	fi2, _ := os.Stat(filepath.Join(e.home, "f"))
	if got := e.get("f"); string(got) != "second, later" {
		t.Fatalf("replay rewrote the file: %q", got)
	}
	if !fi1.ModTime().Equal(fi2.ModTime()) {
		t.Fatal("replay touched the file")
	}
	// A replayed non-final chunk writes nothing either.
	nf := first
	nf.Final = false
	if r := e.write(nf)[0]; r.Error != nil || r.Committed {
		t.Fatalf("replayed non-final chunk: %+v", r)
	}
	// A commit entry for the same id replays too.
	if r := e.write(wire.SyncWriteEntry{Type: wire.WriteCommit, Path: "/home/user/f", UploadID: "id-1"})[0]; r.Error != nil || r.Version != r1.Version {
		t.Fatalf("commit replay: %+v", r)
	}
	// The same id for another path is a conflict.
	if r := e.write(chunk("/home/user/g", "id-1", []byte("first")))[0]; r.Error == nil || r.Error.Code != wire.CodeConflict {
		t.Fatalf("id reused for another path: %+v", r)
	}
}

func TestWriteErrorsPerEntry(t *testing.T) {
	e := newEnv(t)
	if err := os.Mkdir(filepath.Join(e.home, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := chunk("/home/user/bad", "s1", []byte("data"))
	bad.SHA256 = sha([]byte("other"))
	res := e.write(
		chunk("/home/user/nodir/x", "p1", []byte("x")),
		chunk("/home/user/adir", "d1", []byte("x")),
		bad,
		chunk("/home/user/fine", "ok1", []byte("fine")),
		wire.SyncWriteEntry{Type: "bogus", Path: "/home/user/z", UploadID: "z"},
		wire.SyncWriteEntry{Type: wire.WriteCommit, Path: "/home/user/z", UploadID: "never-started"},
		wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/z", UploadID: ""},
		wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/z", UploadID: "z1", Data: "***"},
		wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/z", UploadID: "z2", Offset: -1},
		wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/z", UploadID: "z3", Data: b64(make([]byte, wire.ChunkSize+1))},
	)
	want := []struct{ code, errno string }{
		{wire.CodeNotFound, "ENOENT"},
		{wire.CodeBadRequest, "EISDIR"},
		{wire.CodeConflict, ""},
		{"", ""},
		{wire.CodeBadRequest, ""},
		{wire.CodeNotFound, ""},
		{wire.CodeBadRequest, ""},
		{wire.CodeBadRequest, ""},
		{wire.CodeBadRequest, ""},
		{wire.CodeBadRequest, ""},
	}
	for i, w := range want {
		r := res[i]
		if w.code == "" {
			if r.Error != nil || !r.Committed {
				t.Errorf("entry %d: %+v", i, r)
			}
			continue
		}
		if r.Error == nil || r.Error.Code != w.code || r.Error.Errno != w.errno {
			t.Errorf("entry %d: error %+v, want %s/%s", i, r.Error, w.code, w.errno)
		}
	}
	if string(e.get("fine")) != "fine" {
		t.Error("the good entry did not land")
	}
	if _, err := os.Stat(filepath.Join(e.home, "bad")); err == nil {
		t.Error("a file with a sha256 mismatch landed")
	}
	// After a mismatch the upload is still open: sending the right bytes fixes it.
	if r := e.write(chunk("/home/user/bad", "s1", []byte("other")))[0]; r.Error != nil {
		t.Errorf("retry after mismatch: %+v", r.Error)
	}
}

func TestHardLinkedFileRewrittenInPlace(t *testing.T) {
	e := newEnv(t)
	e.put("orig", []byte("old"))
	if err := os.Link(filepath.Join(e.home, "orig"), filepath.Join(e.home, "link")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(filepath.Join(e.home, "orig"))
	r := e.write(chunk("/home/user/orig", "h1", []byte("new content")))[0]
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if got := e.get("link"); string(got) != "new content" {
		t.Fatalf("link sees %q", got)
	}
	after, _ := os.Stat(filepath.Join(e.home, "orig"))
	if before.Sys().(*syscall.Stat_t).Ino != after.Sys().(*syscall.Stat_t).Ino || r.Ino != after.Sys().(*syscall.Stat_t).Ino {
		t.Error("the inode changed")
	}
	// A plain file is replaced by rename: a new inode.
	e.put("plain", []byte("old"))
	b1, _ := os.Stat(filepath.Join(e.home, "plain"))
	e.write(chunk("/home/user/plain", "h2", []byte("new")))
	b2, _ := os.Stat(filepath.Join(e.home, "plain"))
	if b1.Sys().(*syscall.Stat_t).Ino == b2.Sys().(*syscall.Stat_t).Ino {
		t.Error("a plain file was not replaced by rename")
	}
}

func TestPayloadTooLarge(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"writes":[{"type":"chunk","path":"/home/user/x","upload_id":"big","data":"` +
		strings.Repeat("A", wire.MaxSyncBody) + `"}]}`)
	resp, b, err := e.request(http.MethodPost, e.syncPath(), body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorOf(t, b).Code != wire.CodePayloadTooLarge {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if _, err := os.Stat(filepath.Join(e.home, "x")); err == nil {
		t.Fatal("file written")
	}
	run := []byte(`{"command":"` + strings.Repeat(" ", wire.MaxRunBody) + `true"}`)
	resp, b, err = e.request(http.MethodPost, e.runPath(), run, nil)
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("run: %v %d %s", err, resp.StatusCode, b)
	}
}

func TestSyncMalformedBody(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{`not json`, `{"path":"/home/user/a","writes":[]}`, `{}`} {
		resp, b, err := e.request(http.MethodPost, e.syncPath(), []byte(body), nil)
		if err != nil || resp.StatusCode != 400 {
			t.Errorf("%s: %v %d %s", body, err, resp.StatusCode, b)
		}
	}
}
