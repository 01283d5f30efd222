package cache

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex // protects t
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

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

func TestTTLExpiry(t *testing.T) {
	clock := newFakeClock()
	c := NewTTL[string, int](5*time.Second, 0, clock.now)
	c.Set("a", 1)
	c.SetFor("b", 2, time.Minute)
	c.SetFor("off", 3, 0) // a zero TTL caches nothing
	steps := []struct {
		advance time.Duration
		key     string
		want    int
		ok      bool
		len     int
	}{
		{0, "a", 1, true, 2},
		{0, "off", 0, false, 2},
		{4999 * time.Millisecond, "a", 1, true, 2},
		{time.Millisecond, "a", 0, false, 1}, // expires at exactly 5 s
		{0, "b", 2, true, 1},
		{time.Minute, "b", 0, false, 0},
	}
	for i, s := range steps {
		clock.advance(s.advance)
		got, ok := c.Get(s.key)
		if got != s.want || ok != s.ok {
			t.Fatalf("step %d: Get(%q) = %d, %v; want %d, %v", i, s.key, got, ok, s.want, s.ok)
		}
		if n := c.Len(); n != s.len {
			t.Fatalf("step %d: Len = %d, want %d", i, n, s.len)
		}
	}
}

func TestTTLSetRefreshesAndZeroTTLDeletes(t *testing.T) {
	clock := newFakeClock()
	c := NewTTL[string, int](time.Second, 0, clock.now)
	c.Set("a", 1)
	clock.advance(900 * time.Millisecond)
	c.Set("a", 2)
	clock.advance(900 * time.Millisecond)
	if v, ok := c.Get("a"); !ok || v != 2 {
		t.Fatalf("Get = %d, %v; want the refreshed 2", v, ok)
	}
	c.SetFor("a", 3, 0)
	if _, ok := c.Get("a"); ok {
		t.Fatal("SetFor with zero TTL kept the old entry")
	}
}

func TestTTLBoundAndDelete(t *testing.T) {
	clock := newFakeClock()
	c := NewTTL[string, int](time.Hour, 3, clock.now)
	for i, k := range []string{"/a", "/a/x", "/b"} {
		c.Set(k, i)
	}
	c.Get("/a")      // most recently used now
	c.Set("/a/y", 9) // evicts the least recently used, /a/x
	if _, ok := c.Get("/a/x"); ok {
		t.Fatal("least recently used entry survived")
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d", c.Len())
	}
	c.DeleteFunc(func(k string) bool { return k == "/a" || strings.HasPrefix(k, "/a/") })
	if _, ok := c.Get("/a/y"); ok || c.Len() != 1 {
		t.Fatalf("DeleteFunc left %d entries", c.Len())
	}
	c.Delete("/b")
	if _, ok := c.Get("/b"); ok {
		t.Fatal("Delete did not delete")
	}
}

func TestTTLUpdateFuncKeepsExpiry(t *testing.T) {
	clock := newFakeClock()
	c := NewTTL[string, int](time.Second, 0, clock.now)
	c.Set("a", 1)
	c.Set("b", 2)
	clock.advance(900 * time.Millisecond)
	c.UpdateFunc(func(k string, v int) (int, bool) { return v * 10, k == "a" })
	if v, _ := c.Get("a"); v != 10 {
		t.Fatalf("a = %d, want 10", v)
	}
	if v, _ := c.Get("b"); v != 2 {
		t.Fatalf("b = %d, want 2 (not updated)", v)
	}
	clock.advance(100 * time.Millisecond)
	if _, ok := c.Get("a"); ok {
		t.Fatal("an update restarted the entry's lifetime")
	}
}

func TestTTLConcurrent(t *testing.T) {
	c := NewTTL[int, int](time.Hour, 100, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				c.Set(i%200, g)
				c.Get(i % 150)
				if i%100 == 0 {
					c.DeleteFunc(func(k int) bool { return k%7 == g })
				}
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n > 100 {
		t.Fatalf("Len %d exceeds the bound", n)
	}
}
