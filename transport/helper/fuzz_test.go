package helper

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// awkward holds every kind of byte a name can hold but NUL and '/'.
var awkward = []string{
	"with space", "q'uote", `d"q`, "new\nline", "$(touch pwned)", "`touch pwned`", "${HOME}",
	`back\slash`, `\0101`, "\\c stop", "-dash", "--", "-", "*", "?", "[a]", "~", "!", "#hash", ";", "&", "|", "<>",
	"%s%b%n", "\xff\xfeinvalid", "\x80", "a\xc3", "\x01\x02\x1f\x7f", "tab\t", "ü ñ 日本", "e\u0301",
	"\r", " ", "  lead and trail  ", "trailing\n\n", strings.Repeat("L", 255),
	strings.Repeat("\xff", 255), strings.Repeat("é", 127) + "e", "x" + strings.Repeat("'", 254),
}

// fuzzOpSets are the op lists FuzzParse parses against, chosen by a byte.
var fuzzOpSets = [][]Op{
	sampleOps,
	{{Kind: OpStat, Path: "/"}},
	{{Kind: OpList, Path: "/"}, {Kind: OpUnlink, Path: "/x"}},
	{{Kind: OpTree, Path: "/", Depth: 3, Limit: 2}},
	{{Kind: OpInstall, Path: "/a", Path2: "/.t", KeepMode: true}, {Kind: OpInstall, Path: "/b", Path2: "/.u", Mode: 0o600}},
	{{Kind: OpStatfs, Path: "/"}, {Kind: OpReadlink, Path: "/l"}, {Kind: OpRename, Path: "/a", Path2: "/b"}},
	{{Kind: OpStat, Path: "/a"}, {Kind: OpStat, Path: "/b"}, {Kind: OpStat, Path: "/c"}, {Kind: OpList, Path: "/"}},
	{{Kind: OpMknod, Path: "/p", Type: TypeFIFO, Mode: 0o644}, {Kind: OpMknod, Path: "/c", Type: TypeChar, Major: 1, Minor: 3}},
}

// FuzzParse checks that Parse never panics and that what it accepts is
// well formed: results of the right shape, which render back to output
// that parses to the same results.
func FuzzParse(f *testing.F) {
	f.Add(render(sampleOps, sampleResults()), uint8(0))
	f.Add([]byte("arkerfs-meta\x001\x00op\x000\x00stat\x00err\x00ENOENT\x00\x00end\x000\x00done\x001\x00"), uint8(1))
	f.Add([]byte("arkerfs-meta\x001\x00fatal\x00ENOTSUP\x00no find\x00"), uint8(2))
	f.Add([]byte("arkerfs-meta\x001\x00op\x000\x00mknod\x00ok\x00a\x00p 644 1 0 0 0 0 5 2049 1.0 1.0 1.0\x00\x00\x00end\x000\x00"+
		"op\x001\x00mknod\x00err\x00EPERM\x00mknod: c: Operation not permitted\x00end\x001\x00done\x002\x00"), uint8(7))
	f.Fuzz(func(t *testing.T, out []byte, sel uint8) {
		ops := fuzzOpSets[int(sel)%len(fuzzOpSets)]
		res, err := Parse(out, ops)
		if err != nil {
			return
		}
		if len(res) != len(ops) {
			t.Fatalf("%d results for %d ops", len(res), len(ops))
		}
		for i, r := range res {
			if err := checkShape(ops[i], r); err != nil {
				t.Fatalf("op %d (%s): %v", i, ops[i].Kind, err)
			}
		}
		again, err := Parse(render(ops, res), ops)
		if err != nil || !reflect.DeepEqual(again, res) {
			t.Fatalf("accepted output does not render back: %v\n%+v\n%+v", err, res, again)
		}
	})
}

// checkShape says whether r has exactly the data op's kind promises.
func checkShape(op Op, r Result) error {
	if r.Err != nil {
		if !errnos[r.Err.Errno] || r.Attr != nil || r.Entries != nil || r.Statfs != nil || r.Target != "" || r.Truncated || r.Value != nil || r.Names != nil {
			return fmt.Errorf("bad failed result %+v", r)
		}
		return nil
	}
	switch op.Kind {
	case OpRmdir, OpUnlink, OpSetxattr, OpRemovexattr, OpGetxattr, OpListxattr:
		if r.Attr != nil || r.Entries != nil || r.Statfs != nil {
			return errors.New("data on a result with none")
		}
	case OpStatfs:
		if r.Statfs == nil {
			return errors.New("no statfs")
		}
	case OpList, OpTree:
		if op.Kind == OpTree && len(r.Entries) > op.Limit || op.Kind == OpList && r.Truncated {
			return errors.New("too many entries")
		}
		for _, e := range r.Entries {
			if e.Attr.Type == 0 || e.Attr.Perm > 07777 || e.Attr.Type != TypeSymlink && e.Target != "" {
				return fmt.Errorf("bad entry %+v", e)
			}
		}
	default:
		if r.Attr == nil || r.Attr.Type == 0 || r.Attr.Type != TypeSymlink && r.Target != "" {
			return fmt.Errorf("bad attributes %+v", r)
		}
	}
	return nil
}

// FuzzArgRoundTrip checks the argument encoding with a Go model of what
// sh and the script's _dec do: every byte string without NUL comes back
// unchanged, the word is one quoted sh word, and it is valid UTF-8 (JSON
// can carry it). TestArgRoundTripShell runs the seeds through real shells.
func FuzzArgRoundTrip(f *testing.F) {
	for _, s := range argSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(bytes.ReplaceAll(b, []byte{0}, []byte{1}))
		w := encodeArg(s)
		if !utf8.ValidString(w) {
			t.Fatalf("word %q is not valid UTF-8", w)
		}
		lit, err := shellWord(w)
		if err != nil {
			t.Fatalf("word %q: %v", w, err)
		}
		got, err := decodeModel(lit)
		if err != nil || got != s {
			t.Fatalf("%q encoded as %q decodes to %q (%v)", s, w, got, err)
		}
	})
}

// argSeeds are the arguments the fuzz seeds and the shell test use: the
// awkward names and the files in testdata/fuzz/FuzzArgRoundTrip.
func argSeeds() []string {
	seeds := append([]string{"", "r", "x", "'", "''", "\\", "\\c", "\\0101", "%b", "x\n\n", "\xff\n",
		"\xff0123", "\x0177", "\xfe\\0101"}, awkward...)
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzArgRoundTrip", "*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(q, ")")); err == nil {
					seeds = append(seeds, strings.ReplaceAll(s, "\x00", "\x01"))
				}
			}
		}
	}
	return seeds
}

// shellWord models how sh reads one word made of single-quoted strings and
// backslash-escaped characters; anything else that sh could treat as
// syntax or expand is an error.
func shellWord(w string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case '\'':
			j := strings.IndexByte(w[i+1:], '\'')
			if j < 0 {
				return "", errors.New("unterminated quote")
			}
			b.WriteString(w[i+1 : i+1+j])
			i += j + 1
		case '\\':
			if i+1 == len(w) {
				return "", errors.New("trailing backslash")
			}
			i++
			b.WriteByte(w[i])
		default:
			return "", fmt.Errorf("unquoted %q", c)
		}
	}
	return b.String(), nil
}

// decodeModel models the script's _dec: 'r' raw, 'x' printf %b (as dash
// expands it) without cutting trailing newlines.
func decodeModel(v string) (string, error) {
	if s, ok := strings.CutPrefix(v, "r"); ok {
		return s, nil
	}
	s, ok := strings.CutPrefix(v, "x")
	if !ok {
		return "", errors.New("no r or x prefix")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case '0':
			n, k := 0, 0
			for ; k < 3 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
				i++
				n = n*8 + int(s[i]-'0')
			}
			b.WriteByte(byte(n))
		case 'c':
			return b.String(), errors.New(`\c stops the output`)
		case '\\':
			b.WriteByte('\\')
		default:
			if esc, ok := map[byte]byte{'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11}[c]; ok {
				b.WriteByte(esc)
			} else {
				b.WriteByte('\\')
				b.WriteByte(c)
			}
		}
	}
	return b.String(), nil
}
