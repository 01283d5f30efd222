package emulator

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// bigFile puts a file just over the inline limit into home and returns
// its content.
func bigFile(t *testing.T, e *env, rel string) []byte {
	t.Helper()
	data := make([]byte, wire.InlineReadMax+1000)
	rand.Read(data)
	e.put(rel, data)
	return data
}

// presigned does a sync read that must answer a presigned URL.
func (e *env) presigned(path string) wire.SyncReadResponse {
	e.t.Helper()
	status, r, eb := e.read(path)
	if status != 200 || r.PresignedURL == "" || r.Content != nil || r.Method != http.MethodGet {
		e.t.Fatalf("read %s: %d %+v %+v", path, status, r, eb)
	}
	return r
}

func TestPresignedRead(t *testing.T) {
	e := newEnv(t)
	data := bigFile(t, e, "big.bin")
	r := e.presigned("/home/user/big.bin")
	if r.Size != int64(len(data)) || r.Version == "" || r.ExpiresAt == "" {
		t.Fatalf("read = %+v", r)
	}
	if exp, err := time.Parse(time.RFC3339, r.ExpiresAt); err != nil || exp.Before(time.Now().Add(wire.PresignTTL-time.Minute)) {
		t.Errorf("expires_at %q", r.ExpiresAt)
	}
	if !strings.HasPrefix(r.PresignedURL, e.url+wire.PathBlob) {
		t.Fatalf("url %q", r.PresignedURL)
	}
	size := int64(len(data))
	for _, tc := range []struct {
		rng    string
		status int
		want   []byte
		cr     string
	}{
		{"", 200, data, ""},
		{"bytes=0-99", 206, data[:100], fmt.Sprintf("bytes 0-99/%d", size)},
		{"bytes=1000-", 206, data[1000:], fmt.Sprintf("bytes 1000-%d/%d", size-1, size)},
		{"bytes=-10", 206, data[size-10:], fmt.Sprintf("bytes %d-%d/%d", size-10, size-1, size)},
		{fmt.Sprintf("bytes=%d-%d", size-5, size+100), 206, data[size-5:], fmt.Sprintf("bytes %d-%d/%d", size-5, size-1, size)},
		{fmt.Sprintf("bytes=%d-", size), 416, nil, fmt.Sprintf("bytes */%d", size)},
		{fmt.Sprintf("bytes=%d-%d", size+10, size+20), 416, nil, fmt.Sprintf("bytes */%d", size)},
		{"bytes=0-1,5-6", 400, nil, ""},
		{"bytes=9-3", 400, nil, ""},
		{"items=0-1", 400, nil, ""},
	} {
		// Blob URLs need no Authorization.
		resp, b, err := e.request(http.MethodGet, r.PresignedURL, nil, map[string]string{"Authorization": "", "Range": tc.rng})
		if err != nil {
			t.Fatalf("%q: %v", tc.rng, err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%q: status %d, want %d: %.200s", tc.rng, resp.StatusCode, tc.status, b)
			continue
		}
		if tc.want != nil && !bytes.Equal(b, tc.want) {
			t.Errorf("%q: %d bytes differ", tc.rng, len(b))
		}
		if got := resp.Header.Get("Content-Range"); got != tc.cr {
			t.Errorf("%q: Content-Range %q, want %q", tc.rng, got, tc.cr)
		}
	}
	// HEAD answers the headers only.
	resp, b, err := e.request(http.MethodHead, r.PresignedURL, nil, nil)
	if err != nil || resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != size {
		t.Fatalf("HEAD: %v %v %d", err, resp, len(b))
	}
}

func TestPresignedReadVersionMismatch(t *testing.T) {
	e := newEnv(t)
	bigFile(t, e, "big.bin")
	r := e.presigned("/home/user/big.bin")
	bigFile(t, e, "big.bin") // rewritten: a new version
	resp, b, err := e.request(http.MethodGet, r.PresignedURL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	eb := errorOf(t, b)
	if resp.StatusCode != http.StatusPreconditionFailed || eb.Code != wire.CodeConflict || eb.Errno != "ESTALE" {
		t.Fatalf("%d %+v", resp.StatusCode, eb)
	}
	os.Remove(filepath.Join(e.home, "big.bin"))
	resp, b, _ = e.request(http.MethodGet, r.PresignedURL, nil, nil)
	if resp.StatusCode != 404 || errorOf(t, b).Errno != "ENOENT" {
		t.Fatalf("removed file: %d %s", resp.StatusCode, b)
	}
}

func TestPresignedExpiryAndSignature(t *testing.T) {
	var now time.Time
	clock := func() time.Time { return now }
	now = time.Now()
	e := newEnv(t, func(o *Options) { o.Now = clock; o.PresignTTL = time.Minute })
	bigFile(t, e, "big.bin")
	r := e.presigned("/home/user/big.bin")
	get := func(url string) (int, wire.ErrorBody) {
		resp, b, err := e.request(http.MethodGet, url, nil, map[string]string{"Range": "bytes=0-0"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 206 {
			return 206, wire.ErrorBody{}
		}
		return resp.StatusCode, errorOf(t, b)
	}
	if st, _ := get(r.PresignedURL); st != 206 {
		t.Fatalf("fresh URL: %d", st)
	}
	now = now.Add(61 * time.Second)
	if st, eb := get(r.PresignedURL); st != 403 || eb.Code != wire.CodeForbidden || eb.Message != "presigned URL expired" {
		t.Fatalf("expired URL: %d %+v", st, eb)
	}
	r = e.presigned("/home/user/big.bin")
	token := strings.TrimPrefix(r.PresignedURL, e.url+wire.PathBlob)
	payload, sig, _ := strings.Cut(token, ".")
	tampered := []byte(sig)
	tampered[3] ^= 1
	for name, tok := range map[string]string{
		"bad signature": payload + "." + string(tampered),
		"no signature":  payload,
		"garbage":       "!!!.???",
		"other secret":  otherSecretToken(t, e, r),
	} {
		if st, eb := get(e.url + wire.PathBlob + tok); st != 403 || eb.Code != wire.CodeForbidden || eb.Message == "presigned URL expired" {
			t.Errorf("%s: %d %+v", name, st, eb)
		}
	}
	// A GET URL cannot be PUT to.
	resp, _, _ := e.request(http.MethodPut, r.PresignedURL, []byte("x"), nil)
	if resp.StatusCode != 403 {
		t.Errorf("PUT to a GET URL: %d", resp.StatusCode)
	}
}

// otherSecretToken signs the claims of r's URL with another server's key.
func otherSecretToken(t *testing.T, e *env, r wire.SyncReadResponse) string {
	other, err := New(Options{Home: e.home, Token: "x", Secret: []byte("another key")})
	if err != nil {
		t.Fatal(err)
	}
	exp, _ := other.expiry()
	return other.sign(claims{VM: "local", Path: []byte("/home/user/big.bin"), Op: opGet, Version: r.Version, Expires: exp})
}

func TestPresignedReadCutWhenFileChanges(t *testing.T) {
	e := newEnv(t)
	const size = 64 << 20 // well over what socket buffers hold
	f, err := os.Create(filepath.Join(e.home, "huge"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	r := e.presigned("/home/user/huge")
	req, _ := http.NewRequest(http.MethodGet, r.PresignedURL, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	// Rewrite in place, same size: only the version changes.
	if _, err := f.WriteAt([]byte("changed"), size/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil || n+(1<<20) >= size {
		t.Fatalf("read %d more bytes, err %v: a changing file was served whole", n, err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("cut with %v", err)
	}
}

func TestPresignedReadLargeOffsets(t *testing.T) {
	e := newEnv(t)
	const size = 5 << 30 // sparse: past 4 GiB without using the disk
	f, err := os.Create(filepath.Join(e.home, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	tail := []byte("the end")
	if _, err := f.WriteAt(tail, size-int64(len(tail))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := e.presigned("/home/user/sparse")
	if r.Size != size {
		t.Fatalf("size %d", r.Size)
	}
	resp, b, err := e.request(http.MethodGet, r.PresignedURL, nil, map[string]string{"Range": "bytes=" + strconv.Itoa(size-100) + "-"})
	if err != nil || resp.StatusCode != 206 || !bytes.HasSuffix(b, tail) || len(b) != 100 {
		t.Fatalf("%v %v %q", err, resp.Status, b)
	}
}

// presign asks for presigned PUT URLs.
func (e *env) presign(path, id string, size, partSize int64) wire.SyncWriteResult {
	e.t.Helper()
	r := e.write(wire.SyncWriteEntry{Type: wire.WritePresign, Path: path, UploadID: id, Size: &size, PartSize: partSize})[0]
	if r.Error != nil {
		e.t.Fatalf("presign: %+v", r.Error)
	}
	return r
}

func (e *env) putPart(p wire.PresignedPart, data []byte) (int, []byte) {
	e.t.Helper()
	resp, b, err := e.request(p.Method, p.URL, data[p.Range.Offset:p.Range.Offset+p.Range.Length], map[string]string{"Authorization": ""})
	if err != nil {
		e.t.Fatalf("PUT part %d: %v", p.Part, err)
	}
	return resp.StatusCode, b
}

func TestPresignedUpload(t *testing.T) {
	e := newEnv(t)
	data := make([]byte, 2<<20+12345)
	rand.Read(data)
	const partSize = 1 << 20
	r := e.presign("/home/user/up.bin", "pu1", int64(len(data)), partSize)
	if len(r.Parts) != 3 || r.ExpiresAt == "" {
		t.Fatalf("presign = %+v", r)
	}
	for i, p := range r.Parts {
		if p.Part != i+1 || p.Method != http.MethodPut || p.Range.Offset != int64(i)*partSize {
			t.Fatalf("part %+v", p)
		}
	}
	if last := r.Parts[2]; last.Range.Length != int64(len(data))-2*partSize {
		t.Fatalf("last part %+v", last)
	}
	// Parts in any order; nothing visible before the commit.
	for _, i := range []int{2, 0} {
		if st, b := e.putPart(r.Parts[i], data); st != 200 {
			t.Fatalf("PUT part %d: %d %s", i+1, st, b)
		}
	}
	commit := wire.SyncWriteEntry{Type: wire.WriteCommit, Path: "/home/user/up.bin", UploadID: "pu1",
		Size: ptr(int64(len(data))), SHA256: sha(data), Mode: ptr(uint32(0o640))}
	if c := e.write(commit)[0]; c.Error == nil || c.Error.Code != wire.CodeBadRequest || !strings.Contains(c.Error.Message, "part 2") {
		t.Fatalf("commit with a missing part: %+v", c)
	}
	if _, err := os.Stat(filepath.Join(e.home, "up.bin")); err == nil {
		t.Fatal("visible before commit")
	}
	// Fresh URLs for the same layout keep the parts already received.
	r = e.presign("/home/user/up.bin", "pu1", int64(len(data)), partSize)
	// A body of the wrong length is refused.
	p := r.Parts[1]
	resp, _, err := e.request(http.MethodPut, p.URL, data[:10], nil)
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("short PUT: %v %v", err, resp.Status)
	}
	if st, b := e.putPart(p, data); st != 200 {
		t.Fatalf("PUT part 2: %d %s", st, b)
	}
	bad := commit
	bad.SHA256 = sha([]byte("nope"))
	if c := e.write(bad)[0]; c.Error == nil || c.Error.Code != wire.CodeConflict {
		t.Fatalf("commit with a wrong sha256: %+v", c)
	}
	c := e.write(commit)[0]
	if c.Error != nil || !c.Committed || c.SHA256 != sha(data) || c.Size != int64(len(data)) {
		t.Fatalf("commit: %+v", c)
	}
	if !bytes.Equal(e.get("up.bin"), data) {
		t.Fatal("content differs")
	}
	if fi, _ := os.Stat(filepath.Join(e.home, "up.bin")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	// After the commit: a late PUT is accepted and ignored, a commit replays.
	if st, _ := e.putPart(r.Parts[0], make([]byte, len(data))); st != 200 {
		t.Errorf("late PUT: %d", st)
	}
	if !bytes.Equal(e.get("up.bin"), data) {
		t.Fatal("a late PUT changed the file")
	}
	if c2 := e.write(commit)[0]; c2.Error != nil || c2.Version != c.Version {
		t.Fatalf("commit replay: %+v", c2)
	}
	if r := e.write(wire.SyncWriteEntry{Type: wire.WritePresign, Path: "/home/user/up.bin", UploadID: "pu1", Size: ptr(int64(1))})[0]; r.Error == nil || r.Error.Code != wire.CodeConflict {
		t.Fatalf("presign after commit: %+v", r)
	}
}

func TestPresignedUploadEdgeCases(t *testing.T) {
	e := newEnv(t)
	// An empty file has no parts.
	r := e.presign("/home/user/empty", "e0", 0, 0)
	if len(r.Parts) != 0 {
		t.Fatalf("parts %+v", r.Parts)
	}
	if c := e.write(wire.SyncWriteEntry{Type: wire.WriteCommit, Path: "/home/user/empty", UploadID: "e0"})[0]; c.Error != nil || c.Size != 0 {
		t.Fatalf("commit: %+v", c)
	}
	// The default part size.
	r = e.presign("/home/user/d", "e1", wire.PartSize+1, 0)
	if len(r.Parts) != 2 || r.Parts[1].Range.Length != 1 {
		t.Fatalf("default part size: %+v", r.Parts)
	}
	// Re-laid out with another part size: old URLs no longer fit.
	old := r.Parts[0]
	e.presign("/home/user/d", "e1", wire.PartSize+1, 1<<20)
	resp, _, _ := e.request(http.MethodPut, old.URL, make([]byte, old.Range.Length), nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("PUT with a stale layout: %d", resp.StatusCode)
	}
	// Sizes and part counts out of range.
	for _, w := range []wire.SyncWriteEntry{
		{Type: wire.WritePresign, Path: "/home/user/x", UploadID: "e2"},
		{Type: wire.WritePresign, Path: "/home/user/x", UploadID: "e3", Size: ptr(int64(-1))},
		{Type: wire.WritePresign, Path: "/home/user/x", UploadID: "e4", Size: ptr(int64(maxParts + 1)), PartSize: 1},
		{Type: wire.WriteCommit, Path: "/home/user/d", UploadID: "e1", Size: ptr(int64(5))},
	} {
		if r := e.write(w)[0]; r.Error == nil || r.Error.Code != wire.CodeBadRequest {
			t.Errorf("%+v: %+v", w, r)
		}
	}
	// A PUT for an upload the server does not know.
	token := e.s.sign(claims{VM: "local", Path: []byte("/home/user/q"), Op: opPut, Upload: "unknown", Part: 1, Length: 1, Expires: time.Now().Add(time.Hour).Unix()})
	resp, b, _ := e.request(http.MethodPut, e.url+wire.PathBlob+token, []byte("x"), nil)
	if resp.StatusCode != 404 {
		t.Errorf("PUT for an unknown upload: %d %s", resp.StatusCode, b)
	}
}

// A presign with another size and the same part size keeps the full parts
// both layouts share, and their URLs stay good: a file can be uploaded
// while it grows. Another part size starts over.
func TestPresignedUploadGrowingLayout(t *testing.T) {
	e := newEnv(t)
	const partSize = 1 << 20
	data := make([]byte, 5*partSize+777)
	rand.Read(data)
	const path, id = "/home/user/grow.bin", "grow1"
	early := e.presign(path, id, 4*partSize, partSize) // provisional size
	for _, i := range []int{0, 1, 2} {
		if st, b := e.putPart(early.Parts[i], data); st != 200 {
			t.Fatalf("PUT part %d: %d %s", i+1, st, b)
		}
	}
	final := e.presign(path, id, int64(len(data)), partSize)
	if len(final.Parts) != 6 {
		t.Fatalf("final layout has %d parts", len(final.Parts))
	}
	// An early URL of a part full in both layouts is still accepted.
	if st, b := e.putPart(early.Parts[3], data); st != 200 {
		t.Fatalf("early URL of part 4: %d %s", st, b)
	}
	for _, i := range []int{4, 5} {
		if st, b := e.putPart(final.Parts[i], data); st != 200 {
			t.Fatalf("PUT part %d: %d %s", i+1, st, b)
		}
	}
	c := e.write(wire.SyncWriteEntry{Type: wire.WriteCommit, Path: path, UploadID: id,
		Size: ptr(int64(len(data))), SHA256: sha(data)})[0]
	if c.Error != nil || !c.Committed {
		t.Fatalf("commit: %+v", c)
	}
	if !bytes.Equal(e.get("grow.bin"), data) {
		t.Fatal("content differs")
	}

	// Shrinking keeps only the full parts inside the smaller size, and a
	// new part size forgets everything.
	const id2 = "grow2"
	r := e.presign(path, id2, 3*partSize, partSize)
	for i := range r.Parts {
		e.putPart(r.Parts[i], data)
	}
	e.presign(path, id2, 2*partSize+5, partSize)
	commit := wire.SyncWriteEntry{Type: wire.WriteCommit, Path: path, UploadID: id2, Size: ptr(int64(2*partSize + 5)), SHA256: sha(data[:2*partSize+5])}
	if c := e.write(commit)[0]; c.Error == nil || !strings.Contains(c.Error.Message, "part 3") {
		t.Fatalf("commit after shrinking, last part not resent: %+v", c)
	}
	e.presign(path, id2, 2*partSize+5, partSize/2)
	commit.SHA256 = sha(data[:2*partSize+5])
	if c := e.write(commit)[0]; c.Error == nil || !strings.Contains(c.Error.Message, "part 1 ") {
		t.Fatalf("commit after a new part size: %+v", c)
	}
}
