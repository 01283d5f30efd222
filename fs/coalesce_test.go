package fs

import (
	"fmt"
	"slices"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

func chmodOp(p string, mode uint32) transport.MetaOp {
	return transport.MetaOp{Kind: helper.OpChmod, Path: p, Mode: mode}
}

func utimensOp(p string, at, mt helper.Time) transport.MetaOp {
	return transport.MetaOp{Kind: helper.OpUtimens, Path: p, Atime: at, Mtime: mt}
}

func mkdirOp(p string) transport.MetaOp {
	return transport.MetaOp{Kind: helper.OpMkdir, Path: p, Mode: 0o755}
}

func TestCoalesce(t *testing.T) {
	t1 := helper.Time{Set: true, Ns: 1e9}
	t2 := helper.Time{Set: true, Ns: 2e9}
	now := helper.Time{Set: true, Now: true}
	omit := helper.Time{}
	rename := func(from, to string) transport.MetaOp {
		return transport.MetaOp{Kind: helper.OpRename, Path: from, Path2: to}
	}
	cases := []struct {
		name string
		ops  []transport.MetaOp // queued one after the other
		want []transport.MetaOp
	}{
		{"last mode wins",
			[]transport.MetaOp{chmodOp("/h/f", 0o600), chmodOp("/h/f", 0o644), chmodOp("/h/f", 0o000)},
			[]transport.MetaOp{chmodOp("/h/f", 0o000)}},
		{"other paths keep their place",
			[]transport.MetaOp{chmodOp("/h/f", 0o600), chmodOp("/h/g", 0o700), chmodOp("/h/f", 0o644)},
			[]transport.MetaOp{chmodOp("/h/f", 0o644), chmodOp("/h/g", 0o700)}},
		{"a name that only shares a prefix is another path",
			[]transport.MetaOp{chmodOp("/h/f", 0o600), mkdirOp("/h/fx"), chmodOp("/h/fx", 0o700), chmodOp("/h/f", 0o644)},
			[]transport.MetaOp{chmodOp("/h/f", 0o644), mkdirOp("/h/fx"), chmodOp("/h/fx", 0o700)}},
		{"times merge field by field",
			[]transport.MetaOp{utimensOp("/h/f", t1, t1), utimensOp("/h/f", omit, t2), utimensOp("/h/f", now, omit)},
			[]transport.MetaOp{utimensOp("/h/f", now, t2)}},
		{"UTIME_NOW kept when later omits it",
			[]transport.MetaOp{utimensOp("/h/f", now, now), utimensOp("/h/f", t1, omit)},
			[]transport.MetaOp{utimensOp("/h/f", t1, now)}},
		{"chmod and utimens of one path let each other pass",
			[]transport.MetaOp{chmodOp("/h/f", 0o600), utimensOp("/h/f", t1, t1), chmodOp("/h/f", 0o644), utimensOp("/h/f", omit, t2)},
			[]transport.MetaOp{chmodOp("/h/f", 0o644), utimensOp("/h/f", t1, t2)}},
		{"a mkdir below the directory keeps its modes apart",
			[]transport.MetaOp{chmodOp("/h/d", 0o700), mkdirOp("/h/d/x"), chmodOp("/h/d", 0o500)},
			[]transport.MetaOp{chmodOp("/h/d", 0o700), mkdirOp("/h/d/x"), chmodOp("/h/d", 0o500)}},
		{"a mkdir below the directory keeps its times apart",
			[]transport.MetaOp{utimensOp("/h/d", t1, t1), mkdirOp("/h/d/x"), utimensOp("/h/d", t2, t2)},
			[]transport.MetaOp{utimensOp("/h/d", t1, t1), mkdirOp("/h/d/x"), utimensOp("/h/d", t2, t2)}},
		{"a change of a directory above keeps them apart",
			[]transport.MetaOp{chmodOp("/h/d/f", 0o600), chmodOp("/h/d", 0o000), chmodOp("/h/d/f", 0o644)},
			[]transport.MetaOp{chmodOp("/h/d/f", 0o600), chmodOp("/h/d", 0o000), chmodOp("/h/d/f", 0o644)}},
		{"a change below keeps them apart",
			[]transport.MetaOp{chmodOp("/h/d", 0o700), chmodOp("/h/d/f", 0o600), chmodOp("/h/d", 0o000)},
			[]transport.MetaOp{chmodOp("/h/d", 0o700), chmodOp("/h/d/f", 0o600), chmodOp("/h/d", 0o000)}},
		{"a mkdir of the path itself keeps them apart",
			[]transport.MetaOp{chmodOp("/h/d", 0o700), mkdirOp("/h/d"), chmodOp("/h/d", 0o500)},
			[]transport.MetaOp{chmodOp("/h/d", 0o700), mkdirOp("/h/d"), chmodOp("/h/d", 0o500)}},
		{"a chmod after a rename of its path stays after it",
			[]transport.MetaOp{chmodOp("/h/f", 0o600), rename("/h/f", "/h/g"), chmodOp("/h/f", 0o644)},
			[]transport.MetaOp{chmodOp("/h/f", 0o600), rename("/h/f", "/h/g"), chmodOp("/h/f", 0o644)}},
		{"a rename onto the path keeps them apart",
			[]transport.MetaOp{chmodOp("/h/f", 0o600), rename("/h/g", "/h/f"), chmodOp("/h/f", 0o644)},
			[]transport.MetaOp{chmodOp("/h/f", 0o600), rename("/h/g", "/h/f"), chmodOp("/h/f", 0o644)}},
		{"a rename of a directory above keeps them apart",
			[]transport.MetaOp{chmodOp("/h/d/f", 0o600), rename("/h/d", "/h/e"), chmodOp("/h/d/f", 0o644)},
			[]transport.MetaOp{chmodOp("/h/d/f", 0o600), rename("/h/d", "/h/e"), chmodOp("/h/d/f", 0o644)}},
		{"mkdirs are never merged",
			[]transport.MetaOp{mkdirOp("/h/d"), mkdirOp("/h/d")},
			[]transport.MetaOp{mkdirOp("/h/d"), mkdirOp("/h/d")}},
		{"a chmod in a new directory merges past unrelated mkdirs",
			[]transport.MetaOp{mkdirOp("/h/d"), chmodOp("/h/d", 0o700), mkdirOp("/h/e"), chmodOp("/h/d", 0o750)},
			[]transport.MetaOp{mkdirOp("/h/d"), chmodOp("/h/d", 0o750), mkdirOp("/h/e")}},
	}
	for _, c := range cases {
		var q []transport.MetaOp
		for _, op := range c.ops {
			q, _ = coalesce(q, op)
		}
		if !slices.Equal(q, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, q, c.want)
		}
	}
}

// coalesce says where the change landed, so that the queue can keep a
// time per change.
func TestCoalesceIndex(t *testing.T) {
	q := []transport.MetaOp{chmodOp("/h/a", 0o600), chmodOp("/h/b", 0o600)}
	q, i := coalesce(q, chmodOp("/h/a", 0o644))
	if i != 0 || len(q) != 2 {
		t.Fatalf("merged at %d into %v", i, q)
	}
	q, i = coalesce(q, chmodOp("/h/c", 0o644))
	if i != 2 || len(q) != 3 {
		t.Fatalf("appended at %d into %v", i, q)
	}
}

// However many changes of a few files are queued, the queue holds one
// chmod and one utimens per file.
func TestCoalesceStorm(t *testing.T) {
	var q []transport.MetaOp
	for i := range 28000 {
		p := fmt.Sprintf("/h/f%d", i%3)
		if i%5 == 0 {
			q, _ = coalesce(q, utimensOp(p, helper.Time{Set: true, Ns: int64(i)}, helper.Time{}))
		} else {
			q, _ = coalesce(q, chmodOp(p, uint32(i)&0o7777))
		}
	}
	if len(q) != 6 {
		t.Fatalf("queue of %d changes for 3 files: %v", len(q), q)
	}
}
