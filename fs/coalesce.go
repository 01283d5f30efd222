package fs

import (
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// coalesce adds op to the deferred queue and returns the queue and the
// index op landed at. A chmod folds into a queued chmod of the same path
// (the later mode wins) and a utimens into a queued utimens of the same
// path (each time the later one sets replaces the earlier's, a time it
// leaves alone keeps the earlier's, UTIME_NOW included), at the earlier
// one's place, when no operation queued between them touches the path:
// the VM then ends in the state the two would have left, and no other
// operation of the queue sees a difference. Anything else is appended.
// stress-ng --chmod or a tool that sets a mode twice thus leaves one
// change per file in the queue, however many calls it makes.
func coalesce(queue []transport.MetaOp, op transport.MetaOp) ([]transport.MetaOp, int) {
	if i := mergeIndex(queue, op); i >= 0 {
		queue[i] = merge(queue[i], op)
		return queue, i
	}
	return append(queue, op), len(queue)
}

// mergeIndex returns the index of the queued change op folds into, or -1.
// Going back from the end of queue, the first chmod (or utimens) of op's
// path takes it, unless an operation on the way touches the path first: a
// mkdir below it needs the directory's mode as it was then and changes its
// mtime, a change of a directory above it decides whether the VM may reach
// it at all, a rename moves it. A chmod and a utimens of the same path
// commute (the owner may do both whatever the mode), so either lets the
// other pass.
func mergeIndex(queue []transport.MetaOp, op transport.MetaOp) int {
	if op.Kind != helper.OpChmod && op.Kind != helper.OpUtimens || op.Path2 != "" {
		return -1
	}
	for i := len(queue) - 1; i >= 0; i-- {
		q := queue[i]
		if q.Path == op.Path && q.Path2 == "" {
			if q.Kind == op.Kind {
				return i
			}
			if q.Kind == helper.OpChmod || q.Kind == helper.OpUtimens {
				continue // the other attribute change of the path
			}
		}
		if touches(q, op.Path) {
			return -1
		}
	}
	return -1
}

// merge folds the later change b into the earlier change a of the same
// kind and path.
func merge(a, b transport.MetaOp) transport.MetaOp {
	if b.Kind == helper.OpUtimens {
		if b.Atime.Set {
			a.Atime = b.Atime
		}
		if b.Mtime.Set {
			a.Mtime = b.Mtime
		}
		return a
	}
	return b
}

// touches reports whether op involves path: one of its paths is path, or
// lies below it or above it.
func touches(op transport.MetaOp, path string) bool {
	related := func(p string) bool { return p != "" && (p == path || isBelow(p, path) || isBelow(path, p)) }
	return related(op.Path) || related(op.Path2)
}
