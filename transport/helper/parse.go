package helper

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Parse reads the helper's output for ops. It is strict: any record out
// of place, malformed number or missing end is an error, never a guess.
func Parse(stdout []byte, ops []Op) ([]Result, error) {
	p := &parser{fields: strings.Split(string(stdout), "\x00")}
	if len(stdout) == 0 || stdout[len(stdout)-1] != 0 {
		return nil, errors.New("helper output does not end with NUL (cut short?)")
	}
	p.fields = p.fields[:len(p.fields)-1]
	if p.next() != "arkerfs-meta" || p.next() != strconv.Itoa(Version) {
		return nil, fmt.Errorf("not arkerfs-meta %d output", Version)
	}
	if p.peek() == "fatal" {
		p.next()
		errno, msg := p.next(), p.next()
		return nil, fmt.Errorf("helper cannot run: %s: %s", errno, msg)
	}
	res := make([]Result, len(ops))
	for i, op := range ops {
		if p.next() != "op" || p.next() != string(op.Kind) {
			return nil, fmt.Errorf("op %d (%s): missing op record", i, op.Kind)
		}
		if err := p.result(op, &res[i]); err != nil {
			return nil, fmt.Errorf("op %d (%s): %w", i, op.Kind, err)
		}
		if p.next() != "end" {
			return nil, fmt.Errorf("op %d (%s): missing end record", i, op.Kind)
		}
	}
	if p.next() != "done" || p.next() != strconv.Itoa(len(ops)) {
		return nil, errors.New("missing done record")
	}
	if p.err != nil {
		return nil, p.err
	}
	if len(p.fields) != 0 {
		return nil, errors.New("trailing output after done")
	}
	return res, nil
}

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
		return ""
	}
	return p.fields[0]
}

// result reads one op's status and data records.
func (p *parser) result(op Op, r *Result) error {
	switch p.next() {
	case "ok":
	case "err":
		errno, msg := p.next(), p.next()
		if !isErrnoName(errno) {
			return fmt.Errorf("bad errno %q", errno)
		}
		r.Err = &OpError{Errno: errno, Message: strings.TrimSpace(msg)}
		return p.err
	default:
		return errors.New("want ok or err")
	}
	switch op.Kind {
	case OpRmdir, OpUnlink:
		return p.err
	case OpStatfs:
		if p.next() != "s" {
			return errors.New("want statfs record")
		}
		s, err := parseStatfs(p.next())
		r.Statfs = s
		return err
	case OpList, OpTree:
		for p.peek() == "a" {
			p.next()
			e, err := parseEntry(p.next(), p.next(), p.next())
			if err != nil {
				return err
			}
			if op.Kind == OpList && (e.Name == "" || strings.Contains(e.Name, "/")) || op.Kind == OpTree && e.Name == "" {
				return fmt.Errorf("bad entry name %q", e.Name)
			}
			r.Entries = append(r.Entries, e)
		}
		if op.Kind == OpTree {
			if p.next() != "t" {
				return errors.New("want tree end record")
			}
			if len(r.Entries) > op.Limit {
				r.Entries, r.Truncated = r.Entries[:op.Limit], true
			}
		}
		return p.err
	}
	if p.next() != "a" {
		return errors.New("want attribute record")
	}
	e, err := parseEntry(p.next(), p.next(), p.next())
	if err != nil {
		return err
	}
	r.Attr, r.Target = &e.Attr, e.Target
	return nil
}

var types = map[string]FileType{"f": TypeRegular, "d": TypeDir, "l": TypeSymlink, "p": TypeFIFO, "s": TypeSocket, "c": TypeChar, "b": TypeBlock}

// parseEntry reads "%y %m %n %U %G %s %b %i %D %A@ %T@ %C@", name, target.
func parseEntry(head, name, target string) (Entry, error) {
	f := strings.Split(head, " ")
	if len(f) != 12 {
		return Entry{}, fmt.Errorf("attribute record has %d fields, want 12", len(f))
	}
	t, ok := types[f[0]]
	if !ok {
		return Entry{}, fmt.Errorf("unknown file type %q", f[0])
	}
	var a Attr
	a.Type = t
	var err error
	u := func(s string, base, bits int) uint64 {
		v, e := strconv.ParseUint(s, base, bits)
		if e != nil && err == nil {
			err = fmt.Errorf("bad number %q", s)
		}
		return v
	}
	a.Perm = uint32(u(f[1], 8, 32)) & 07777
	if u(f[1], 8, 32) > 07777 {
		err = fmt.Errorf("bad mode %q", f[1])
	}
	a.Nlink = uint32(u(f[2], 10, 32))
	a.UID = uint32(u(f[3], 10, 32))
	a.GID = uint32(u(f[4], 10, 32))
	a.Size = int64(u(f[5], 10, 63))
	a.Blocks = int64(u(f[6], 10, 63))
	a.Ino = u(f[7], 10, 64)
	a.Dev = u(f[8], 10, 64)
	for i, dst := range []*int64{&a.AtimeNs, &a.MtimeNs, &a.CtimeNs} {
		ns, e := parseTime(f[9+i])
		if e != nil && err == nil {
			err = e
		}
		*dst = ns
	}
	if err != nil {
		return Entry{}, err
	}
	if t != TypeSymlink && target != "" {
		return Entry{}, errors.New("link target on a non-link")
	}
	return Entry{Name: name, Attr: a, Target: target}, nil
}

// parseTime reads find's "SEC.FRACTION" (fraction of any length) as ns.
func parseTime(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	secs, frac, ok := strings.Cut(s, ".")
	if !ok || secs == "" || frac == "" {
		return 0, fmt.Errorf("bad time %q", s)
	}
	sec, err := strconv.ParseUint(secs, 10, 33)
	if err != nil {
		return 0, fmt.Errorf("bad time %q", s)
	}
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad time %q", s)
		}
	}
	frac = (frac + "000000000")[:9]
	ns, _ := strconv.ParseInt(frac, 10, 64)
	v := int64(sec)*1e9 + ns
	if neg {
		v = -v
	}
	return v, nil
}

// parseStatfs reads "%S %b %f %a %c %d %l".
func parseStatfs(s string) (*Statfs, error) {
	f := strings.Fields(s)
	if len(f) != 7 {
		return nil, fmt.Errorf("statfs record has %d fields, want 7", len(f))
	}
	var v [7]uint64
	for i := range f {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad statfs number %q", f[i])
		}
		v[i] = n
	}
	return &Statfs{Bsize: v[0], Blocks: v[1], Bfree: v[2], Bavail: v[3], Files: v[4], Ffree: v[5], NameLen: v[6]}, nil
}

func isErrnoName(s string) bool {
	if len(s) < 2 || s[0] != 'E' {
		return false
	}
	for _, c := range s[1:] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
