package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"syscall"

	"github.com/arker-ai/arkerfs/wire"
)

// manifest answers op manifest: every regular file below a non-root
// directory (no symlinks, directories or special files), with its path
// relative to the directory, size, st_mode and sha256, in lexical order,
// at most the cap (then truncated). A directory that does not exist has
// an empty manifest.
func (s *Server) manifest(c *call, req wire.SyncManifestRequest) {
	if path.Clean(req.Path) == "/" {
		c.fail(invalidField("path", "must be a directory other than /"))
		return
	}
	f, aerr := s.maps.resolve(req.Path, "path")
	if aerr != nil {
		c.fail(aerr)
		return
	}
	resp := wire.SyncManifestResponse{Root: f.path, HashAlgo: wire.HashSHA256, Entries: []wire.ManifestEntry{}}
	fi, err := f.m.root.Stat(f.rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.reply(http.StatusOK, resp)
		return
	case err != nil:
		c.fail(fileError(err, f))
		return
	case !fi.IsDir():
		c.fail(badRequest("%s is not a directory", f))
		return
	}
	sub, err := f.m.root.OpenRoot(f.rel)
	if err != nil {
		c.fail(fileError(err, f))
		return
	}
	defer sub.Close()
	err = fs.WalkDir(sub.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // vanished or unreadable meanwhile: not listed
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(resp.Entries) >= s.manifMax {
			resp.Truncated = true
			return fs.SkipAll
		}
		e, ok := manifestEntry(sub, p)
		if ok {
			resp.Entries = append(resp.Entries, e)
		}
		return nil
	})
	if err != nil {
		c.fail(fileError(err, f))
		return
	}
	c.reply(http.StatusOK, resp)
}

// manifestEntry hashes the regular file p of root; ok is false when it is
// gone or no longer a regular file.
func manifestEntry(root *os.Root, p string) (wire.ManifestEntry, bool) {
	fh, err := root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return wire.ManifestEntry{}, false
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return wire.ManifestEntry{}, false
	}
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return wire.ManifestEntry{}, false
	}
	mode := uint32(0)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		mode = uint32(st.Mode)
	}
	return wire.ManifestEntry{Path: p, Size: n, Mode: mode, Hash: hex.EncodeToString(h.Sum(nil))}, true
}
