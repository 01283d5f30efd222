//go:build linux

package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// waitFor asks the feed for changes after seq until want shows up, within
// a bound, and returns the number it reached.
func waitFor(t *testing.T, f *feed, seq uint64, want string) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ev := f.since(context.Background(), seq, true, time.Second)
		if ev.Overflow {
			t.Fatalf("unexpected overflow after %d", seq)
		}
		seq = ev.Seq
		for _, p := range ev.Paths {
			if string(p) == want {
				return seq
			}
		}
	}
	t.Fatalf("no change of %s reported", want)
	return seq
}

func TestFeedReportsChanges(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := newFeed(root, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	start := f.since(context.Background(), 0, false, 0)
	if start.Overflow || len(start.Paths) != 0 {
		t.Fatalf("the starting point carries changes: %+v", start)
	}

	p := filepath.Join(root, "a/b/new")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	seq := waitFor(t, f, start.Seq, p)

	// A directory made, with a file in it at once: both reported, and
	// the new directory is watched from then on.
	d := filepath.Join(root, "a/made")
	if err := os.MkdirAll(filepath.Join(d, "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	seq = waitFor(t, f, seq, filepath.Join(d, "deep"))
	q := filepath.Join(d, "deep/file")
	if err := os.WriteFile(q, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	seq = waitFor(t, f, seq, q)

	if err := os.Rename(p, filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	seq = waitFor(t, f, seq, filepath.Join(root, "moved"))

	// Nothing new: a request waits its time and answers no paths.
	ev := f.since(context.Background(), seq, true, 50*time.Millisecond)
	if len(ev.Paths) != 0 || ev.Overflow {
		t.Errorf("a quiet feed answered %+v", ev)
	}
	// Numbers from another agent (ahead of ours) mean revalidate.
	if ev := f.since(context.Background(), seq+100, true, 0); !ev.Overflow {
		t.Error("a number this feed never gave was not answered as an overflow")
	}
}

// The feed remembers a bounded number of changes: a client further
// behind is told to revalidate everything.
func TestFeedBounded(t *testing.T) {
	f := &feed{dirs: map[int32]string{}, wake: make(chan struct{})}
	for i := 0; i < 5000; i++ {
		f.note("/r/" + string(rune('a'+i%26)))
	}
	if len(f.ring) > 4096 {
		t.Fatalf("the ring holds %d changes", len(f.ring))
	}
	if ev := f.answer(10, true); !ev.Overflow {
		t.Error("a client behind the ring was not told to revalidate")
	}
	ev := f.answer(f.seq-3, true)
	if ev.Overflow || len(ev.Paths) != 3 || !slices.ContainsFunc(ev.Paths, func(p []byte) bool { return len(p) > 0 }) {
		t.Errorf("the last three changes: %+v", ev)
	}
	f.lose()
	if ev := f.answer(f.seq-1, true); !ev.Overflow {
		t.Error("a loss was not reported")
	}
}
