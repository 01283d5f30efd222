package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/arker-ai/arkerfs/wire"
)

func (e *env) manifest(path string) (int, wire.SyncManifestResponse, []byte) {
	e.t.Helper()
	status, b := e.call("POST", vm("/sync"), map[string]any{"op": "manifest", "path": path}, nil)
	var m wire.SyncManifestResponse
	if status == 200 {
		mustJSON(e.t, b, &m)
	}
	return status, m, b
}

func TestManifest(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		e.put("p/a.txt", []byte("aaa"))
		e.put("p/sub/b.bin", []byte{0, 1, 2})
		e.put("p/sub/empty", nil)
		os.Chmod(filepath.Join(e.home, "p/a.txt"), 0o755)
		os.Symlink("a.txt", filepath.Join(e.home, "p/link"))
		os.Mkdir(filepath.Join(e.home, "p/emptydir"), 0o755)
		syscall.Mkfifo(filepath.Join(e.home, "p/fifo"), 0o644)
		status, m, b := e.manifest("/home/user/p/")
		if status != 200 || m.Root != "/home/user/p" || m.HashAlgo != "sha256" || m.Truncated || len(m.Entries) != 3 {
			t.Fatalf("manifest: %d %s", status, b)
		}
		sum := sha256.Sum256([]byte("aaa"))
		want := []wire.ManifestEntry{
			{Path: "a.txt", Size: 3, Mode: syscall.S_IFREG | 0o755, Hash: hex.EncodeToString(sum[:])},
			{Path: "sub/b.bin", Size: 3},
			{Path: "sub/empty", Size: 0, Mode: syscall.S_IFREG | 0o644, Hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		}
		for i, w := range want {
			g := m.Entries[i]
			if g.Path != w.Path || g.Size != w.Size || (w.Hash != "" && (g.Hash != w.Hash || g.Mode != w.Mode)) || len(g.Hash) != 64 {
				t.Errorf("entry %d = %+v, want %+v", i, g, w)
			}
		}
		var raw map[string]any
		mustJSON(t, b, &raw)
		if _, ok := raw["ok"]; ok {
			t.Errorf("manifest carries ok: %s", b)
		}
		if status, m, b := e.manifest("/home/user/nothing/here"); status != 200 || len(m.Entries) != 0 || m.Entries == nil {
			t.Errorf("missing dir: %d %s", status, b)
		}
		e.s.manifMax = 2
		if status, m, b := e.manifest("/home/user/p"); status != 200 || len(m.Entries) != 2 || !m.Truncated {
			t.Errorf("cap: %d %s", status, b)
		}
		for path, want := range map[string]int{"/home/user/p/a.txt": 400, "/": 400, "": 400, "rel": 400, "/etc": 403} {
			status, _, b := e.manifest(path)
			e.wantError(status, b, want, map[int]string{400: wire.CodeBadRequest, 403: wire.CodeForbidden}[want])
		}
	})
}
