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
// INVARIANT: every name in a cached listing of dir has an attribute entry
// for dir/name set at the same moment (they expire together, unless a
// later note refreshed the attribute).
type metaCache struct {
	attrs                   *cache.TTL[string, helper.Entry] // path → attributes (+ symlink target)
	negs                    *cache.TTL[string, struct{}]     // path → known not to exist
	dirs                    *cache.TTL[string, dirNames]     // dir → the complete set of names
	mu                      sync.Mutex                       // serialises read-modify-write of listings
	attrTTL, dirTTL, negTTL time.Duration
	clock                   func() time.Time // reads the time for TTLs and listing ages
}

const metaCacheEntries = 1 << 20

// newMetaCache makes the cache with o's TTLs. clock reads the time; nil
// means time.Now (tests pass a fake clock).
func newMetaCache(o Options, clock func() time.Time) *metaCache {
	if clock == nil {
		clock = time.Now
	}
	return &metaCache{
		attrs:   cache.NewTTL[string, helper.Entry](o.AttrTTL, metaCacheEntries, clock),
		negs:    cache.NewTTL[string, struct{}](o.NegativeTTL, metaCacheEntries/4, clock),
		dirs:    cache.NewTTL[string, dirNames](o.DirTTL, metaCacheEntries/16, clock),
		attrTTL: o.AttrTTL, dirTTL: o.DirTTL, negTTL: o.NegativeTTL,
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
	if _, ok := m.attrs.Get(joinPath(dir, name)); ok {
		return false
	}
	l, ok := m.dirs.Get(dir)
	return ok && !l.names[name]
}

// listingAge says how long ago the cached listing of dir was stored (or
// last edited), and whether there is one.
func (m *metaCache) listingAge(dir string) (time.Duration, bool) {
	l, ok := m.dirs.Get(dir)
	if !ok {
		return 0, false
	}
	return m.clock().Sub(l.at), true
}

// listing returns the names of dir when a complete listing is cached and
// every name still has attributes.
func (m *metaCache) listing(dir string) ([]helper.Entry, bool) {
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

// storeListing records the complete listing of dir.
func (m *metaCache) storeListing(dir string, entries []helper.Entry) {
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name] = true
		m.attrs.Set(joinPath(dir, e.Name), e)
		m.negs.Delete(joinPath(dir, e.Name))
	}
	m.mu.Lock()
	m.dirs.Set(dir, dirNames{names: names, at: m.clock()})
	m.mu.Unlock()
}

// storeTree records the entries of a subtree fetch: every entry's
// attributes, and the listings of the directories in complete.
func (m *metaCache) storeTree(dir string, entries []helper.Entry, complete map[string]bool) {
	byDir := make(map[string][]helper.Entry)
	for rel := range complete {
		byDir[joinPath(dir, rel)] = nil
	}
	for _, e := range entries {
		full := joinPath(dir, e.Name)
		parent, name := splitPath(full)
		m.attrs.Set(full, e)
		m.negs.Delete(full)
		if _, ok := byDir[parent]; ok {
			e.Name = name
			byDir[parent] = append(byDir[parent], e)
		}
	}
	for d, es := range byDir {
		m.storeListing(d, es)
	}
}

// noteAttr records our own change: path exists with attributes e. A file
// with other hard links changed under all its names: their cached
// attributes take e's too.
func (m *metaCache) noteAttr(path string, e helper.Entry) {
	m.attrs.Set(path, e)
	m.negs.Delete(path)
	m.editListing(path, true)
	if e.Attr.Nlink > 1 && e.Attr.Type != helper.TypeDir && e.Attr.Ino != 0 {
		m.attrs.UpdateFunc(func(p string, o helper.Entry) (helper.Entry, bool) {
			if p == path || o.Attr.Ino != e.Attr.Ino || o.Attr.Type != e.Attr.Type || o.Attr == e.Attr {
				return o, false
			}
			o.Attr = e.Attr
			return o, true
		})
	}
}

// noteGone records our own removal of path (and of everything below it).
func (m *metaCache) noteGone(path string) {
	m.dirChanged(parentOf(path))
	m.attrs.Delete(path)
	m.dropSubtree(path)
	m.negs.Set(path, struct{}{})
	m.editListing(path, false)
}

// dirChanged records that an entry of dir was added, removed or renamed:
// its mtime and ctime moved on the VM. The cached attributes take the
// local time instead of being dropped, which would cost a stat: tools that
// compare a directory's mtime (rsync) see that it changed, and git's
// lock-file dance in .git costs no extra round trip.
func (m *metaCache) dirChanged(dir string) {
	if e, ok := m.attrs.Get(dir); ok {
		e.Attr.MtimeNs, e.Attr.CtimeNs = now(), now()
		m.attrs.Set(dir, e)
	}
}

// subdirs records that a directory was made (delta 1) or removed (-1) in
// dir: its link count moves with it (each subdirectory's ".." links it).
func (m *metaCache) subdirs(dir string, delta int) {
	if e, ok := m.attrs.Get(dir); ok && (delta > 0 || e.Attr.Nlink > 2) {
		e.Attr.Nlink = uint32(int(e.Attr.Nlink) + delta)
		m.attrs.Set(dir, e)
	}
}

// forget drops what the cache knows of path, e.g. after an error that
// leaves its state uncertain.
func (m *metaCache) forget(path string) {
	m.attrs.Delete(path)
	m.negs.Delete(path)
	m.dirs.Delete(path)
	m.mu.Lock()
	m.dirs.Delete(parentOf(path))
	m.mu.Unlock()
}

// setLinks records that the file with inode number ino now has nlink
// links, in every cached path of it but except (the link just removed).
func (m *metaCache) setLinks(ino uint64, nlink uint32, except string) {
	m.attrs.UpdateFunc(func(p string, e helper.Entry) (helper.Entry, bool) {
		if p == except || e.Attr.Ino != ino || e.Attr.Type == helper.TypeDir {
			return e, false
		}
		e.Attr.Nlink = nlink
		e.Attr.CtimeNs = now()
		return e, true
	})
}

// forgetIno drops the cached attributes of every path of the file with
// inode number ino.
func (m *metaCache) forgetIno(ino uint64) {
	var paths []string
	m.attrs.UpdateFunc(func(p string, e helper.Entry) (helper.Entry, bool) {
		if e.Attr.Ino == ino && e.Attr.Type != helper.TypeDir {
			paths = append(paths, p)
		}
		return e, false
	})
	for _, p := range paths {
		m.attrs.Delete(p)
	}
}

// dropSubtree forgets every path strictly below dir.
func (m *metaCache) dropSubtree(dir string) {
	prefix := dir + "/"
	under := func(k string) bool { return strings.HasPrefix(k, prefix) }
	m.attrs.DeleteFunc(under)
	m.negs.DeleteFunc(under)
	m.dirs.DeleteFunc(func(k string) bool { return k == dir || under(k) })
}

// editListing adds or removes path's name in its parent's cached listing.
func (m *metaCache) editListing(path string, present bool) {
	dir, name := splitPath(path)
	m.mu.Lock()
	defer m.mu.Unlock()
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
