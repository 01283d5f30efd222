package helper

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// render writes the output the helper gives for ops and their results:
// the inverse of Parse. A truncated tree gets one made-up extra entry.
func render(ops []Op, res []Result) []byte {
	var b bytes.Buffer
	f := func(fields ...string) {
		for _, s := range fields {
			b.WriteString(s)
			b.WriteByte(0)
		}
	}
	f("arkerfs-meta", "1")
	for i := 0; i < len(ops); {
		if n := statRun(ops, i); n >= 2 {
			f("stats", fmt.Sprint(i), fmt.Sprint(n))
			for k := i; k < i+n; k++ {
				if r := res[k]; r.Err == nil {
					f("a", attrHead(*r.Attr), ops[k].Path, r.Target)
				}
			}
			f("-")
			for k := i; k < i+n; k++ {
				if r := res[k]; r.Err != nil {
					f("op", fmt.Sprint(k), "stat", "err", r.Err.Errno, r.Err.Message, "end", fmt.Sprint(k))
				}
			}
			i += n
			continue
		}
		op, r := ops[i], res[i]
		f("op", fmt.Sprint(i), string(op.Kind))
		switch {
		case r.Err != nil:
			f("err", r.Err.Errno, r.Err.Message)
		case r.Statfs != nil:
			s := r.Statfs
			f("ok", "s", fmt.Sprintf("%d %d %d %d %d %d %d", s.Bsize, s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree, s.NameLen))
		case r.Attr != nil:
			f("ok", "a", attrHead(*r.Attr), "", r.Target)
		default:
			f("ok")
			for _, e := range r.Entries {
				f("a", attrHead(e.Attr), e.Name, e.Target)
			}
			if r.Truncated { // one more entry, as deep as the last
				cut := "zz-cut"
				if n := len(r.Entries); n > 0 {
					if i := strings.LastIndexByte(r.Entries[n-1].Name, '/'); i >= 0 {
						cut = r.Entries[n-1].Name[:i+1] + cut
					}
				}
				f("a", attrHead(Attr{Type: TypeRegular}), cut, "")
			}
		}
		f("end", fmt.Sprint(i))
		i++
	}
	f("done", fmt.Sprint(len(ops)))
	return b.Bytes()
}

// attrHead formats a as find -printf does.
func attrHead(a Attr) string {
	letter := map[FileType]string{}
	for l, t := range fileTypes {
		letter[t] = l
	}
	return fmt.Sprintf("%s %o %d %d %d %d %d %d %d %s %s %s", letter[a.Type], a.Perm, a.Nlink, a.UID, a.GID,
		a.Size, a.Blocks, a.Ino, a.Dev, findTime(a.AtimeNs), findTime(a.MtimeNs), findTime(a.CtimeNs))
}

// findTime formats ns as find's %T@: tv_sec, '.', tv_nsec and a 0.
func findTime(ns int64) string {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	return fmt.Sprintf("%d.%09d0", sec, nsec)
}

// sampleOps and sampleResults cover every kind of record.
var sampleOps = []Op{
	{Kind: OpStat, Path: "/a"}, {Kind: OpList, Path: "/d"}, {Kind: OpTree, Path: "/d", Depth: 2, Limit: 3},
	{Kind: OpRmdir, Path: "/e"}, {Kind: OpStatfs, Path: "/"}, {Kind: OpReadlink, Path: "/l"},
	{Kind: OpMkdir, Path: "/m", Mode: 0o755}, {Kind: OpTree, Path: "/t", Depth: 1, Limit: 1},
	{Kind: OpStat, Path: "/a"}, {Kind: OpStat, Path: "/gone"}, {Kind: OpStat, Path: "/l"}, {Kind: OpStat, Path: "/a"},
}

func sampleResults() []Result {
	file := Attr{Type: TypeRegular, Perm: 0o644, Nlink: 1, UID: 1000, GID: 1000, Size: 5, Blocks: 8, Ino: 12, Dev: 2049,
		AtimeNs: 1700000000123456789, MtimeNs: -1500000000, CtimeNs: 0}
	dir, link := file, file
	dir.Type, dir.Perm = TypeDir, 0o2755
	link.Type = TypeSymlink
	return []Result{
		{Attr: &file},
		{Entries: []Entry{{Name: "x y", Attr: file}, {Name: "l", Attr: link, Target: "x y"}}},
		{Entries: []Entry{{Name: "sub", Attr: dir}, {Name: "g", Attr: file}, {Name: "sub/f\n", Attr: file}}, Truncated: true},
		{Err: &OpError{Errno: "ENOTEMPTY", Message: "rmdir: failed to remove '/e': Directory not empty"}},
		{Statfs: &Statfs{Bsize: 4096, Blocks: 100, Bfree: 50, Bavail: 40, Files: 1000, Ffree: 900, NameLen: 255}},
		{Attr: &link, Target: "/target"},
		{Err: &OpError{Errno: "EEXIST"}},
		{Entries: []Entry{{Name: "only", Attr: file}}},
		{Attr: &file}, {Err: &OpError{Errno: "ENOENT", Message: "not there"}}, {Attr: &link, Target: "/target"}, {Attr: &file},
	}
}

func TestParseRoundTrip(t *testing.T) {
	want := sampleResults()
	out := render(sampleOps, want)
	got, err := Parse(out, sampleOps)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse\n got %+v\nwant %+v", got, want)
	}
}

// TestParseRejectsCuts cuts the output at every NUL: each prefix is
// rejected, so output cut short is never taken for a shorter answer.
func TestParseRejectsCuts(t *testing.T) {
	out := render(sampleOps, sampleResults())
	for i := 0; i < len(out)-1; i++ {
		if _, err := Parse(out[:i+1], sampleOps); err == nil {
			t.Fatalf("accepted output cut at byte %d: %q", i+1, out[:i+1])
		}
	}
}

// TestParseRejectsChanges changes one field at a time.
func TestParseRejectsChanges(t *testing.T) {
	good := string(render(sampleOps, sampleResults()))
	bad := map[string][2]string{
		"version":          {"arkerfs-meta\x001\x00", "arkerfs-meta\x002\x00"},
		"op index":         {"op\x001\x00", "op\x002\x00"},
		"op kind":          {"op\x000\x00stat", "op\x000\x00list"},
		"end index":        {"end\x000\x00", "end\x001\x00"},
		"done count":       {"done\x0012\x00", "done\x0011\x00"},
		"unknown errno":    {"ENOTEMPTY", "EWHATEVER"},
		"status":           {"ok\x00s\x00", "OK\x00s\x00"},
		"statfs fields":    {"4096 100 50", "4096 100  50"},
		"statfs number":    {"4096 100 50", "4096 +100 50"},
		"file type":        {"a\x00f 644", "a\x00x 644"},
		"mode":             {"d 2755", "d 12755"},
		"mode digit":       {"f 644", "f 648"},
		"time":             {"1700000000.1234567890", "1700000000,1234567890"},
		"time fraction":    {"1700000000.1234567890", "1700000000.12345678901"},
		"time sign":        {"1700000000.1234567890", "+1700000000.1234567890"},
		"field count":      {" 2049 ", " 2049  "},
		"name with slash":  {"x y\x00", "x/y\x00"},
		"dot name":         {"x y\x00", "..\x00"},
		"target on a file": {"x y\x00\x00a", "x y\x00t\x00a"},
		"tree order":       {"sub/zz-cut", "zz-cut"},
		"tree depth":       {"sub/f\n", "sub/f/g"},
		"single name":      {"a\x00f 644 1 1000 1000 5 8 12 2049 1700000000.1234567890 -2.5000000000 0.0000000000\x00\x00\x00end", "a\x00f 644 1 1000 1000 5 8 12 2049 1700000000.1234567890 -2.5000000000 0.0000000000\x00n\x00\x00end"},
		"trailing":         {"done\x0012\x00", "done\x0012\x00x\x00"},
		"no final NUL":     {"done\x0012\x00", "done\x0012"},
		"group first":      {"stats\x008\x004", "stats\x009\x004"},
		"group count":      {"stats\x008\x004", "stats\x008\x003"},
		"group path":       {"\x00/l\x00/target", "\x00/m\x00/target"},
		"group marker":     {"\x00-\x00op\x009", "\x00+\x00op\x009"},
		"group status":     {"op\x009\x00stat\x00err\x00ENOENT", "op\x009\x00stat\x00ok\x00ENOENT"},
		"group kind":       {"op\x009\x00stat\x00err", "op\x009\x00list\x00err"},
		"group end":        {"end\x009\x00", "end\x008\x00"},
		"tree overflow":    {"only\x00\x00end", "only\x00\x00a\x00f 1 1 1 1 1 1 1 1 1.0 1.0 1.0\x00b\x00\x00a\x00f 1 1 1 1 1 1 1 1 1.0 1.0 1.0\x00c\x00\x00end"},
	}
	for name, c := range bad {
		if !strings.Contains(good, c[0]) {
			t.Fatalf("%s: sample lacks %q", name, c[0])
		}
		out := strings.Replace(good, c[0], c[1], 1)
		if _, err := Parse([]byte(out), sampleOps); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseFatal(t *testing.T) {
	out := []byte("arkerfs-meta\x001\x00fatal\x00ENOTSUP\x00no find\x00")
	_, err := Parse(out, sampleOps)
	if fe, ok := err.(*FatalError); !ok || fe.Errno != "ENOTSUP" || fe.Message != "no find" {
		t.Fatalf("Parse = %v", err)
	}
	if _, err := Parse(append(out, "x\x00"...), sampleOps); err == nil {
		t.Fatal("accepted a fatal record with more after it")
	}
}

func TestParseTime(t *testing.T) {
	for s, want := range map[string]int64{
		"0.0000000000":           0,
		"1700000000.1234567890":  1700000000123456789,
		"1700000000.123456789":   1700000000123456789,
		"1700000000.1":           1700000000100000000,
		"-2.5000000000":          -1500000000,
		"-1.0000000000":          -1000000000,
		"9223372036.8547758070":  math.MaxInt64,
		"9223372037.0000000000":  math.MaxInt64,
		"99999999999.0":          math.MaxInt64,
		"-9223372037.1452241920": math.MinInt64,
		"-9223372037.1452241930": math.MinInt64 + 1,
		"-99999999999.0":         math.MinInt64,
	} {
		got, err := parseTime(s)
		if err != nil || got != want {
			t.Errorf("parseTime(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "1", "1.", ".5", "-.5", "--1.0", "+1.0", "1.5e3", "1.12345678901", "1 .0", "99999999999999999999.0", "0x1.0"} {
		if _, err := parseTime(s); err == nil {
			t.Errorf("parseTime(%q) accepted", s)
		}
	}
	for _, ns := range []int64{0, 1, -1, 999999999, -999999999, 1e9, -1e9, math.MaxInt64, math.MinInt64, 1700000000123456789} {
		if got, err := parseTime(findTime(ns)); err != nil || got != ns {
			t.Errorf("round trip %d: %d %v", ns, got, err)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	long := strings.Repeat("\xffé ", 2000)
	c := cleanMessage(long)
	if len(c) > maxMessage || cleanMessage(c) != c || !strings.HasPrefix(c, "\uFFFDé") {
		t.Fatalf("cleanMessage: %d bytes, idempotent %v", len(c), cleanMessage(c) == c)
	}
}

// TestParseStatGroupRaces covers a file removed right after find saw it
// (both records: the attributes stand) and one created right after find
// missed it (neither record: ENOENT).
func TestParseStatGroupRaces(t *testing.T) {
	ops := []Op{{Kind: OpStat, Path: "/a"}, {Kind: OpStat, Path: "/b"}}
	head := attrHead(Attr{Type: TypeRegular, Nlink: 1})
	out := "arkerfs-meta\x001\x00stats\x000\x002\x00a\x00" + head + "\x00/a\x00\x00-\x00" +
		"op\x000\x00stat\x00err\x00ENOENT\x00\x00end\x000\x00done\x002\x00"
	res, err := Parse([]byte(out), ops)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Attr == nil {
		t.Errorf("seen then removed: %+v", res[0])
	}
	if res[1].Err == nil || res[1].Err.Errno != "ENOENT" {
		t.Errorf("never seen: %+v", res[1])
	}
}

// TestParseTreeOrphan: an entry whose directory the level above did not
// list (made between two levels' finds) is dropped with what is below it,
// and still counts towards the limit, so a cut is not missed.
func TestParseTreeOrphan(t *testing.T) {
	file := Attr{Type: TypeRegular, Perm: 0o644, Nlink: 1}
	dir := file
	dir.Type = TypeDir
	ops := []Op{{Kind: OpTree, Path: "/d", Depth: 3, Limit: 3}}
	sent := []Result{{Entries: []Entry{{Name: "a", Attr: dir}, {Name: "new/x", Attr: dir}, {Name: "a/f", Attr: file}}, Truncated: true}}
	got, err := Parse(render(ops, sent), ops)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []Entry{{Name: "a", Attr: dir}, {Name: "a/f", Attr: file}}
	if !reflect.DeepEqual(got[0].Entries, want) || !got[0].Truncated {
		t.Fatalf("got %+v truncated %v, want %+v truncated", got[0].Entries, got[0].Truncated, want)
	}
}

// TestParseMknodType rejects a mknod answered with another file's type.
func TestParseMknodType(t *testing.T) {
	ops := []Op{{Kind: OpMknod, Path: "/p", Type: TypeFIFO, Mode: 0o644}}
	fifo := Attr{Type: TypeFIFO, Perm: 0o644, Nlink: 1}
	if _, err := Parse(render(ops, []Result{{Attr: &fifo}}), ops); err != nil {
		t.Fatalf("FIFO answer: %v", err)
	}
	file := fifo
	file.Type = TypeRegular
	if _, err := Parse(render(ops, []Result{{Attr: &file}}), ops); err == nil {
		t.Error("a regular file accepted as mknod's FIFO")
	}
}
