package emulator

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// stream posts body to /sync-stream with the query q.
func (e *env) stream(q url.Values, body []byte) (int, []byte) {
	e.t.Helper()
	resp, b := e.do("POST", vm("/sync-stream")+"?"+q.Encode(), body, map[string]string{"Content-Type": "application/octet-stream"})
	return resp.StatusCode, b
}

func streamQ(path string, size int, kv ...string) url.Values {
	q := url.Values{"path": {path}, "size": {strconv.Itoa(size)}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func TestStreamWrite(t *testing.T) {
	e := newEnv(t, wire.LineageB)
	data := bytes.Repeat([]byte("stream!"), 1000)
	sum := sha256.Sum256(data)
	status, b := e.stream(streamQ("/home/user/a/b/c.bin", len(data), "sha256", hex.EncodeToString(sum[:])), data)
	var r wire.SyncStreamResponse
	mustJSON(t, b, &r)
	if status != 200 || !r.OK || r.Op != wire.OpWriteStream || r.Path != "/home/user/a/b/c.bin" || r.Size != int64(len(data)) || !r.Complete || r.Written == nil || !*r.Written || r.Extracted != nil {
		t.Fatalf("stream: %d %s", status, b)
	}
	if !bytes.Equal(e.get("a/b/c.bin"), data) {
		t.Fatal("content")
	}
	// Zero bytes, and a path that needs cleaning.
	status, b = e.stream(streamQ("/home/user/x/../empty", 0), nil)
	mustJSON(t, b, &r)
	if status != 200 || r.Path != "/home/user/empty" || len(e.get("empty")) != 0 {
		t.Fatalf("empty: %d %s", status, b)
	}
	// A wrong sha256 is a conflict and changes nothing.
	status, b = e.stream(streamQ("/home/user/a/b/c.bin", 3, "sha256", strings.Repeat("0", 64)), []byte("new"))
	e.wantError(status, b, 409, wire.CodeConflict)
	if !bytes.Equal(e.get("a/b/c.bin"), data) {
		t.Fatal("a refused stream changed the file")
	}
	for _, c := range []struct {
		q      url.Values
		body   string
		status int
		code   string
	}{
		{url.Values{"size": {"1"}}, "x", 400, wire.CodeBadRequest},
		{url.Values{"path": {"/home/user/f"}}, "x", 400, wire.CodeBadRequest},
		{streamQ("/home/user/f", -1), "", 400, wire.CodeBadRequest},
		{streamQ("/home/user/f", 1, "mode", "0644"), "x", 400, wire.CodeBadRequest},
		{streamQ("/home/user/f", 1, "offset", "0"), "x", 400, wire.CodeBadRequest},
		{streamQ("/home/user/f", 1, "extract", "zip"), "x", 400, wire.CodeBadRequest},
		{streamQ("/home/user/f", 1, "sha256", "XYZ"), "x", 400, wire.CodeBadRequest},
		{streamQ("/home/user/f", 5), "xy", 400, wire.CodeBadRequest},
		{streamQ("/home/user/f", 1), "xy", 400, wire.CodeBadRequest},
		{streamQ("home/user/f", 1), "x", 400, wire.CodeBadRequest},
		{streamQ("/etc/f", 1), "x", 403, wire.CodeForbidden},
	} {
		status, b := e.stream(c.q, []byte(c.body))
		e.wantError(status, b, c.status, c.code)
	}
	if _, err := os.Stat(filepath.Join(e.home, "f")); err == nil {
		t.Error("a refused stream wrote f")
	}
	if n := e.s.Stats().Requests[EndpointSyncStream]; n != 14 {
		t.Errorf("sync.stream counted %d", n)
	}
}

func TestStreamTooLarge(t *testing.T) {
	e := newEnv(t, wire.LineageB, func(o *Options) { o.StreamMax = 1000 })
	status, b := e.stream(streamQ("/home/user/f", 2000), make([]byte, 2000))
	e.wantError(status, b, 413, wire.CodePayloadTooLarge)
}

type tarEntry struct {
	name, link string
	typ        byte
	mode       int64
	data       string
}

func makeTar(t *testing.T, gz bool, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, en := range entries {
		hdr := &tar.Header{Name: en.name, Linkname: en.link, Typeflag: en.typ, Mode: en.mode, ModTime: mtime, Size: int64(len(en.data))}
		if en.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(en.data))
		}
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func TestStreamExtract(t *testing.T) {
	for _, ext := range []string{"tar", "tar.gz", "tgz"} {
		t.Run(ext, func(t *testing.T) {
			e := newEnv(t, wire.LineageB)
			e.put("dest/old", []byte("stays"))
			e.put("outside", []byte("x"))
			os.Symlink("../outside", filepath.Join(e.home, "dest/pre-link"))
			archive := makeTar(t, ext != "tar",
				tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
				tarEntry{name: "bin/", typ: tar.TypeDir, mode: 0o750},
				tarEntry{name: "bin/run.sh", typ: tar.TypeReg, mode: 0o755, data: "#!/bin/sh\n"},
				tarEntry{name: "a.txt", typ: tar.TypeReg, mode: 0o600, data: "aaa"},
				tarEntry{name: "deep/er/b.txt", typ: tar.TypeReg, mode: 0o644, data: "b"},
				tarEntry{name: "link", typ: tar.TypeSymlink, link: "a.txt"},
				tarEntry{name: "hard", typ: tar.TypeLink, link: "a.txt"},
				tarEntry{name: "pre-link", typ: tar.TypeReg, mode: 0o644, data: "replaced the link"},
			)
			status, b := e.stream(streamQ("/home/user/dest", len(archive), "extract", ext), archive)
			var r wire.SyncStreamResponse
			mustJSON(t, b, &r)
			if status != 200 || r.Op != wire.OpExtractStream || r.Extracted == nil || !*r.Extracted || r.Written != nil || !r.Complete || r.Path != "/home/user/dest" {
				t.Fatalf("extract: %d %s", status, b)
			}
			for rel, want := range map[string]string{"dest/bin/run.sh": "#!/bin/sh\n", "dest/a.txt": "aaa", "dest/deep/er/b.txt": "b", "dest/old": "stays", "dest/hard": "aaa", "dest/pre-link": "replaced the link", "outside": "x"} {
				if got := string(e.get(rel)); got != want {
					t.Errorf("%s = %q, want %q", rel, got, want)
				}
			}
			check := func(rel string, mode os.FileMode) {
				fi, err := os.Lstat(filepath.Join(e.home, rel))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != mode {
					t.Errorf("%s mode %v, want %v", rel, fi.Mode().Perm(), mode)
				}
				if !fi.ModTime().Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) {
					t.Errorf("%s mtime %v", rel, fi.ModTime())
				}
			}
			check("dest/bin/run.sh", 0o755)
			check("dest/a.txt", 0o600)
			check("dest/bin", 0o750)
			if l, err := os.Readlink(filepath.Join(e.home, "dest/link")); err != nil || l != "a.txt" {
				t.Errorf("symlink %q %v", l, err)
			}
		})
	}
}

func TestStreamExtractRefusesEscapes(t *testing.T) {
	e := newEnv(t, wire.LineageB)
	e.put("secret", []byte("keep"))
	os.MkdirAll(filepath.Join(e.home, "d"), 0o755)
	os.Symlink("..", filepath.Join(e.home, "d/up"))
	cases := map[string][]byte{
		"dotdot":        makeTar(t, false, tarEntry{name: "../secret", typ: tar.TypeReg, mode: 0o644, data: "pwned"}),
		"absolute":      makeTar(t, false, tarEntry{name: "/home/user/secret", typ: tar.TypeReg, mode: 0o644, data: "pwned"}),
		"hardlink":      makeTar(t, false, tarEntry{name: "h", typ: tar.TypeLink, link: "../secret"}),
		"through-link":  makeTar(t, true, tarEntry{name: "esc", typ: tar.TypeSymlink, link: ".."}, tarEntry{name: "esc/secret", typ: tar.TypeReg, mode: 0o644, data: "pwned"}),
		"existing-link": makeTar(t, false, tarEntry{name: "up/secret", typ: tar.TypeReg, mode: 0o644, data: "pwned"}),
	}
	for name, archive := range cases {
		status, b := e.stream(streamQ("/home/user/d", len(archive), "extract", "tar"), archive)
		if status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, status, b)
			continue
		}
		e.wantError(status, b, 400, wire.CodeBadRequest)
	}
	if got := string(e.get("secret")); got != "keep" {
		t.Fatalf("secret = %q", got)
	}
}
