package helper

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Version is the helper's protocol version, printed in its first record.
const Version = 1

// MaxCommandBytes keeps one run's command text well under the 128 KiB a
// single argv string may have on Linux (the server runs sh -c COMMAND).
const MaxCommandBytes = 64 << 10

//go:embed helper.sh
var script string

// Script is the helper's text, as sent before the call line.
func Script() string { return script }

// encodeArg turns one argument into a single-quoted shell word that the
// script's _dec decodes back to the same bytes. Valid UTF-8 travels raw
// ('r' prefix, quotes escaped); anything else as printf %b octal escapes
// ('x' prefix), because the command travels in JSON, which cannot carry
// invalid UTF-8. NUL cannot be in an argument (Command rejects it).
func encodeArg(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	if utf8.ValidString(s) {
		b.WriteByte('r')
		b.WriteString(strings.ReplaceAll(s, "'", `'\''`))
	} else {
		b.WriteByte('x')
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, `\0%03o`, c)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// args lists an op's arguments in the order the script expects.
func args(op Op) ([]string, error) {
	if err := checkPath(op.Path); err != nil {
		return nil, err
	}
	bit := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	mode := "0" + strconv.FormatUint(uint64(op.Mode&07777), 8)
	switch op.Kind {
	case OpStat, OpList, OpRmdir, OpUnlink, OpReadlink, OpStatfs:
		return []string{op.Path}, nil
	case OpMkdir, OpChmod:
		return []string{op.Path, mode}, nil
	case OpCreate:
		return []string{op.Path, mode, bit(op.Exclusive)}, nil
	case OpTruncate:
		if op.Size < 0 {
			return nil, fmt.Errorf("truncate to negative size %d", op.Size)
		}
		return []string{op.Path, strconv.FormatInt(op.Size, 10)}, nil
	case OpSymlink:
		if op.Target == "" || strings.IndexByte(op.Target, 0) >= 0 {
			return nil, fmt.Errorf("symlink target must be non-empty and without NUL")
		}
		return []string{op.Path, op.Target}, nil
	case OpRename, OpLink:
		if err := checkPath(op.Path2); err != nil {
			return nil, err
		}
		if op.Kind == OpLink {
			return []string{op.Path, op.Path2}, nil
		}
		return []string{op.Path, op.Path2, bit(op.NoReplace)}, nil
	case OpUtimens:
		return []string{op.Path, timeArg(op.Atime), timeArg(op.Mtime)}, nil
	case OpTree:
		if op.Depth < 1 || op.Limit < 1 {
			return nil, fmt.Errorf("tree needs depth and limit >= 1")
		}
		return []string{op.Path, strconv.Itoa(op.Depth), strconv.Itoa(op.Limit)}, nil
	}
	return nil, fmt.Errorf("unknown helper operation %q", op.Kind)
}

// timeArg writes a utimens time: "-" (leave), "now", or SEC.NSEC.
func timeArg(t Time) string {
	switch {
	case !t.Set:
		return "-"
	case t.Now:
		return "now"
	}
	sign, ns := "", t.Ns
	if ns < 0 {
		sign, ns = "-", -ns
	}
	return fmt.Sprintf("%s%d.%09d", sign, ns/1e9, ns%1e9)
}

func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("helper paths must be absolute: %q", p)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("path contains NUL: %q", p)
	}
	return nil
}

// Command builds the command text that runs ops in one run.
func Command(ops []Op) (string, error) {
	if len(ops) == 0 {
		return "", fmt.Errorf("no helper operations")
	}
	var b strings.Builder
	b.WriteString(script)
	b.WriteString("\narkerfs_main")
	for _, op := range ops {
		a, err := args(op)
		if err != nil {
			return "", fmt.Errorf("%s: %w", op.Kind, err)
		}
		b.WriteString(" ")
		b.WriteString(string(op.Kind))
		for _, s := range a {
			b.WriteByte(' ')
			b.WriteString(encodeArg(s))
		}
	}
	b.WriteByte('\n')
	return b.String(), nil
}

// opSize is the command bytes op adds.
func opSize(op Op) int {
	a, err := args(op)
	if err != nil {
		return 0
	}
	n := len(op.Kind) + 1
	for _, s := range a {
		n += len(encodeArg(s)) + 1
	}
	return n
}

// Split cuts ops into batches whose commands stay under maxCommandBytes.
// An op too large for any batch gets a batch of its own.
func Split(ops []Op, maxCommandBytes int) [][]Op {
	var out [][]Op
	var cur []Op
	size := len(script) + 32
	for _, op := range ops {
		n := opSize(op)
		if len(cur) > 0 && size+n > maxCommandBytes {
			out = append(out, cur)
			cur, size = nil, len(script)+32
		}
		cur = append(cur, op)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
