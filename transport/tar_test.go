package transport_test

import (
	"archive/tar"
	"bytes"
	"path"
	"sort"
	"testing"
	"time"
)

// tarTime is the mtime of every entry makeTar writes.
var tarTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

// makeTar builds an uncompressed tar of files (mode 0644 unless modes
// says otherwise) and symlinks, with their parent directories first.
func makeTar(t *testing.T, files map[string][]byte, links map[string]string, modes map[string]int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	for n := range links {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var dl []string
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dl {
		must(w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: tarTime}))
	}
	for _, n := range names {
		if target, ok := links[n]; ok {
			must(w.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: n, Linkname: target, Mode: 0o777, ModTime: tarTime}))
			continue
		}
		mode := int64(0o644)
		if m, ok := modes[n]; ok {
			mode = m
		}
		must(w.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Size: int64(len(files[n])), Mode: mode, ModTime: tarTime}))
		_, err := w.Write(files[n])
		must(err)
	}
	must(w.Close())
	return buf.Bytes()
}
