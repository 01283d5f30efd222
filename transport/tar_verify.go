package transport

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path"
	"strings"
)

// tarLanded reports whether every regular file of the archive is below dir
// on the VM with its size and content, as one manifest lists them: the
// reconciliation of a tar upload whose answer was lost, which spares a
// second upload (and does not overwrite what may have changed since).
// Anything it cannot tell is "no".
func (c *Client) tarLanded(ctx context.Context, dir string, src io.ReaderAt, size int64) bool {
	want, err := tarFiles(io.NewSectionReader(src, 0, size))
	if err != nil || len(want) == 0 {
		return false
	}
	entries, truncated, err := c.Manifest(ctx, dir)
	if err != nil || truncated {
		return false
	}
	have := make(map[string]ManifestEntry, len(entries))
	for _, e := range entries {
		have[e.Path] = e
	}
	for name, f := range want {
		e, ok := have[name]
		if !ok || e.Size != f.size || e.SHA256 != f.sum {
			return false
		}
	}
	return true
}

// tarFile is a regular file of an archive: its size and sha256.
type tarFile struct {
	size int64
	sum  string
}

// tarFiles lists the regular files of an uncompressed archive by their
// clean path relative to the directory it is unpacked into.
func tarFiles(r io.Reader) (map[string]tarFile, error) {
	out := make(map[string]tarFile)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." || name == ".." || strings.HasPrefix(name, "../") {
			return nil, errors.New("an entry outside the directory")
		}
		sum := sha256.New()
		n, err := io.Copy(sum, tr)
		if err != nil {
			return nil, err
		}
		out[name] = tarFile{size: n, sum: hex.EncodeToString(sum.Sum(nil))}
	}
}
