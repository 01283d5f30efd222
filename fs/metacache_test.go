package fs

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport/helper"
)

func entry(name string, t helper.FileType) helper.Entry {
	return helper.Entry{Name: name, Attr: helper.Attr{Type: t, Size: 1}}
}

func TestCompleteDirs(t *testing.T) {
	d, f := helper.TypeDir, helper.TypeRegular
	// Level by level, as the helper emits a tree.
	es := []helper.Entry{entry("a", d), entry("c", f), entry("e", d), entry("z", d),
		entry("a/x", f), entry("a/b", d), entry("e/1", f), entry("e/2", f), entry("z/3", f),
		entry("a/b/deep", d)}
	cases := []struct {
		name      string
		depth     int
		truncated bool
		entries   []helper.Entry
		want      []string
		not       []string
	}{
		{"whole tree within depth", 4, false, es, []string{"", "a", "a/b", "e", "z", "a/b/deep"}, nil},
		{"depth limit leaves the deepest dirs open", 2, false, es[:9], []string{"", "a", "e", "z"}, []string{"a/b"}},
		{"cut in level 2 after a finished dir", 4, true, es[:7], []string{"", "a"}, []string{"e", "z", "a/b"}},
		{"cut in level 3", 4, true, es, []string{"", "a", "e", "z"}, []string{"a/b", "a/b/deep"}},
		{"cut in level 1", 4, true, es[:2], nil, []string{"", "a"}},
	}
	for _, c := range cases {
		got := completeDirs(c.entries, c.depth, c.truncated)
		for _, w := range c.want {
			if !got[w] {
				t.Errorf("%s: %q should be complete; got %v", c.name, w, got)
			}
		}
		for _, n := range c.not {
			if got[n] {
				t.Errorf("%s: %q should not be complete; got %v", c.name, n, got)
			}
		}
	}
}

func TestMetaCacheOwnChanges(t *testing.T) {
	m := newMetaCache(Options{}.withDefaults(), nil)
	m.storeListing("/home/user", []helper.Entry{entry("a", helper.TypeRegular)}, 0)
	if _, st := m.lookup("/home/user/b"); st != missing {
		t.Fatalf("a name outside a complete listing should be missing, got %v", st)
	}
	m.noteAttr("/home/user/b", entry("b", helper.TypeRegular))
	if es, ok := m.listing("/home/user"); !ok || len(es) != 2 {
		t.Fatalf("listing after create: %v %v", es, ok)
	}
	m.noteGone("/home/user/a")
	if _, st := m.lookup("/home/user/a"); st != missing {
		t.Fatalf("removed name: %v", st)
	}
	if es, _ := m.listing("/home/user"); len(es) != 1 || es[0].Name != "b" {
		t.Fatalf("listing after remove: %v", es)
	}
	m.storeListing("/home/user/d", []helper.Entry{entry("x", helper.TypeRegular)}, 0)
	m.noteGone("/home/user/d")
	if _, st := m.lookup("/home/user/d/x"); st == exists {
		t.Fatal("entries below a removed directory must be forgotten")
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex // protects t
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestMetaCacheExpires(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	o := Options{AttrTTL: 2 * time.Second, DirTTL: 3 * time.Second, NegativeTTL: time.Second}.withDefaults()
	m := newMetaCache(o, clock.now)
	m.storeListing("/r", []helper.Entry{entry("a", helper.TypeRegular)}, 0)
	m.noteGone("/r/gone")
	steps := []struct {
		advance     time.Duration
		a, gone, b  lookupState // /r/a, /r/gone, /r/b
		listingAge  time.Duration
		listingKept bool
	}{
		{0, exists, missing, missing, 0, true},
		{999 * time.Millisecond, exists, missing, missing, 999 * time.Millisecond, true},
		{time.Millisecond, exists, missing, missing, time.Second, true}, // the negative entry expired; the listing still lacks the name
		{time.Second, unknown, missing, missing, 2 * time.Second, true}, // a's attributes expired
		{time.Second, unknown, unknown, unknown, 0, false},              // and so did the listing
	}
	for i, s := range steps {
		clock.advance(s.advance)
		for _, c := range []struct {
			path string
			want lookupState
		}{{"/r/a", s.a}, {"/r/gone", s.gone}, {"/r/b", s.b}} {
			if _, st := m.lookup(c.path); st != c.want {
				t.Errorf("step %d: %s is %v, want %v", i, c.path, st, c.want)
			}
		}
		if age, ok := m.listingAge("/r"); ok != s.listingKept || age != s.listingAge {
			t.Errorf("step %d: listing age %v %v, want %v %v", i, age, ok, s.listingAge, s.listingKept)
		}
	}
}

func TestSplitJoinPath(t *testing.T) {
	for _, c := range []struct{ p, dir, name string }{
		{"/home/user/a", "/home/user", "a"}, {"/a", "/", "a"}, {"/home/user/new\nline", "/home/user", "new\nline"},
	} {
		d, n := splitPath(c.p)
		if d != c.dir || n != c.name || joinPath(d, n) != c.p {
			t.Errorf("splitPath(%q) = %q %q", c.p, d, n)
		}
	}
}

func TestKnownFreeAndSubdirs(t *testing.T) {
	m := newMetaCache(Options{}.withDefaults(), nil)
	if m.knownFree("/home/user", "x") {
		t.Fatal("no listing cached: a name cannot be known free")
	}
	dir := entry("user", helper.TypeDir)
	dir.Attr.Nlink = 2
	m.noteAttr("/home/user", dir)
	m.storeListing("/home/user", []helper.Entry{entry("a", helper.TypeRegular)}, 0)
	if m.knownFree("/home/user", "a") || !m.knownFree("/home/user", "x") {
		t.Fatal("knownFree must follow the cached listing")
	}
	m.noteAttr("/home/user/x", entry("x", helper.TypeDir))
	if m.knownFree("/home/user", "x") {
		t.Fatal("a name with cached attributes is not free")
	}
	m.subdirs("/home/user", 1)
	m.subdirs("/home/user", -1)
	m.subdirs("/home/user", -1) // never below an empty directory's 2
	if e, _ := m.lookup("/home/user"); e.Attr.Nlink != 2 {
		t.Fatalf("nlink %d, want 2", e.Attr.Nlink)
	}
	if age, ok := m.listingAge("/home/user"); !ok || age < 0 || age > time.Minute {
		t.Fatalf("listingAge %v %v", age, ok)
	}
}

func TestIsBelow(t *testing.T) {
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{"/h/a/b", "/h/a", true}, {"/h/a", "/h/a", false}, {"/h/ab", "/h/a", false}, {"/h/a/b/c", "/h/a", true}, {"/h", "/h/a", false},
	} {
		if got := isBelow(c.path, c.dir); got != c.want {
			t.Errorf("isBelow(%q, %q) = %v", c.path, c.dir, got)
		}
	}
}

// An answer to a question asked before one of our own changes must not
// overwrite what the change noted; what the change did not touch is
// stored as usual.
func TestMetaCacheStaleAnswers(t *testing.T) {
	reg, dir := helper.TypeRegular, helper.TypeDir
	m := newMetaCache(Options{}.withDefaults(), nil)

	since := m.begin()
	m.noteGone("/r/gone")
	m.storeListing("/r", []helper.Entry{entry("gone", reg), entry("kept", reg)}, since)
	m.end(since)
	if _, st := m.lookup("/r/gone"); st != missing {
		t.Errorf("an unlinked file came back from an older listing: %v", st)
	}
	if _, st := m.lookup("/r/kept"); st != exists {
		t.Errorf("an untouched entry of the older listing was not stored: %v", st)
	}
	if _, ok := m.listing("/r"); ok {
		t.Error("a listing whose names changed since it was asked was stored as complete")
	}

	// A rename of a directory makes everything fetched below it stale.
	since = m.begin()
	m.noteGone("/r/d")
	m.storeTree("/r", []helper.Entry{entry("d", dir), entry("d/x", reg)}, map[string]bool{"d": true}, since)
	m.end(since)
	if _, st := m.lookup("/r/d/x"); st == exists {
		t.Error("an entry below a renamed directory was stored from an older fetch")
	}

	// A stat asked before a link count changed keeps the new count.
	link := helper.Entry{Name: "l", Attr: helper.Attr{Type: reg, Ino: 7, Nlink: 2}}
	m.storeStat("/r/l", link, 0)
	since = m.begin()
	m.setLinks(7, 1, "/r/other")
	m.storeStat("/r/l", link, since)
	m.end(since)
	if e, _ := m.lookup("/r/l"); e.Attr.Nlink != 1 {
		t.Errorf("link count %d after an older stat, want 1", e.Attr.Nlink)
	}

	// A "not found" asked before a create does not hide the new file.
	since = m.begin()
	m.noteAttr("/r/new", entry("new", reg))
	m.storeMissing("/r/new", since)
	m.end(since)
	if _, st := m.lookup("/r/new"); st != exists {
		t.Errorf("a created file was hidden by an older not-found: %v", st)
	}

	// Questions asked after the change store everything.
	since = m.begin()
	m.storeListing("/r", []helper.Entry{entry("kept", reg), entry("new", reg)}, since)
	m.end(since)
	if _, ok := m.listing("/r"); !ok {
		t.Error("a listing asked after the changes was not stored")
	}
}

// The change log is empty while no question is out, and bounded while
// one is: past the bound, older answers store nothing.
func TestChangeLogBounded(t *testing.T) {
	var l changeLog
	l.touch("/a", nameChange)
	if len(l.paths) != 0 {
		t.Fatalf("a change with no question out was recorded: %v", l.paths)
	}
	since := l.begin()
	for i := 0; i < maxChanges+10; i++ {
		l.touch("/d/"+strconv.Itoa(i), nameChange)
	}
	if n := len(l.paths) + len(l.names); n > maxChanges {
		t.Fatalf("the log holds %d records, more than %d", n, maxChanges)
	}
	if !l.stale("/elsewhere", since) {
		t.Error("after an overflow an older answer should be stale everywhere")
	}
	later := l.begin()
	if l.stale("/elsewhere", later) {
		t.Error("a question asked after the overflow should store")
	}
	l.end(since)
	l.end(later)
	if l.paths != nil || len(l.inflight) != 0 {
		t.Errorf("the log kept records with no question out: %d paths, %d in flight", len(l.paths), len(l.inflight))
	}
}
