package helper

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FatalError is the helper saying it cannot run at all on this VM (a
// "fatal" record), for example because GNU find is missing.
type FatalError struct {
	Errno   string
	Message string
}

func (e *FatalError) Error() string {
	return fmt.Sprintf("the metadata helper cannot run: %s: %s", e.Errno, e.Message)
}

// errnos are the errno names the script reports; any other is a protocol
// error.
var errnos = map[string]bool{
	"ENOENT": true, "EEXIST": true, "ENOTEMPTY": true, "ENOTDIR": true, "EISDIR": true,
	"EACCES": true, "EPERM": true, "EINVAL": true, "ENAMETOOLONG": true, "ELOOP": true,
	"EXDEV": true, "ENOSPC": true, "EDQUOT": true, "EBUSY": true, "EROFS": true,
	"ENOTSUP": true, "EIO": true, "EFBIG": true, "EMLINK": true, "ETXTBSY": true, "ESTALE": true,
	"ENODATA": true, "ERANGE": true, "E2BIG": true,
}

// maxMessage bounds the message kept from an err record.
const maxMessage = 1024

// Parse reads the helper's output for ops. It is strict: a record out of
// place, a malformed number, a missing end or trailing bytes is an error,
// never a guess. A "fatal" record is returned as a *FatalError.
func Parse(stdout []byte, ops []Op) ([]Result, error) {
	if len(stdout) == 0 || stdout[len(stdout)-1] != 0 {
		return nil, errors.New("helper output does not end with NUL (cut short?)")
	}
	p := &parser{fields: strings.Split(string(stdout[:len(stdout)-1]), "\x00")}
	if p.next() != "arkerfs-meta" || p.next() != strconv.Itoa(Version) {
		return nil, fmt.Errorf("not arkerfs-meta %d output", Version)
	}
	if p.peek() == "fatal" {
		p.next()
		fe := &FatalError{Errno: p.next(), Message: p.next()}
		if p.err != nil || !p.atEnd() {
			return nil, errors.New("malformed fatal record")
		}
		return nil, fe
	}
	res := make([]Result, len(ops))
	for i := 0; i < len(ops); {
		if n := statRun(ops, i); n >= 2 {
			if err := p.statGroup(ops[i:i+n], i, res[i:i+n]); err != nil {
				return nil, fmt.Errorf("stats %d..%d: %w", i, i+n-1, err)
			}
			i += n
			continue
		}
		op := ops[i]
		idx := strconv.Itoa(i)
		if p.next() != "op" || p.next() != idx || p.next() != string(op.Kind) {
			return nil, fmt.Errorf("op %d (%s): missing op record", i, op.Kind)
		}
		if err := p.result(op, &res[i]); err != nil {
			return nil, fmt.Errorf("op %d (%s): %w", i, op.Kind, err)
		}
		if p.next() != "end" || p.next() != idx {
			return nil, fmt.Errorf("op %d (%s): missing end record", i, op.Kind)
		}
		i++
	}
	if p.next() != "done" || p.next() != strconv.Itoa(len(ops)) {
		return nil, errors.New("missing done record")
	}
	if p.err != nil {
		return nil, p.err
	}
	if !p.atEnd() {
		return nil, errors.New("trailing output after done")
	}
	return res, nil
}

// parser walks the NUL-separated fields. Reading past the end yields a
// field no record can match and sets err.
type parser struct {
	fields []string
	err    error
}

func (p *parser) next() string {
	if len(p.fields) == 0 {
		if p.err == nil {
			p.err = errors.New("helper output cut short")
		}
		return "\x00eof"
	}
	f := p.fields[0]
	p.fields = p.fields[1:]
	return f
}

func (p *parser) peek() string {
	if len(p.fields) == 0 {
		return "\x00eof"
	}
	return p.fields[0]
}

func (p *parser) atEnd() bool { return len(p.fields) == 0 }

// peekAt is the field n places ahead, or an impossible field.
func (p *parser) peekAt(n int) string {
	if n >= len(p.fields) {
		return "\x00eof"
	}
	return p.fields[n]
}

// result reads one op's status and data records.
func (p *parser) result(op Op, r *Result) error {
	switch p.next() {
	case "ok":
	case "err":
		errno, msg := p.next(), p.next()
		if !errnos[errno] {
			return fmt.Errorf("unknown errno %q", errno)
		}
		r.Err = &OpError{Errno: errno, Message: cleanMessage(msg)}
		return p.err
	default:
		return errors.New("want an ok or err record")
	}
	switch op.Kind {
	case OpRmdir, OpUnlink, OpSetxattr, OpRemovexattr:
		return p.err
	case OpGetxattr:
		if p.next() != "v" {
			return errors.New("want a value record")
		}
		v, err := hex.DecodeString(p.next())
		if err != nil || len(v) > xattrSizeMax {
			return errors.New("bad xattr value")
		}
		r.Value = v
		return p.err
	case OpListxattr:
		if p.next() != "l" {
			return errors.New("want a name list record")
		}
		names, err := parseXattrList(p.next())
		r.Names = names
		if err != nil {
			return err
		}
		return p.err
	case OpStatfs:
		if p.next() != "s" {
			return errors.New("want a statfs record")
		}
		s, err := parseStatfs(p.next())
		r.Statfs = s
		return err
	case OpList, OpTree:
		return p.entries(op, r)
	}
	e, err := p.attr()
	if err != nil {
		return err
	}
	if e.Name != "" {
		return errors.New("named attribute record for a single file")
	}
	if op.Kind == OpReadlink && e.Attr.Type != TypeSymlink {
		return errors.New("readlink answered a file that is not a symlink")
	}
	if op.Kind == OpMknod && e.Attr.Type != op.Type {
		return errors.New("mknod answered a file of another type")
	}
	r.Attr, r.Target = &e.Attr, e.Target
	return nil
}

// parseXattrList decodes listxattr's buffer: names, each NUL-terminated.
func parseXattrList(h string) ([]string, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) > xattrSizeMax {
		return nil, errors.New("bad xattr name list")
	}
	if len(b) == 0 {
		return nil, nil
	}
	if b[len(b)-1] != 0 {
		return nil, errors.New("xattr name list not NUL-terminated")
	}
	names := strings.Split(string(b[:len(b)-1]), "\x00")
	for _, n := range names {
		if n == "" || len(n) > MaxXattrName {
			return nil, fmt.Errorf("bad xattr name %q", n)
		}
	}
	return names, nil
}

// entries reads a list's or a tree's attribute records.
func (p *parser) entries(op Op, r *Result) error {
	var tree *treeOrder // tree: the order of levels and directories
	if op.Kind == OpTree {
		tree = &treeOrder{dirs: map[string]bool{}}
	}
	n := 0 // records read, kept or not
	for p.peek() == "a" {
		e, err := p.attr()
		if err != nil {
			return err
		}
		n++
		if tree == nil {
			if !validName(e.Name) {
				return fmt.Errorf("bad entry name %q", e.Name)
			}
			r.Entries = append(r.Entries, e)
			continue
		}
		keep, err := tree.check(e, op.Depth)
		if err != nil {
			return err
		}
		if keep && n <= op.Limit {
			r.Entries = append(r.Entries, e)
		}
	}
	if tree != nil && n > op.Limit {
		if n > op.Limit+1 {
			return fmt.Errorf("tree answered %d entries, limit %d", n, op.Limit)
		}
		r.Truncated = true
	}
	return p.err
}

// treeOrder checks a tree's entries against the order the script emits
// them in: level by level, each entry after its parent directory.
type treeOrder struct {
	level int             // depth of the last entry
	dirs  map[string]bool // directories listed so far
}

// check accepts a relative path of at most depth valid components, no
// shallower than the entry before it. An entry whose parent directory
// was not listed (made on the VM between two levels' finds) is valid but
// not kept: keep is false.
func (t *treeOrder) check(e Entry, depth int) (keep bool, err error) {
	parts := strings.Split(e.Name, "/")
	if len(parts) > depth {
		return false, fmt.Errorf("tree entry %q deeper than %d", e.Name, depth)
	}
	if len(parts) < t.level {
		return false, fmt.Errorf("tree entry %q after a deeper one", e.Name)
	}
	t.level = len(parts)
	for _, c := range parts {
		if !validName(c) {
			return false, fmt.Errorf("bad tree entry name %q", e.Name)
		}
	}
	if i := strings.LastIndexByte(e.Name, '/'); i >= 0 && !t.dirs[e.Name[:i]] {
		return false, nil
	}
	if e.Attr.Type == TypeDir {
		t.dirs[e.Name] = true
	}
	return true, nil
}

// validName reports whether s can be one directory entry's name.
func validName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.Contains(s, "/")
}

// attr reads one attribute record: "a", the attributes, name, target.
func (p *parser) attr() (Entry, error) {
	if p.next() != "a" {
		return Entry{}, errors.New("want an attribute record")
	}
	head, name, target := p.next(), p.next(), p.next()
	if p.err != nil {
		return Entry{}, p.err
	}
	a, err := parseAttr(head)
	if err != nil {
		return Entry{}, err
	}
	if a.Type != TypeSymlink && target != "" {
		return Entry{}, errors.New("link target on a file that is not a symlink")
	}
	return Entry{Name: name, Attr: a, Target: target}, nil
}

// cleanMessage keeps a bounded, printable form of an err record's text.
// It is idempotent: a cleaned message cleans to itself.
func cleanMessage(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s
}
