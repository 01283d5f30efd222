package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// read does a sync read that must succeed.
func (e *env) read(path string) wire.SyncReadResponse {
	e.t.Helper()
	status, b := e.call("POST", vm("/sync"), map[string]any{"op": "read", "path": path}, nil)
	if status != 200 {
		e.t.Fatalf("read %s: %d %s", path, status, b)
	}
	var r wire.SyncReadResponse
	mustJSON(e.t, b, &r)
	if !r.OK || r.Op != wire.OpRead {
		e.t.Fatalf("read answer %s", b)
	}
	return r
}

func TestReadInline(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		e.put("a/text.txt", []byte("héllo\n"))
		e.put("bin", []byte{0xff, 0x00, 0x80})
		e.put("empty", nil)
		for _, c := range []struct {
			path, enc, content string
			size               int64
		}{
			{"/home/user/a/text.txt", "utf8", "héllo\n", 7},
			{"/home/user/./a/../a/text.txt", "utf8", "héllo\n", 7},
			{"/home/user/bin", "base64", base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0x80}), 3},
			{"/home/user/empty", "utf8", "", 0},
		} {
			r := e.read(c.path)
			if r.Content == nil || *r.Content != c.content || r.Encoding != c.enc || r.Size != c.size || r.Path != c.path || r.PresignedURL != "" {
				t.Errorf("read %s: %+v", c.path, r)
			}
		}
		// /tmp is served from its own mapping.
		os.WriteFile(filepath.Join(e.tmp, "t"), []byte("tmp"), 0o644)
		if r := e.read("/tmp/t"); *r.Content != "tmp" {
			t.Errorf("read /tmp/t: %+v", r)
		}
	})
}

func TestReadRefusals(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		e.put("dir/f", []byte("x"))
		os.Symlink("/etc/passwd", filepath.Join(e.home, "out"))
		for _, c := range []struct {
			body   string
			status int
			code   string
		}{
			{`{"op":"read","path":"/home/user/missing"}`, 404, wire.CodeNotFound},
			{`{"op":"read","path":"/home/user/dir"}`, 400, wire.CodeBadRequest},
			{`{"op":"read","path":"home/user/dir/f"}`, 400, wire.CodeBadRequest},
			{`{"op":"read","path":""}`, 400, wire.CodeBadRequest},
			{`{"op":"read","path":"/etc/passwd"}`, 403, wire.CodeForbidden},
			{`{"op":"read","path":"/home/user/../../etc/passwd"}`, 403, wire.CodeForbidden},
			{`{"op":"read","path":"/home/user/out"}`, 403, wire.CodeForbidden},
			{`{"op":"read"}`, 400, wire.CodeBadRequest},
			{`{"op":"read","path":"/home/user/dir/f","path_encoding":"base64"}`, 400, wire.CodeBadRequest},
			{`{"op":"read","Path":"/home/user/dir/f"}`, 400, wire.CodeBadRequest},
			{`{"op":"read","path":null}`, 400, wire.CodeBadRequest},
			{`{"op":"read","path":7}`, 400, wire.CodeBadRequest},
			{`{"op":"read","path":"/home/user/dir/f"} {}`, 400, wire.CodeBadRequest},
			{`{"op":"stat","path":"/home/user/dir/f"}`, 400, wire.CodeBadRequest},
			{`{"path":"/home/user/dir/f"}`, 400, wire.CodeBadRequest},
			{`[]`, 400, wire.CodeBadRequest},
			{`not json`, 400, wire.CodeBadRequest},
		} {
			status, b := e.call("POST", vm("/sync"), c.body, nil)
			obj := e.wantError(status, b, c.status, c.code)
			if c.code == wire.CodeNotFound && l == wire.LineageA {
				if d, _ := obj["details"].(map[string]any); d["resource"] != "file" {
					t.Errorf("%s: %s", c.body, b)
				}
			}
		}
		// A JSON body with another content type is refused.
		status, b := e.call("POST", vm("/sync"), `{"op":"read","path":"/home/user/dir/f"}`, map[string]string{"Content-Type": "application/octet-stream"})
		e.wantError(status, b, 400, wire.CodeBadRequest)
	})
}

func TestUnknownFieldViolation(t *testing.T) {
	e := newEnv(t, wire.LineageA)
	status, b := e.call("POST", vm("/sync"), `{"op":"read","path":"/home/user/x","version":"1"}`, nil)
	obj := e.wantError(status, b, 400, wire.CodeBadRequest)
	if vs := violations(obj); len(vs) != 1 || vs[0] != "version" {
		t.Errorf("violations %v: %s", vs, b)
	}
}

// presigned fetches a presigned URL with an optional Range.
func (e *env) presigned(url, rng string) (*http.Response, []byte) {
	e.t.Helper()
	hdr := map[string]string{"Authorization": ""}
	if rng != "" {
		hdr["Range"] = rng
	}
	return e.do("GET", url, nil, hdr)
}

func TestReadPresigned(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l, func(o *Options) { o.InlineReadMax = 1000 })
		data := bytes.Repeat([]byte("0123456789"), 200)
		e.put("big", data)
		r := e.read("/home/user/big")
		if r.Content != nil || r.Encoding != "" || r.PresignedURL == "" || r.Method != "GET" || r.ExpiresIn == nil || *r.ExpiresIn <= 0 || r.Size != 2000 {
			t.Fatalf("presigned read: %+v", r)
		}
		if !strings.Contains(r.PresignedURL, "/_emulator/presigned/") {
			t.Errorf("URL %s", r.PresignedURL)
		}
		resp, b := e.presigned(r.PresignedURL, "")
		if resp.StatusCode != 200 || !bytes.Equal(b, data) {
			t.Fatalf("GET: %d, %d bytes", resp.StatusCode, len(b))
		}
		resp, b = e.presigned(r.PresignedURL, "bytes=10-19")
		if resp.StatusCode != 206 || string(b) != "0123456789" || resp.Header.Get("Content-Range") != "bytes 10-19/2000" {
			t.Fatalf("ranged GET: %d %q %q", resp.StatusCode, b, resp.Header.Get("Content-Range"))
		}
		resp, b = e.presigned(r.PresignedURL, "bytes=5000-")
		e.wantError(resp.StatusCode, b, 416, wire.CodeBadRequest)
		// A changed file is 412, never served.
		e.put("big", bytes.Repeat([]byte("x"), 2000))
		// Same size: the mtime must tell, so move it whatever the clock's resolution.
		later := time.Now().Add(time.Hour)
		if err := os.Chtimes(filepath.Join(e.home, "big"), later, later); err != nil {
			t.Fatal(err)
		}
		resp, b = e.presigned(r.PresignedURL, "")
		e.wantError(resp.StatusCode, b, 412, wire.CodeConflict)
		// A tampered token is 403.
		resp, b = e.presigned(r.PresignedURL+"x", "")
		e.wantError(resp.StatusCode, b, 403, wire.CodeForbidden)
		if n := e.s.Stats().Requests[EndpointPresignedGet]; n != 5 {
			t.Errorf("presigned.get counted %d", n)
		}
	})
}

func TestReadPresignedNoRangeAndExpiry(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	e := newEnv(t, wire.LineageB, func(o *Options) { o.InlineReadMax = 10; o.NoRange = true; o.Now = clock })
	e.put("f", []byte("0123456789abcdef"))
	r := e.read("/home/user/f")
	resp, b := e.presigned(r.PresignedURL, "bytes=0-3")
	if resp.StatusCode != 200 || string(b) != "0123456789abcdef" {
		t.Fatalf("NoRange: %d %q", resp.StatusCode, b)
	}
	now = now.Add(DefaultPresignTTL + time.Second)
	resp, b = e.presigned(r.PresignedURL, "")
	e.wantError(resp.StatusCode, b, 403, wire.CodeForbidden)
}

func TestChunkWrites(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		data := []byte("0123456789abcdefghij")
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		// Out of order, over three requests; the last one completes.
		res := e.write(chunk("/home/user/d/e/f.txt", "U1", data[10:15], 10, 20))
		if r := res[0]; r.Error != nil || r.Complete || r.Written || r.ReceivedBytes != 5 || len(r.Ranges) != 1 || r.Ranges[0] != (wire.ByteRange{Start: 10, End: 15}) {
			t.Fatalf("first chunk: %+v", r)
		}
		c2 := chunk("/home/user/d/e/f.txt", "U1", data[0:10], 0, 20)
		c3 := chunk("/home/user/d/e/f.txt", "U1", data[15:], 15, 20)
		c3["sha256"] = hexSum
		res = e.write(c2, c3)
		if r := res[0]; r.Error != nil || r.Complete || r.Written || r.ReceivedBytes != 15 {
			t.Fatalf("second chunk: %+v", r)
		}
		if r := res[1]; r.Error != nil || !r.Complete || !r.Written || r.ReceivedBytes != 20 || len(r.Ranges) != 1 || r.Ranges[0] != (wire.ByteRange{Start: 0, End: 20}) {
			t.Fatalf("last chunk: %+v", r)
		}
		if got := e.get("d/e/f.txt"); !bytes.Equal(got, data) {
			t.Fatalf("file %q", got)
		}
		if fi, _ := os.Stat(filepath.Join(e.home, "d/e/f.txt")); fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v", fi.Mode())
		}
		// A re-sent chunk of a written upload writes nothing and says written.
		os.WriteFile(filepath.Join(e.home, "d/e/f.txt"), []byte("changed on the VM"), 0o644)
		res = e.write(chunk("/home/user/d/e/f.txt", "U1", data[0:10], 0, 20))
		if r := res[0]; r.Error != nil || !r.Complete || !r.Written {
			t.Fatalf("re-sent chunk: %+v", r)
		}
		if got := e.get("d/e/f.txt"); string(got) != "changed on the VM" {
			t.Fatalf("written twice: %q", got)
		}
		// An existing file keeps its mode; zero-length files are one chunk.
		e.put("x.sh", []byte("old"))
		os.Chmod(filepath.Join(e.home, "x.sh"), 0o755)
		res = e.write(chunk("/home/user/x.sh", "U2", []byte("new"), 0, 3), chunk("/home/user/empty", "U3", nil, 0, 0))
		for _, r := range res {
			if r.Error != nil || !r.Complete || !r.Written {
				t.Fatalf("%+v", r)
			}
		}
		if fi, _ := os.Stat(filepath.Join(e.home, "x.sh")); fi.Mode().Perm() != 0o755 || string(e.get("x.sh")) != "new" {
			t.Errorf("x.sh: %v %q", fi.Mode(), e.get("x.sh"))
		}
		if got := e.get("empty"); len(got) != 0 {
			t.Errorf("empty: %q", got)
		}
		// No temporary file is left beside the targets.
		ents, _ := os.ReadDir(filepath.Join(e.home, "d/e"))
		if len(ents) != 1 {
			t.Errorf("d/e holds %d entries", len(ents))
		}
	})
}

func TestChunkEntryErrors(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		e.put("dir/keep", []byte("k"))
		bad := chunk("/home/user/s", "S1", []byte("abc"), 0, 3)
		bad["sha256"] = strings.Repeat("0", 64)
		big := chunk("/home/user/big", "B1", make([]byte, maxChunkBytes+1), 0, maxChunkBytes+1)
		short := chunk("/home/user/short", "H1", []byte("abc"), 0, 10)
		short["end"] = 5
		cases := []struct {
			entry    map[string]any
			code     string
			resource string
		}{
			{bad, wire.CodeBadRequest, ""},
			{big, wire.CodePayloadTooLarge, ""},
			{short, wire.CodeBadRequest, ""},
			{chunk("/home/user/o", "O1", []byte("abc"), 8, 10), wire.CodeBadRequest, ""},
			{chunk("relative", "R1", []byte("abc"), 0, 3), wire.CodeBadRequest, ""},
			{chunk("/etc/x", "E1", []byte("abc"), 0, 3), wire.CodeBadRequest, ""},
			{chunk("/home/user/dir", "D1", []byte("abc"), 0, 3), wire.CodeBadRequest, ""},
			{chunk("/home/user/n", "", []byte("abc"), 0, 3), wire.CodeBadRequest, ""},
			{map[string]any{"path": "/home/user/p", "size": 3, "presigned": true}, wire.CodeUnsupportedOperation, ""},
			{map[string]any{"path": "/home/user/p", "size": 3, "upload_id": "C1"}, wire.CodeUnsupportedOperation, ""},
		}
		entries := make([]map[string]any, len(cases))
		for i, c := range cases {
			entries[i] = c.entry
		}
		res := e.write(entries...)
		for i, c := range cases {
			r := res[i]
			if r.Error == nil || r.Error.Code != c.code || r.Written {
				t.Errorf("entry %d: %+v", i, r)
				continue
			}
			if l == wire.LineageB && r.Error.Details != nil {
				t.Errorf("entry %d details in lineage %s: %+v", i, l, r.Error)
			}
		}
		// The sha256 mismatch dropped the upload: the id begins anew.
		res = e.write(chunk("/home/user/s", "S1", []byte("abc"), 0, 3))
		if r := res[0]; r.Error != nil || !r.Written || string(e.get("s")) != "abc" {
			t.Errorf("after a mismatch: %+v", r)
		}
		// Same id, another path or size: conflict on the upload.
		e.write(chunk("/home/user/u", "K1", []byte("ab"), 0, 4))
		res = e.write(chunk("/home/user/v", "K1", []byte("cd"), 2, 4), chunk("/home/user/u", "K1", []byte("cd"), 2, 5))
		for i, r := range res {
			if r.Error == nil || r.Error.Code != wire.CodeConflict {
				t.Fatalf("conflict %d: %+v", i, r)
			}
			if l == wire.LineageA && (r.Error.Details == nil || r.Error.Details.Resource != wire.ResourceUpload) {
				t.Errorf("conflict details %+v", r.Error)
			}
		}
		if _, err := os.Stat(filepath.Join(e.home, "big")); err == nil {
			t.Error("an oversized chunk was written")
		}
	})
}

func TestChunkExpiry(t *testing.T) {
	now := time.Now()
	e := newEnv(t, wire.LineageA, func(o *Options) { o.Now = func() time.Time { return now } })
	e.write(chunk("/home/user/f", "X1", []byte("ab"), 0, 4))
	now = now.Add(uploadTTL + 2*ledgerSweepGap)
	res := e.write(chunk("/home/user/f", "X1", []byte("cd"), 2, 4))
	if r := res[0]; r.Error == nil || r.Error.Code != wire.CodeExpired || r.Error.Details == nil || r.Error.Details.Resource != wire.ResourceUpload {
		t.Fatalf("expired: %+v", r)
	}
}

func TestWriteRequestRefusals(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		ok := `{"path":"/home/user/f","size":1,"upload_id":"U","content":"eA==","start":0,"end":1}`
		for _, body := range []string{
			`{"op":"write"}`,
			`{"op":"write","writes":null}`,
			`{"op":"write","writes":{}}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `"path"`, `"type":"chunk","path"`, 1) + `]}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `"path"`, `"final":true,"path"`, 1) + `]}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `"path"`, `"offset":0,"path"`, 1) + `]}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `"path"`, `"path_encoding":"utf8","path"`, 1) + `]}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `"start":0`, `"start":-1`, 1) + `]}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `"start":0`, `"start":0.5`, 1) + `]}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `"size":1`, `"size":"1"`, 1) + `]}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `,"end":1`, ``, 1) + `]}`,
			`{"op":"write","writes":[` + strings.Replace(ok, `"start":0`, `"start":0,"sha256":"ABC"`, 1) + `]}`,
			`{"op":"write","writes":[{"path":"/home/user/f","size":1,"parts":[]}]}`,
			`{"op":"write","writes":[7]}`,
			`{"op":"write","writes":[],"path":"/home/user/f"}`,
		} {
			status, b := e.call("POST", vm("/sync"), body, nil)
			e.wantError(status, b, 400, wire.CodeBadRequest)
		}
		// sha256 null is allowed.
		res := e.write(map[string]any{"path": "/home/user/n", "size": 0, "upload_id": "N", "content": "", "start": 0, "end": 0, "sha256": nil, "is_secret": false})
		if res[0].Error != nil || !res[0].Written {
			t.Errorf("null sha256: %+v", res[0])
		}
	})
}

func TestWriteTooLarge(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		chunk4 := make([]byte, 4<<20)
		var entries []map[string]any
		for i := range 6 { // 24 MiB of content
			entries = append(entries, chunk("/home/user/big", "T1", chunk4, int64(i)*(4<<20), 24<<20))
		}
		status, b := e.call("POST", vm("/sync"), map[string]any{"op": "write", "writes": entries}, nil)
		obj := e.wantError(status, b, 413, wire.CodePayloadTooLarge)
		if l == wire.LineageA {
			if d, _ := obj["details"].(map[string]any); d["maximum_bytes"] != float64(wire.MaxSyncRequestContent) {
				t.Errorf("details %s", b)
			}
		}
		if n := e.s.Stats().Requests[EndpointSyncWrite]; n != 1 {
			t.Errorf("counted %d writes", n)
		}
		if _, err := os.Stat(filepath.Join(e.home, "big")); err == nil {
			t.Error("written")
		}
		// A body far over the cap is refused unread.
		huge := strings.Repeat("x", maxSyncBody+1)
		status, b = e.call("POST", vm("/sync"), `{"op":"write","writes":[],"x":"`+huge+`"}`, nil)
		e.wantError(status, b, 413, wire.CodePayloadTooLarge)
	})
}

func TestWriteThenReadThroughSync(t *testing.T) {
	e := newEnv(t, wire.LineageB)
	for i, n := range []int{0, 5, 4<<20 + 1} {
		data := bytes.Repeat([]byte{0xff}, n)
		id := fmt.Sprintf("R%d", i)
		var res []wire.SyncWriteResult
		for off := 0; off < n || off == 0; off += 4 << 20 {
			end := min(off+4<<20, n)
			res = e.write(chunk("/tmp/f"+id, id, data[off:end], int64(off), int64(n)))
			if n == 0 {
				break
			}
		}
		if r := res[0]; !r.Complete || !r.Written {
			t.Fatalf("%d bytes: %+v", n, r)
		}
		got, _ := os.ReadFile(filepath.Join(e.tmp, "f"+id))
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: got %d", n, len(got))
		}
	}
}
