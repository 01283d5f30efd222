package cache

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func newTestStaging(t *testing.T, dir string) *Staging {
	t.Helper()
	s, err := NewStaging(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// contents reads all of f.
func contents(t *testing.T, f *StagedFile) []byte {
	t.Helper()
	buf := make([]byte, f.Size()+10)
	n, err := f.ReadAt(buf, 0)
	if !errors.Is(err, io.EOF) || int64(n) != f.Size() {
		t.Fatalf("ReadAt whole file = %d, %v", n, err)
	}
	return buf[:n]
}

func TestStagingWritesAndTruncates(t *testing.T) {
	type step struct {
		write []byte
		off   int64
		trunc int64 // when write is nil
	}
	tests := []struct {
		name  string
		steps []step
		want  []byte
	}{
		{"append", []step{{[]byte("hello"), 0, 0}, {[]byte(" world"), 5, 0}}, []byte("hello world")},
		{"overwrite inside", []step{{[]byte("hello"), 0, 0}, {[]byte("J"), 0, 0}}, []byte("Jello")},
		{"sparse write past the end", []step{{[]byte("ab"), 0, 0}, {[]byte("z"), 6, 0}}, []byte("ab\x00\x00\x00\x00z")},
		{"shrink", []step{{[]byte("hello"), 0, 0}, {nil, 0, 2}}, []byte("he")},
		{"grow with zeros", []step{{[]byte("hi"), 0, 0}, {nil, 0, 5}}, []byte("hi\x00\x00\x00")},
		{"shrink then write past the end", []step{{[]byte("hello"), 0, 0}, {nil, 0, 1}, {[]byte("!"), 3, 0}}, []byte("h\x00\x00!")},
		{"truncate to zero", []step{{[]byte("hello"), 0, 0}, {nil, 0, 0}}, []byte{}},
	}
	s := newTestStaging(t, t.TempDir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := s.Create("/home/user/" + tt.name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Remove()
			for _, st := range tt.steps {
				if st.write != nil {
					if n, err := f.WriteAt(st.write, st.off); err != nil || n != len(st.write) {
						t.Fatalf("WriteAt = %d, %v", n, err)
					}
				} else if err := f.Truncate(st.trunc); err != nil {
					t.Fatal(err)
				}
			}
			if got := contents(t, f); !bytes.Equal(got, tt.want) {
				t.Fatalf("content %q, want %q", got, tt.want)
			}
			if st, err := os.Stat(f.Path()); err != nil || st.Size() != int64(len(tt.want)) {
				t.Fatalf("data file size: %v", err)
			}
			if m := f.Missing(0, f.Size()); len(m) != 0 {
				t.Fatalf("a created file has missing ranges %v", m)
			}
		})
	}
}

func TestStagingLazyFill(t *testing.T) {
	s := newTestStaging(t, t.TempDir())
	remote := []byte("0123456789abcdefghij")
	f, err := s.CreateFrom("/home/user/big", int64(len(remote)))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Missing(0, 100); !slices.Equal(got, [][2]int64{{0, 20}}) {
		t.Fatalf("Missing = %v", got)
	}
	if f.Dirty() {
		t.Fatal("a fresh copy is dirty")
	}
	if _, err := f.WriteAt([]byte("XY"), 4); err != nil { // the user writes before the fill
		t.Fatal(err)
	}
	if got := f.Missing(0, 20); !slices.Equal(got, [][2]int64{{0, 4}, {6, 14}}) {
		t.Fatalf("Missing after write = %v", got)
	}
	gen := f.Generation()
	if err := f.Fill(remote[2:12], 2); err != nil {
		t.Fatal(err)
	}
	if f.Generation() != gen {
		t.Fatal("Fill changed the generation")
	}
	if !f.Filled(2, 10) || f.Filled(0, 3) {
		t.Fatal("Filled wrong after a partial fill")
	}
	f.MarkFilled(18, 100) // say the tail is known (clipped to the size)
	if got := f.Missing(0, 20); !slices.Equal(got, [][2]int64{{0, 2}, {12, 6}}) {
		t.Fatalf("Missing = %v", got)
	}
	if err := f.Fill(remote, 0); err != nil {
		t.Fatal(err)
	}
	want := []byte("0123XY6789abcdefgh\x00\x00") // the user's bytes win; the marked tail was never written
	if got := contents(t, f); !bytes.Equal(got, want) {
		t.Fatalf("content %q, want %q", got, want)
	}
	if len(f.Missing(0, 20)) != 0 {
		t.Fatal("still missing after the fill")
	}
}

func TestStagingGenerations(t *testing.T) {
	s := newTestStaging(t, "")
	f, err := s.Create("/home/user/g")
	if err != nil {
		t.Fatal(err)
	}
	if f.Dirty() {
		t.Fatal("new file dirty before any change")
	}
	f.MarkDirty()
	g1 := f.Generation()
	if !f.Dirty() || g1 == 0 {
		t.Fatal("MarkDirty did not make the file dirty")
	}
	// An upload begins at g1; a write lands during it.
	if _, err := f.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if f.MarkClean(g1) {
		t.Fatal("MarkClean succeeded although a write came after the upload began")
	}
	if !f.Dirty() {
		t.Fatal("file clean after a failed MarkClean")
	}
	g2 := f.Generation()
	if !f.MarkClean(g2) || f.Dirty() {
		t.Fatal("MarkClean at the current generation failed")
	}
	if err := f.Truncate(0); err != nil || !f.Dirty() || f.Generation() == g2 {
		t.Fatal("Truncate is a change")
	}
}

func TestStagingConcurrentWrites(t *testing.T) {
	s := newTestStaging(t, t.TempDir())
	f, err := s.Create("/home/user/c")
	if err != nil {
		t.Fatal(err)
	}
	const writers, chunk, rounds = 8, 1000, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := bytes.Repeat([]byte{byte('a' + w)}, chunk)
			for r := range rounds {
				off := int64((r*writers + w) * chunk) // disjoint, out of order, sparse at times
				if _, err := f.WriteAt(buf, off); err != nil {
					t.Error(err)
				}
				f.ReadAt(make([]byte, 10), off)
				f.Filled(0, off)
			}
		}()
	}
	wg.Wait()
	got := contents(t, f)
	if len(got) != writers*chunk*rounds {
		t.Fatalf("size %d", len(got))
	}
	for i := range writers * rounds {
		if want := byte('a' + i%writers); !bytes.Equal(got[i*chunk:(i+1)*chunk], bytes.Repeat([]byte{want}, chunk)) {
			t.Fatalf("chunk %d wrong", i)
		}
	}
	if g := f.Generation(); g != writers*rounds {
		t.Fatalf("generation %d after %d writes", g, writers*rounds)
	}
}

func TestStagingLeftoversAfterCrash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "staging")
	// A name may be any bytes but "/" and NUL.
	odd := "/home/user/a b\n$(rm -rf x)\xff\xfe'\""
	s1, err := NewStaging(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("staging dir mode: %v %v", st.Mode(), err)
	}
	f1, _ := s1.Create("/home/user/old-name")
	f1.WriteAt([]byte("unsaved work"), 0)
	if err := f1.SetVMPath(odd); err != nil {
		t.Fatal(err)
	}
	f2, _ := s1.CreateFrom("/home/user/half", 100) // never filled
	f2.WriteAt([]byte("edit"), 10)
	f3, _ := s1.Create("/home/user/uploaded")
	f3.WriteAt([]byte("done"), 0)
	if err := f3.Remove(); err != nil {
		t.Fatal(err)
	}
	if left, err := s1.Leftovers(); err != nil || len(left) != 0 {
		t.Fatalf("own files listed as leftovers: %v, %v", left, err)
	}
	// A crash: s1 is never closed. A sidecar without data (a crash inside
	// Create) is cleaned up.
	orphan := filepath.Join(dir, "0123456789abcdef0123456789abcdef.json")
	os.WriteFile(orphan, []byte(`{"vm_path":"L2hvbWUvdXNlci94"}`), 0o600)

	s2 := newTestStaging(t, dir)
	left, err := s2.Leftovers()
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]Leftover{}
	for _, l := range left {
		byPath[l.VMPath] = l
	}
	if len(left) != 2 {
		t.Fatalf("leftovers %+v", left)
	}
	if l := byPath[odd]; l.Size != 12 || !l.Complete || l.LocalPath != f1.Path() || l.ModTime.IsZero() {
		t.Fatalf("renamed leftover %+v", l)
	}
	if l := byPath["/home/user/half"]; l.Size != 100 || l.Complete {
		t.Fatalf("half-filled leftover %+v", l)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatal("orphan sidecar kept")
	}

	g, err := s2.Adopt(byPath[odd])
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(t, g); string(got) != "unsaved work" || !g.Dirty() || g.VMPath() != odd {
		t.Fatalf("adopted %q dirty %v", got, g.Dirty())
	}
	if _, err := s2.Adopt(byPath[odd]); err == nil {
		t.Fatal("adopted twice")
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := s2.Discard(byPath["/home/user/half"]); err != nil {
		t.Fatal(err)
	}
	if left, err := s2.Leftovers(); err != nil || len(left) != 0 {
		t.Fatalf("after cleanup: %v, %v", left, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("staging dir holds %d entries", len(ents))
	}
}

func TestStagingTempDirRemovedByClose(t *testing.T) {
	s, err := NewStaging("")
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Create("/home/user/x")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("x"), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir()); !os.IsNotExist(err) {
		t.Fatal("temporary staging dir kept")
	}
	if _, err := f.WriteAt([]byte("y"), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if _, err := s.Create("/home/user/y"); err == nil {
		t.Fatal("Create after Close")
	}
}

func TestStagingCloseKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, _ := NewStaging(dir)
	f, _ := s.Create("/home/user/kept")
	f.WriteAt([]byte("data"), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newTestStaging(t, dir)
	left, err := s2.Leftovers()
	if err != nil || len(left) != 1 || left[0].VMPath != "/home/user/kept" {
		t.Fatalf("leftovers %+v, %v", left, err)
	}
}

// applyDelta is what an upload of f's delta makes of remote: cut to low,
// the changed spans written with f's bytes, cut or extended to size.
func applyDelta(t *testing.T, f *StagedFile, remote []byte) []byte {
	t.Helper()
	low, size, changed := f.Delta()
	out := append([]byte(nil), remote[:min(int64(len(remote)), low)]...)
	for _, c := range changed {
		buf := make([]byte, c[1])
		if n, err := f.ReadAt(buf, c[0]); int64(n) != c[1] && err != nil {
			t.Fatalf("reading the changed span %v: %v", c, err)
		}
		if end := c[0] + c[1]; int64(len(out)) < end {
			out = append(out, make([]byte, end-int64(len(out)))...)
		}
		copy(out[c[0]:], buf)
	}
	if int64(len(out)) > size {
		out = out[:size]
	}
	return append(out, make([]byte, size-int64(len(out)))...)
}

// The delta of a copy staged from a remote file, after random writes,
// truncations and fills, rebuilds the file from the remote copy, with
// the missing bytes never read; after MarkClean it is empty.
func TestStagingDelta(t *testing.T) {
	s := newTestStaging(t, t.TempDir())
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 200 {
		remote := make([]byte, rng.IntN(5000))
		for i := range remote {
			remote[i] = byte(rng.IntN(255) + 1)
		}
		f, err := s.CreateFrom("/home/user/d", int64(len(remote)))
		if err != nil {
			t.Fatal(err)
		}
		model := append([]byte(nil), remote...)
		for range rng.IntN(12) {
			switch rng.IntN(3) {
			case 0:
				off := rng.IntN(6000)
				p := make([]byte, rng.IntN(700)+1)
				for i := range p {
					p[i] = byte(rng.IntN(256))
				}
				if _, err := f.WriteAt(p, int64(off)); err != nil {
					t.Fatal(err)
				}
				if off+len(p) > len(model) {
					model = append(model, make([]byte, off+len(p)-len(model))...)
				}
				copy(model[off:], p)
			case 1:
				size := rng.IntN(6000)
				if err := f.Truncate(int64(size)); err != nil {
					t.Fatal(err)
				}
				if size < len(model) {
					model = model[:size]
				} else {
					model = append(model, make([]byte, size-len(model))...)
				}
			case 2:
				if err := f.Fill(remote, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := applyDelta(t, f, remote); !bytes.Equal(got, model) {
			t.Fatalf("round %d: the delta makes %d bytes that differ from the %d of the file", round, len(got), len(model))
		}
		f.Fill(remote, 0)
		if !f.MarkClean(f.Generation()) {
			t.Fatal("MarkClean failed")
		}
		if low, size, changed := f.Delta(); low != size || len(changed) != 0 || size != int64(len(model)) {
			t.Fatalf("round %d: delta after MarkClean: %d %d %v", round, low, size, changed)
		}
		f.Remove()
	}
}
