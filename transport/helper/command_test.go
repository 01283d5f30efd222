package helper

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	long := "/" + strings.Repeat("a", MaxPathBytes)
	cases := []struct {
		op    Op
		errno string // "" when valid
	}{
		{Op{Kind: OpStat, Path: "/home/user/x"}, ""},
		{Op{Kind: OpStat, Path: "/"}, ""},
		{Op{Kind: OpStat, Path: "relative"}, "EINVAL"},
		{Op{Kind: OpStat, Path: ""}, "EINVAL"},
		{Op{Kind: OpStat, Path: "/a/../b"}, "EINVAL"},
		{Op{Kind: OpStat, Path: "/a//b"}, "EINVAL"},
		{Op{Kind: OpStat, Path: "/a/"}, "EINVAL"},
		{Op{Kind: OpStat, Path: "/a\x00b"}, "EINVAL"},
		{Op{Kind: OpStat, Path: long}, "ENAMETOOLONG"},
		{Op{Kind: OpStat, Path: long[:MaxPathBytes]}, ""},
		{Op{Kind: "chown", Path: "/x"}, "EINVAL"},
		{Op{Kind: OpMkdir, Path: "/x", Mode: 0o17777}, "EINVAL"},
		{Op{Kind: OpChmod, Path: "/x", Mode: 0o7777}, ""},
		{Op{Kind: OpTruncate, Path: "/x", Size: -1}, "EINVAL"},
		{Op{Kind: OpSymlink, Path: "/x"}, "EINVAL"},
		{Op{Kind: OpSymlink, Path: "/x", Target: "a\x00"}, "EINVAL"},
		{Op{Kind: OpSymlink, Path: "/x", Target: long}, "ENAMETOOLONG"},
		{Op{Kind: OpSymlink, Path: "/x", Target: "../any thing/"}, ""},
		{Op{Kind: OpRename, Path: "/x", Path2: "y"}, "EINVAL"},
		{Op{Kind: OpLink, Path: "/x", Path2: "/y"}, ""},
		{Op{Kind: OpInstall, Path: "/x", Path2: "/.t"}, ""},
		{Op{Kind: OpInstall, Path: "/x", Path2: "t"}, "EINVAL"},
		{Op{Kind: OpInstall, Path: "/x", Path2: "/t", Mode: 0o10000}, "EINVAL"},
		{Op{Kind: OpTree, Path: "/x", Depth: 0, Limit: 1}, "EINVAL"},
		{Op{Kind: OpTree, Path: "/x", Depth: 1, Limit: MaxTreeLimit + 1}, "EINVAL"},
		{Op{Kind: OpTree, Path: "/x", Depth: 1, Limit: MaxTreeLimit}, ""},
		{Op{Kind: OpMknod, Path: "/x", Type: TypeFIFO, Mode: 0o7777}, ""},
		{Op{Kind: OpMknod, Path: "/x", Type: TypeSocket, Mode: 0o10000}, "EINVAL"},
		{Op{Kind: OpMknod, Path: "/x", Type: TypeRegular}, "EINVAL"},
		{Op{Kind: OpMknod, Path: "/x"}, "EINVAL"},
		{Op{Kind: OpMknod, Path: "/x", Type: TypeFIFO, Minor: 1}, "EINVAL"},
		{Op{Kind: OpMknod, Path: "/x", Type: TypeChar, Major: 4095, Minor: 1<<20 - 1}, ""},
		{Op{Kind: OpMknod, Path: "/x", Type: TypeBlock, Major: 4096}, "EINVAL"},
		{Op{Kind: OpMknod, Path: "/x", Type: TypeBlock, Minor: 1 << 20}, "EINVAL"},
	}
	for _, c := range cases {
		err := Validate(c.op)
		var oe *OpError
		switch {
		case c.errno == "" && err != nil:
			t.Errorf("%+v: %v", c.op, err)
		case c.errno != "" && (!errors.As(err, &oe) || oe.Errno != c.errno):
			t.Errorf("%+v: got %v, want %s", c.op, err, c.errno)
		}
		if _, cerr := Command([]Op{{Kind: OpStat, Path: "/"}, c.op}); (cerr == nil) != (c.errno == "") {
			t.Errorf("Command with %+v: %v", c.op, cerr)
		}
	}
	if _, err := Command(nil); err == nil {
		t.Error("Command accepted no ops")
	}
}

func TestArgumentForms(t *testing.T) {
	for in, want := range map[Time]string{
		{}:                                   "-",
		{Set: true, Now: true, Ns: 5}:        "now",
		{Set: true, Ns: 0}:                   "0.000000000",
		{Set: true, Ns: 1600000000123456789}: "1600000000.123456789",
		{Set: true, Ns: -1500000000}:         "-1.500000000",
		{Set: true, Ns: math.MinInt64}:       "-9223372036.854775808",
	} {
		if got := timeArg(in); got != want {
			t.Errorf("timeArg(%+v) = %q, want %q", in, got, want)
		}
	}
	if a := args(Op{Kind: OpChmod, Path: "/x", Mode: 0o755}); a[1] != "00755" {
		t.Errorf("mode argument %q", a[1])
	}
	if a := args(Op{Kind: OpCreate, Path: "/x", Mode: 0o4700, Exclusive: true}); a[1] != "04700" || a[2] != "1" {
		t.Errorf("create arguments %q", a)
	}
	if w := encodeArg("it's"); w != `'rit'\''s'` {
		t.Errorf("raw word %s", w)
	}
	if w := encodeArg("a\xff'\\ b"); w != `'xa\0377\0047\0134 b'` {
		t.Errorf("escaped word %s", w)
	}
}

func TestSplit(t *testing.T) {
	var ops []Op
	for i := 0; i < 3000; i++ {
		ops = append(ops, Op{Kind: OpStat, Path: "/home/user/f" + strings.Repeat("n", i%200)})
	}
	// The largest valid op: both strings at their limits, all escaped.
	big := Op{Kind: OpSymlink, Path: "/" + strings.Repeat("\xff", MaxPathBytes-1), Target: strings.Repeat("\xfe", MaxPathBytes)}
	ops = append(ops[:1000], append([]Op{big}, ops[1000:]...)...)
	batches := Split(ops, MaxCommandBytes)
	var joined []Op
	for _, b := range batches {
		cmd, err := Command(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(cmd) > MaxCommandBytes {
			t.Errorf("batch of %d ops has a %d-byte command", len(b), len(cmd))
		}
		joined = append(joined, b...)
	}
	if len(joined) != len(ops) {
		t.Fatalf("split lost ops: %d of %d", len(joined), len(ops))
	}
	for i := range ops {
		if joined[i] != ops[i] {
			t.Fatalf("split reordered op %d", i)
		}
	}
	total := 0
	for _, op := range ops {
		total += opSize(op)
	}
	if most := total/(MaxCommandBytes-len(Script())-16) + 2; len(batches) > most {
		t.Errorf("%d batches for %d bytes of ops, want at most %d", len(batches), total, most)
	}
	// Under a limit too small for it, the largest op goes alone.
	small := Split(ops[995:1005], 20<<10)
	alone := false
	for _, b := range small {
		alone = alone || len(b) == 1 && b[0].Kind == OpSymlink
	}
	if !alone {
		t.Errorf("an op larger than the limit shares a batch: %d batches", len(small))
	}
	if got := Split(nil, MaxCommandBytes); len(got) != 0 {
		t.Errorf("Split(nil) = %v", got)
	}
}
