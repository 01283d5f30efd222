package fs

import (
	"strings"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/cache"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// metaCache remembers what the VM said about paths: attributes (positive
// entries), names known not to exist (negative entries) and complete
// directory listings. It is keyed by VM path, so it knows nothing of
// inodes; fs keeps it true for its own changes via the note* methods.
//
// Answers of the VM are stored (store*) with the moment their question
// was asked (begin), and whatever the mount's own changes touched since
// is left out of them (changeLog).
//
// INVARIANT: every name in a cached listing of dir has an attribute entry
// for dir/name set at the same moment (they expire together, unless a
// later note refreshed the attribute).
type metaCache struct {
	// mu is held for reading by lookups and for writing by every store
	// and note, so that a note and the record of it in changes are one
	// step, and a store's check of changes and its writes another. The
	// caches are safe for concurrent use on their own; mu makes the
	// steps that touch several of them atomic. It is taken after every
	// lock of fs and before the caches' own.
	mu      sync.RWMutex
	changes changeLog                        // guarded by mu
	attrs   *cache.TTL[string, helper.Entry] // path → attributes (+ symlink target)
	negs    *cache.TTL[string, struct{}]     // path → known not to exist
	dirs    *cache.TTL[string, dirNames]     // dir → the complete set of names
	clock   func() time.Time                 // reads the time for TTLs and listing ages
}

const metaCacheEntries = 1 << 20

// newMetaCache makes the cache with o's TTLs. clock reads the time; nil
// means time.Now (tests pass a fake clock).
func newMetaCache(o Options, clock func() time.Time) *metaCache {
	if clock == nil {
		clock = time.Now
	}
	return &metaCache{
		attrs: cache.NewTTL[string, helper.Entry](o.AttrTTL, metaCacheEntries, clock),
		negs:  cache.NewTTL[string, struct{}](o.NegativeTTL, metaCacheEntries/4, clock),
		dirs:  cache.NewTTL[string, dirNames](o.DirTTL, metaCacheEntries/16, clock),
		clock: clock,
	}
}

// dirNames is a cached listing: the complete set of names of a directory
// (immutable once stored) and when it was stored or last edited, which is
// when its TTL started (each store restarts it).
type dirNames struct {
	names map[string]bool
	at    time.Time
}

// lookupState is what the cache knows about one path.
type lookupState int

const (
	unknown lookupState = iota
	exists
	missing
)

// lookup returns what the cache knows of path.
func (m *metaCache) lookup(path string) (helper.Entry, lookupState) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if e, ok := m.attrs.Get(path); ok {
		return e, exists
	}
	if _, ok := m.negs.Get(path); ok {
		return helper.Entry{}, missing
	}
	dir, name := splitPath(path)
	if l, ok := m.dirs.Get(dir); ok && !l.names[name] {
		return helper.Entry{}, missing
	}
	return helper.Entry{}, unknown
}

// knownFree reports whether name is known not to exist in dir because
// dir's complete listing is cached and lacks it (a mkdir there can be
// answered without asking the VM).
func (m *metaCache) knownFree(dir, name string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.attrs.Get(joinPath(dir, name)); ok {
		return false
	}
	l, ok := m.dirs.Get(dir)
	return ok && !l.names[name]
}

// listingAge says how long ago the cached listing of dir was stored (or
// last edited), and whether there is one.
func (m *metaCache) listingAge(dir string) (time.Duration, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l, ok := m.dirs.Get(dir)
	if !ok {
		return 0, false
	}
	return m.clock().Sub(l.at), true
}

// listing returns the names of dir when a complete listing is cached and
// every name still has attributes.
func (m *metaCache) listing(dir string) ([]helper.Entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l, ok := m.dirs.Get(dir)
	if !ok {
		return nil, false
	}
	out := make([]helper.Entry, 0, len(l.names))
	for name := range l.names {
		e, ok := m.attrs.Get(joinPath(dir, name))
		if !ok {
			return nil, false
		}
		e.Name = name
		out = append(out, e)
	}
	return out, true
}

// begin registers a question to the VM that is asked now; its answer is
// stored with the value begin returned, and end is called with it once
// the answer is stored or the question failed.
func (m *metaCache) begin() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changes.begin()
}

// end unregisters a question asked at since (begin).
func (m *metaCache) end(since uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes.end(since)
}

// storeStat records the VM's answer that path has attributes e, to a
// question asked at since.
func (m *metaCache) storeStat(path string, e helper.Entry, since uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changes.stale(path, since) {
		return
	}
	m.attrs.Set(path, e)
	m.negs.Delete(path)
}

// storeMissing records the VM's answer that path does not exist, to a
// question asked at since.
func (m *metaCache) storeMissing(path string, since uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changes.stale(path, since) {
		return
	}
	m.negs.Set(path, struct{}{})
}

// storeListing records the VM's complete listing of dir, the answer to a
// question asked at since.
func (m *metaCache) storeListing(dir string, entries []helper.Entry, since uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putListing(dir, entries, since)
}

// putListing is storeListing with m.mu held. Entries a change touched
// since are left out, and so is the listing if dir's names changed.
func (m *metaCache) putListing(dir string, entries []helper.Entry, since uint64) {
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name] = true
		p := joinPath(dir, e.Name)
		if m.changes.stale(p, since) {
			continue
		}
		m.attrs.Set(p, e)
		m.negs.Delete(p)
	}
	if m.changes.staleNames(dir, since) {
		return
	}
	m.dirs.Set(dir, dirNames{names: names, at: m.clock()})
}

// storeTree records the entries of a subtree fetch asked at since: every
// entry's attributes, and the listings of the directories in complete.
func (m *metaCache) storeTree(dir string, entries []helper.Entry, complete map[string]bool, since uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	byDir := make(map[string][]helper.Entry)
	for rel := range complete {
		byDir[joinPath(dir, rel)] = nil
	}
	for _, e := range entries {
		full := joinPath(dir, e.Name)
		parent, name := splitPath(full)
		if _, ok := byDir[parent]; ok {
			e.Name = name
			byDir[parent] = append(byDir[parent], e)
		} else if !m.changes.stale(full, since) {
			m.attrs.Set(full, e)
			m.negs.Delete(full)
		}
	}
	for d, es := range byDir {
		m.putListing(d, es, since)
	}
}

// noteAttr records our own change: path exists with attributes e. A file
// with other hard links changed under all its names: their cached
// attributes take e's too.
func (m *metaCache) noteAttr(path string, e helper.Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes.touch(path, nameChange)
	m.attrs.Set(path, e)
	m.negs.Delete(path)
	m.editListingLocked(path, true)
	if e.Attr.Nlink > 1 && e.Attr.Type != helper.TypeDir && e.Attr.Ino != 0 {
		m.attrs.UpdateFunc(func(p string, o helper.Entry) (helper.Entry, bool) {
			if p == path || o.Attr.Ino != e.Attr.Ino || o.Attr.Type != e.Attr.Type || o.Attr == e.Attr {
				return o, false
			}
			m.changes.touch(p, attrChange)
			o.Attr = e.Attr
			return o, true
		})
	}
}

// noteEmptyDir records our own making of directory path: it has no
// entries. Its attributes are noted apart (noteAttr).
func (m *metaCache) noteEmptyDir(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes.touch(path, treeChange)
	m.dirs.Set(path, dirNames{names: map[string]bool{}, at: m.clock()})
}

// noteGone records our own removal of path (and of everything below it).
func (m *metaCache) noteGone(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes.touch(path, treeChange)
	m.dirChangedLocked(parentOf(path))
	m.attrs.Delete(path)
	m.dropSubtreeLocked(path)
	m.negs.Set(path, struct{}{})
	m.editListingLocked(path, false)
}

// dirChanged records that an entry of dir was added, removed or renamed:
// its mtime and ctime moved on the VM. The cached attributes take the
// local time instead of being dropped, which would cost a stat: tools that
// compare a directory's mtime (rsync) see that it changed, and git's
// lock-file dance in .git costs no extra round trip.
func (m *metaCache) dirChanged(dir string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirChangedLocked(dir)
}

func (m *metaCache) dirChangedLocked(dir string) {
	m.changes.touch(dir, attrChange)
	if e, ok := m.attrs.Get(dir); ok {
		e.Attr.MtimeNs, e.Attr.CtimeNs = now(), now()
		m.attrs.Set(dir, e)
	}
}

// subdirs records that a directory was made (delta 1) or removed (-1) in
// dir: its link count moves with it (each subdirectory's ".." links it).
func (m *metaCache) subdirs(dir string, delta int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes.touch(dir, attrChange)
	if e, ok := m.attrs.Get(dir); ok && (delta > 0 || e.Attr.Nlink > 2) {
		e.Attr.Nlink = uint32(int(e.Attr.Nlink) + delta)
		m.attrs.Set(dir, e)
	}
}

// forget drops what the cache knows of path, e.g. after an error that
// leaves its state uncertain.
func (m *metaCache) forget(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes.touch(path, treeChange)
	m.attrs.Delete(path)
	m.negs.Delete(path)
	m.dirs.Delete(path)
	m.dirs.Delete(parentOf(path))
}

// forgetAll drops everything the cache knows.
func (m *metaCache) forgetAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes.touch("/", treeChange)
	all := func(string) bool { return true }
	m.attrs.DeleteFunc(all)
	m.negs.DeleteFunc(all)
	m.dirs.DeleteFunc(all)
}

// setLinks records that the file with inode number ino now has nlink
// links, in every cached path of it but except (the link just removed).
func (m *metaCache) setLinks(ino uint64, nlink uint32, except string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attrs.UpdateFunc(func(p string, e helper.Entry) (helper.Entry, bool) {
		if p == except || e.Attr.Ino != ino || e.Attr.Type == helper.TypeDir {
			return e, false
		}
		m.changes.touch(p, attrChange)
		e.Attr.Nlink = nlink
		e.Attr.CtimeNs = now()
		return e, true
	})
}

// forgetIno drops the cached attributes of every path of the file with
// inode number ino.
func (m *metaCache) forgetIno(ino uint64) {
	m.forgetFiles(func(e helper.Entry) bool { return e.Attr.Ino == ino })
}

// forgetLinked drops the cached attributes of every file with more than
// one link: after the removal of a link of a file the mount knew nothing
// of, any of them may have lost one.
func (m *metaCache) forgetLinked() {
	m.forgetFiles(func(e helper.Entry) bool { return e.Attr.Nlink > 1 })
}

// forgetFiles drops the cached attributes of every path of a file (not a
// directory) for which match is true.
func (m *metaCache) forgetFiles(match func(helper.Entry) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var paths []string
	m.attrs.UpdateFunc(func(p string, e helper.Entry) (helper.Entry, bool) {
		if e.Attr.Type != helper.TypeDir && match(e) {
			paths = append(paths, p)
		}
		return e, false
	})
	for _, p := range paths {
		m.changes.touch(p, attrChange)
		m.attrs.Delete(p)
	}
}

// dropSubtree forgets every path strictly below dir.
func (m *metaCache) dropSubtree(dir string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropSubtreeLocked(dir)
}

func (m *metaCache) dropSubtreeLocked(dir string) {
	m.changes.touch(dir, treeChange)
	prefix := dir + "/"
	under := func(k string) bool { return strings.HasPrefix(k, prefix) }
	m.attrs.DeleteFunc(under)
	m.negs.DeleteFunc(under)
	m.dirs.DeleteFunc(func(k string) bool { return k == dir || under(k) })
}

// editListing adds or removes path's name in its parent's cached listing.
func (m *metaCache) editListing(path string, present bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.editListingLocked(path, present)
}

func (m *metaCache) editListingLocked(path string, present bool) {
	dir, name := splitPath(path)
	m.changes.touch(path, nameChange)
	l, ok := m.dirs.Get(dir)
	if !ok || l.names[name] == present {
		return
	}
	next := make(map[string]bool, len(l.names)+1)
	for n := range l.names {
		next[n] = true
	}
	if present {
		next[name] = true
	} else {
		delete(next, name)
	}
	m.dirs.Set(dir, dirNames{names: next, at: m.clock()})
}

// splitPath splits a VM path into its directory and last component.
func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/", p[i+1:]
	}
	return p[:i], p[i+1:]
}

func parentOf(p string) string { d, _ := splitPath(p); return d }

// joinPath joins a VM directory and a relative name.
func joinPath(dir, rel string) string {
	if rel == "" {
		return dir
	}
	if dir == "/" {
		return "/" + rel
	}
	return dir + "/" + rel
}
