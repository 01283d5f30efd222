package helper

import (
	"errors"
	"fmt"
	"strconv"
)

// statGroup reads the answer to a "stats" call for ops (all stat, first
// being the index of ops[0]) into res:
//
//	"stats" FIRST COUNT, an attribute record named by its path for each
//	file find saw (in op order), "-", then "op I stat err ... end I" for
//	each path missing afterwards (in op order).
//
// A path both seen and missing afterwards was removed in between: the
// attributes stand. A path neither seen nor missing appeared in between:
// it did not exist when looked at (ENOENT).
func (p *parser) statGroup(ops []Op, first int, res []Result) error {
	if p.next() != "stats" || p.next() != strconv.Itoa(first) || p.next() != strconv.Itoa(len(ops)) {
		return errors.New("missing stats record")
	}
	seen := make([]bool, len(ops))
	k := 0 // the next op a found record may belong to
	for p.peek() == "a" {
		e, err := p.attr()
		if err != nil {
			return err
		}
		for k < len(ops) && ops[k].Path != e.Name {
			k++
		}
		if k == len(ops) {
			return fmt.Errorf("attributes of %q, which was not asked for here", e.Name)
		}
		res[k] = Result{Attr: &e.Attr, Target: e.Target}
		seen[k] = true
		k++
	}
	if p.next() != "-" {
		return errors.New("missing end of found files")
	}
	last := -1
	for p.peek() == "op" {
		i, err := strconv.Atoi(p.peekAt(1))
		if err != nil || i < first || i >= first+len(ops) {
			break // the next op's record
		}
		k := i - first
		if k <= last || strconv.Itoa(i) != p.peekAt(1) {
			return fmt.Errorf("missing-file record %d out of order", i)
		}
		last = k
		p.next()
		p.next()
		if p.next() != string(OpStat) || p.next() != "err" {
			return fmt.Errorf("bad missing-file record %d", i)
		}
		errno, msg := p.next(), p.next()
		if !errnos[errno] {
			return fmt.Errorf("unknown errno %q", errno)
		}
		if p.next() != "end" || p.next() != strconv.Itoa(i) {
			return fmt.Errorf("missing end record %d", i)
		}
		if !seen[k] {
			res[k] = Result{Err: &OpError{Errno: errno, Message: cleanMessage(msg)}}
			seen[k] = true
		}
	}
	for k := range ops {
		if !seen[k] {
			res[k] = Result{Err: &OpError{Errno: "ENOENT", Message: "not there when looked at"}}
		}
	}
	return p.err
}
