package fs

// maxChanges bounds the changes a changeLog remembers while fetches are in
// flight; past it the log forgets them all, and the fetches begun before
// store nothing (they ask again, which is slower but true).
const maxChanges = 1 << 16

// changeLog remembers which paths the mount's own changes touched while
// an answer to an earlier question may still be on its way, so that such
// an answer does not overwrite what a change noted: an unlink noted the
// file gone, then a listing fetched before it arrives with the file in it;
// a rename over a hard link noted the other name's link count, then a stat
// asked before it arrives with the old count.
//
// Every change advances a counter. A fetch takes the counter's value when
// it begins (begin) and hands it to the store, which skips whatever a
// change touched since (stale, staleNames): the path itself, its
// parent's set of names, or everything below a directory that was
// removed or renamed. Records are kept only while
// some fetch is in flight, so the log is empty when the mount is quiet.
//
// A changeLog is not safe for concurrent use: metaCache.mu guards it, and
// each change must be recorded under the same hold of the lock that
// applies it to the cache (and each store must check under the hold that
// stores), or a change could slip between a check and a store.
type changeLog struct {
	gen uint64 // advanced by every change
	// paths maps a path to the counter at the latest change of its
	// attributes or its existence.
	paths map[string]uint64
	// trees maps a directory to the counter at the latest change of
	// everything below it: its removal, a rename of it or over it.
	trees map[string]uint64
	// names maps a directory to the counter at the latest change of its
	// set of names.
	names map[string]uint64
	// inflight counts the fetches not yet ended by the counter at which
	// they began.
	inflight map[uint64]int
	// floor: fetches that began before it store nothing, because the log
	// overflowed and forgot what changed.
	floor uint64
}

// change says what a change touched.
type change int

const (
	attrChange change = iota // the path's attributes
	nameChange               // also its existence: its parent's set of names
	treeChange               // also everything below it
)

// begin registers a fetch that begins now and returns its start for
// stale and end.
func (l *changeLog) begin() uint64 {
	if l.inflight == nil {
		l.inflight = make(map[uint64]int)
	}
	l.inflight[l.gen]++
	return l.gen
}

// end unregisters a fetch that began at since.
func (l *changeLog) end(since uint64) {
	if l.inflight[since]--; l.inflight[since] <= 0 {
		delete(l.inflight, since)
	}
	if len(l.inflight) == 0 {
		l.paths, l.trees, l.names = nil, nil, nil
	}
}

// touch records a change of path of kind c.
func (l *changeLog) touch(path string, c change) {
	l.gen++
	if len(l.inflight) == 0 {
		return // nobody can hold an older answer
	}
	if len(l.paths)+len(l.trees)+len(l.names) >= maxChanges {
		l.paths, l.trees, l.names, l.floor = nil, nil, nil, l.gen
		return
	}
	if l.paths == nil {
		l.paths, l.trees, l.names = make(map[string]uint64), make(map[string]uint64), make(map[string]uint64)
	}
	l.paths[path] = l.gen
	if c >= nameChange {
		l.names[parentOf(path)] = l.gen
	}
	if c == treeChange {
		l.trees[path] = l.gen
	}
}

// stale reports whether a change touched path, or everything below a
// directory above it, after a fetch that began at since.
func (l *changeLog) stale(path string, since uint64) bool {
	return l.paths[path] > since || l.staleTree(path, since)
}

// staleNames reports whether dir's set of names may have changed after a
// fetch that began at since: a listing fetched then is not complete.
func (l *changeLog) staleNames(dir string, since uint64) bool {
	return l.names[dir] > since || l.staleTree(dir, since)
}

// staleTree reports whether a change of everything below path or below a
// directory above it came after a fetch that began at since (or the log
// forgot).
func (l *changeLog) staleTree(path string, since uint64) bool {
	if since < l.floor {
		return true
	}
	if len(l.trees) == 0 {
		return false
	}
	for p := path; ; p = parentOf(p) {
		if l.trees[p] > since {
			return true
		}
		if p == "/" || p == "" {
			return false
		}
	}
}
