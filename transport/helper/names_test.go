//go:build linux

package helper

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAwkwardNames(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		var creates, links []Op
		for _, n := range awkward {
			creates = append(creates, Op{Kind: OpCreate, Path: filepath.Join(d, n), Mode: 0o644, Exclusive: true})
			links = append(links, Op{Kind: OpSymlink, Path: filepath.Join(d, "ln", n), Target: n})
		}
		os.Mkdir(filepath.Join(d, "ln"), 0o755)
		for i, r := range runOps(t, sh, append(creates, links...)...) {
			if r.Err != nil {
				t.Fatalf("op %d: %v", i, r.Err)
			}
		}
		if exists(filepath.Join(d, "pwned")) || exists("pwned") {
			t.Fatal("a name ran as shell syntax")
		}
		for _, n := range awkward {
			if !exists(filepath.Join(d, n)) {
				t.Errorf("create made no %q", n)
			}
			if got, err := os.Readlink(filepath.Join(d, "ln", n)); err != nil || got != n {
				t.Errorf("symlink target %q, want %q (%v)", got, n, err)
			}
		}

		// list, readlink and tree give the same bytes back.
		ops := []Op{{Kind: OpList, Path: d}, {Kind: OpList, Path: filepath.Join(d, "ln")}, {Kind: OpTree, Path: d, Depth: 2, Limit: 1000}}
		for _, n := range awkward {
			ops = append(ops, Op{Kind: OpReadlink, Path: filepath.Join(d, "ln", n)})
		}
		res := runOps(t, sh, ops...)
		checkNames(t, "list", res[0].Entries, append([]string{"ln"}, awkward...))
		checkNames(t, "list links", res[1].Entries, awkward)
		for _, e := range res[1].Entries {
			if e.Target != e.Name {
				t.Errorf("listed link %q has target %q", e.Name, e.Target)
			}
		}
		var all []string
		for _, n := range awkward {
			all = append(all, n, "ln/"+n)
		}
		checkNames(t, "tree", res[2].Entries, append(all, "ln"))
		for i, n := range awkward {
			if r := res[3+i]; r.Err != nil || r.Target != n {
				t.Errorf("readlink: %q (%v), want %q", r.Target, r.Err, n)
			}
		}

		// rename each to another awkward name, then stat and remove it.
		var renames, removes []Op
		for i, n := range awkward {
			to := filepath.Join(d, "ln", awkward[(i+1)%len(awkward)])
			renames = append(renames, Op{Kind: OpRename, Path: filepath.Join(d, n), Path2: to})
			removes = append(removes, Op{Kind: OpStat, Path: to}, Op{Kind: OpUnlink, Path: to})
		}
		for i, r := range runOps(t, sh, append(renames, removes...)...) {
			if r.Err != nil {
				t.Errorf("rename/stat/unlink op %d: %v", i, r.Err)
			}
		}
		if left, _ := os.ReadDir(filepath.Join(d, "ln")); len(left) != 0 {
			t.Errorf("%d names left after removing all", len(left))
		}
	})
}

// checkNames compares entries' names with want, ignoring order.
func checkNames(t *testing.T, what string, es []Entry, want []string) {
	t.Helper()
	got := map[string]int{}
	for _, e := range es {
		got[e.Name]++
	}
	for _, n := range want {
		if got[n] != 1 {
			t.Errorf("%s: %q seen %d times", what, n, got[n])
		}
	}
	if len(es) != len(want) {
		t.Errorf("%s: %d entries, want %d", what, len(es), len(want))
	}
}

func TestList1000(t *testing.T) {
	d := t.TempDir()
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("file-%04d-%s", i, strings.Repeat("x", i%40))
		if err := os.WriteFile(filepath.Join(d, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eachShell(t, func(t *testing.T, sh shell) {
		ops := []Op{{Kind: OpList, Path: d}}
		cmd, _ := Command(ops)
		start := time.Now()
		out := runText(t, sh, nil, cmd)
		ran := time.Since(start)
		res, err := Parse(out, ops)
		if err != nil {
			t.Fatal(err)
		}
		parsed := time.Since(start)
		if len(res[0].Entries) != 1000 {
			t.Fatalf("%d entries", len(res[0].Entries))
		}
		t.Logf("1,000-entry list: %d output bytes, run %v, run+parse %v", len(out), ran, parsed)
	})
}

func TestTreeTruncation(t *testing.T) {
	d := t.TempDir()
	for i := 0; i < 30; i++ {
		tree(t, d, map[string]string{fmt.Sprintf("d%02d/sub/f", i): "", fmt.Sprintf("f%02d", i): ""})
	}
	eachShell(t, func(t *testing.T, sh shell) {
		res := runOps(t, sh,
			Op{Kind: OpTree, Path: d, Depth: 3, Limit: 50},
			Op{Kind: OpTree, Path: d, Depth: 3, Limit: 120},
			Op{Kind: OpTree, Path: d, Depth: 2, Limit: 1000},
			Op{Kind: OpTree, Path: d, Depth: 3, Limit: 1},
		)
		if r := res[0]; len(r.Entries) != 50 || !r.Truncated {
			t.Errorf("limit 50: %d entries, truncated %v", len(r.Entries), r.Truncated)
		}
		if r := res[1]; len(r.Entries) != 120 || r.Truncated {
			t.Errorf("limit 120 of 120: %d entries, truncated %v", len(r.Entries), r.Truncated)
		}
		if r := res[2]; len(r.Entries) != 90 || r.Truncated {
			t.Errorf("depth 2: %d entries, truncated %v", len(r.Entries), r.Truncated)
		}
		if r := res[3]; len(r.Entries) != 1 || !r.Truncated {
			t.Errorf("limit 1: %d entries, truncated %v", len(r.Entries), r.Truncated)
		}
	})
}

// TestArgRoundTripShell decodes every seed argument with the script's
// own _dec under each shell.
func TestArgRoundTripShell(t *testing.T) {
	seeds := argSeeds()
	var cmd strings.Builder
	cmd.WriteString(Script())
	cmd.WriteString("\nfor _a in")
	for _, s := range seeds {
		cmd.WriteString(" " + encodeArg(s))
	}
	cmd.WriteString("; do _dec \"$_a\" && printf '%s\\000' \"$_v\"; done\n")
	eachShell(t, func(t *testing.T, sh shell) {
		out := runText(t, sh, nil, cmd.String())
		got := strings.Split(string(out), "\x00")
		if len(got) != len(seeds)+1 {
			t.Fatalf("%d values back for %d seeds", len(got)-1, len(seeds))
		}
		for i, s := range seeds {
			if got[i] != s {
				t.Errorf("%q came back as %q", s, got[i])
			}
		}
	})
}
