package helper

import (
	_ "embed"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Version is the helper's protocol version, printed in its first record.
const Version = 1

// Limits.
const (
	// MaxCommandBytes keeps one run's command text well under the 128 KiB
	// a single argv string may have on Linux (the VM runs sh -c COMMAND).
	MaxCommandBytes = 64 << 10
	// MaxPathBytes is the longest path or symlink target sent: PATH_MAX
	// less its terminating NUL.
	MaxPathBytes = 4095
	// MaxTreeLimit bounds a tree operation's Limit, so that its output
	// (about 130 bytes an entry, a third more when the output must travel
	// as base64) stays well inside a run's output window (10 MiB of
	// stdout and stderr combined).
	MaxTreeLimit = 40_000
	// MaxXattrName is Linux's XATTR_NAME_MAX; longer names are ERANGE.
	MaxXattrName = 255
	// MaxXattrValue is the largest value setxattr sends: hex doubles it,
	// and with a 4095-byte path all escaped (20 KiB) and the script the
	// command stays under MaxCommandBytes. Linux allows 64 KiB
	// (XATTR_SIZE_MAX); ext4 takes about one block (4 KiB) anyway.
	MaxXattrValue = 12 << 10
	// xattrSizeMax is Linux's XATTR_SIZE_MAX.
	xattrSizeMax = 64 << 10
)

//go:embed helper.sh
var script string

// Script is the helper's text, as sent before the call line.
func Script() string { return script }

// callPrefix starts the line that calls the script; callSuffix ends it.
const (
	callPrefix = "\narkerfs_main"
	callSuffix = "\n"
)

// Validate reports whether op can be sent: nil, or an *OpError naming the
// errno the VM would give (EINVAL, ENAMETOOLONG) without sending it.
func Validate(op Op) error {
	if err := checkPath(op.Path); err != nil {
		return err
	}
	switch op.Kind {
	case OpStat, OpList, OpRmdir, OpUnlink, OpReadlink, OpStatfs, OpUtimens:
		return nil
	case OpMkdir, OpCreate, OpChmod:
		if op.Mode&^07777 != 0 {
			return invalid("mode %#o has bits beyond 07777", op.Mode)
		}
		return nil
	case OpTruncate:
		if op.Size < 0 {
			return invalid("negative size %d", op.Size)
		}
		return nil
	case OpSymlink:
		switch {
		case op.Target == "":
			return invalid("empty symlink target")
		case strings.IndexByte(op.Target, 0) >= 0:
			return invalid("symlink target contains NUL")
		case len(op.Target) > MaxPathBytes:
			return &OpError{Errno: "ENAMETOOLONG", Message: "symlink target longer than PATH_MAX"}
		}
		return nil
	case OpRename, OpLink:
		return checkPath(op.Path2)
	case OpInstall:
		if err := checkPath(op.Path2); err != nil {
			return err
		}
		if op.Mode&^07777 != 0 {
			return invalid("mode %#o has bits beyond 07777", op.Mode)
		}
		return nil
	case OpGetxattr, OpRemovexattr:
		return checkXattrName(op.Name)
	case OpListxattr:
		return nil
	case OpSetxattr:
		if err := checkXattrName(op.Name); err != nil {
			return err
		}
		switch {
		case len(op.Value) > MaxXattrValue:
			return &OpError{Errno: "E2BIG", Message: fmt.Sprintf("xattr value of %d bytes, more than %d", len(op.Value), MaxXattrValue)}
		case op.XattrFlags&^(XattrCreate|XattrReplace) != 0 || op.XattrFlags == XattrCreate|XattrReplace:
			return invalid("bad setxattr flags %#x", op.XattrFlags)
		}
		return nil
	case OpTree:
		if op.Depth < 1 || op.Limit < 1 || op.Limit > MaxTreeLimit {
			return invalid("tree needs depth >= 1 and 1 <= limit <= %d", MaxTreeLimit)
		}
		return nil
	case OpMknod:
		return checkMknod(op)
	}
	return invalid("unknown helper operation %q", op.Kind)
}

// checkXattrName accepts what setxattr(2) accepts: 1 to 255 bytes.
func checkXattrName(name string) error {
	switch {
	case name == "" || len(name) > MaxXattrName:
		return &OpError{Errno: "ERANGE", Message: fmt.Sprintf("xattr name of %d bytes", len(name))}
	case strings.IndexByte(name, 0) >= 0:
		return invalid("xattr name contains NUL")
	}
	return nil
}

// checkMknod accepts the special file types with a mode, and device
// numbers that fit Linux's dev_t (12-bit major, 20-bit minor) for devices
// only.
func checkMknod(op Op) error {
	switch {
	case op.Mode&^07777 != 0:
		return invalid("mode %#o has bits beyond 07777", op.Mode)
	case op.Type != TypeFIFO && op.Type != TypeSocket && op.Type != TypeChar && op.Type != TypeBlock:
		return invalid("mknod of file type %d", op.Type)
	case op.Type != TypeChar && op.Type != TypeBlock && (op.Major != 0 || op.Minor != 0):
		return invalid("device numbers for a file that is not a device")
	case op.Major >= 1<<12 || op.Minor >= 1<<20:
		return invalid("device numbers %d,%d out of range", op.Major, op.Minor)
	}
	return nil
}

func invalid(format string, a ...any) *OpError {
	return &OpError{Errno: "EINVAL", Message: fmt.Sprintf(format, a...)}
}

// checkPath accepts clean absolute paths without NUL, up to MaxPathBytes.
func checkPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return invalid("path %q is not absolute", p)
	case strings.IndexByte(p, 0) >= 0:
		return invalid("path %q contains NUL", p)
	case len(p) > MaxPathBytes:
		return &OpError{Errno: "ENAMETOOLONG", Message: "path longer than PATH_MAX"}
	case path.Clean(p) != p:
		return invalid("path %q is not clean", p)
	}
	return nil
}

// args lists a valid op's arguments in the order the script expects.
func args(op Op) []string {
	mode := fmt.Sprintf("%05o", op.Mode&07777) // 5 digits: chmod then clears a directory's setgid too
	switch op.Kind {
	case OpMkdir, OpChmod:
		return []string{op.Path, mode}
	case OpCreate:
		return []string{op.Path, mode, bit(op.Exclusive)}
	case OpTruncate:
		return []string{op.Path, strconv.FormatInt(op.Size, 10)}
	case OpSymlink:
		return []string{op.Path, op.Target}
	case OpLink:
		return []string{op.Path, op.Path2}
	case OpRename:
		return []string{op.Path, op.Path2, bit(op.NoReplace)}
	case OpInstall:
		m := mode
		if op.KeepMode {
			m = "-"
		}
		if op.KeepXattrs {
			m = "x" + m
		}
		return []string{op.Path, op.Path2, m}
	case OpUtimens:
		return []string{op.Path, timeArg(op.Atime), timeArg(op.Mtime)}
	case OpTree:
		return []string{op.Path, strconv.Itoa(op.Depth), strconv.Itoa(op.Limit)}
	case OpGetxattr, OpRemovexattr:
		return []string{op.Path, hex.EncodeToString([]byte(op.Name))}
	case OpSetxattr:
		return []string{op.Path, hex.EncodeToString([]byte(op.Name)), strconv.Itoa(op.XattrFlags) + ":" + hex.EncodeToString([]byte(op.Value))}
	case OpMknod:
		return []string{op.Path, typeLetter(op.Type), mode, fmt.Sprintf("%d,%d", op.Major, op.Minor)}
	}
	return []string{op.Path}
}

// typeLetter is t's letter as find's %y and mknod(1) name it.
func typeLetter(t FileType) string {
	for l, ft := range fileTypes {
		if ft == t {
			return l
		}
	}
	return "?"
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// timeArg writes a utimens time: "-" (leave), "now", or [-]SEC.NSEC, a
// decimal number of seconds as GNU touch -d @… reads it.
func timeArg(t Time) string {
	switch {
	case !t.Set:
		return "-"
	case t.Now:
		return "now"
	}
	sign, ns := "", uint64(t.Ns)
	if t.Ns < 0 {
		sign, ns = "-", uint64(-t.Ns) // also right for math.MinInt64
	}
	return fmt.Sprintf("%s%d.%09d", sign, ns/1e9, ns%1e9)
}

// encodeArg turns one argument into a single-quoted shell word that the
// script's _dec decodes back to the same bytes. Valid UTF-8 travels raw
// ('r' prefix; a quote ends the quoted string, is escaped and starts a new
// one); anything else as printf %b octal escapes ('x' prefix) of every
// byte but printable ASCII other than quote and backslash, because the
// command travels in JSON, which cannot carry invalid UTF-8. Either way
// the word is quoted strings only: nothing in it is shell syntax. s must
// not contain NUL.
func encodeArg(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 4)
	if utf8.ValidString(s) {
		b.WriteString("'r")
		b.WriteString(strings.ReplaceAll(s, "'", `'\''`))
		b.WriteByte('\'')
		return b.String()
	}
	b.WriteString("'x")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '\'' && c != '\\' {
			b.WriteByte(c)
		} else {
			b.WriteString(`\0`)
			b.WriteByte('0' + c>>6)
			b.WriteByte('0' + c>>3&7)
			b.WriteByte('0' + c&7)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// appendOp writes op's part of the call line: " KIND 'ARG'...".
func appendOp(b *strings.Builder, op Op) {
	b.WriteByte(' ')
	b.WriteString(string(op.Kind))
	for _, a := range args(op) {
		b.WriteByte(' ')
		b.WriteString(encodeArg(a))
	}
}

// Command builds the command text that runs ops, in order, in one run.
// Every op must pass Validate. A run of two or more stat ops travels as
// one "stats" call, which the script answers with a single find.
func Command(ops []Op) (string, error) {
	if len(ops) == 0 {
		return "", fmt.Errorf("no helper operations")
	}
	for i, op := range ops {
		if err := Validate(op); err != nil {
			return "", fmt.Errorf("helper op %d (%s): %w", i, op.Kind, err)
		}
	}
	var b strings.Builder
	b.WriteString(script)
	b.WriteString(callPrefix)
	for i := 0; i < len(ops); {
		if n := statRun(ops, i); n >= 2 {
			b.WriteString(" stats ")
			b.WriteString(strconv.Itoa(n))
			for _, op := range ops[i : i+n] {
				b.WriteByte(' ')
				b.WriteString(encodeArg(op.Path))
			}
			i += n
			continue
		}
		appendOp(&b, ops[i])
		i++
	}
	b.WriteString(callSuffix)
	return b.String(), nil
}

// statRun is the number of stat ops from ops[i] on.
func statRun(ops []Op, i int) int {
	n := 0
	for i+n < len(ops) && ops[i+n].Kind == OpStat {
		n++
	}
	return n
}

// opSize is the number of command bytes op adds.
func opSize(op Op) int {
	var b strings.Builder
	appendOp(&b, op)
	return b.Len()
}

// Split cuts ops, in order, into batches whose commands stay within
// maxCommandBytes (it counts each op as sent alone, which a "stats" group
// never exceeds). An op too large to share gets a batch of its own; with
// MaxCommandBytes that never happens: the largest valid op (two 4095-byte
// strings, all escaped) adds about 41 KiB to the 9 KiB script.
func Split(ops []Op, maxCommandBytes int) [][]Op {
	base := len(script) + len(callPrefix) + len(callSuffix)
	var out [][]Op
	start, size := 0, base
	for i, op := range ops {
		n := opSize(op)
		if i > start && size+n > maxCommandBytes {
			out = append(out, ops[start:i:i])
			start, size = i, base
		}
		size += n
	}
	if start < len(ops) {
		out = append(out, ops[start:len(ops):len(ops)])
	}
	return out
}
