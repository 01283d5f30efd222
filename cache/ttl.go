package cache

import (
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// TTL is a map whose entries expire, bounded by entry count with least
// recently used eviction: the cache for attributes, entries, negative
// lookups and directory listings. It is safe for concurrent use. Values
// are stored as given: a caller that stores a map or slice must not modify
// it afterwards.
type TTL[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex // protects lru
	// lru holds the entries, expired ones included until they are met.
	lru *simplelru.LRU[K, ttlEntry[V]]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

// NewTTL returns an empty TTL whose entries live ttl (Set) and which holds
// at most maxEntries (≤ 0: no bound). now reads the clock; nil means
// time.Now (tests pass a fake clock).
func NewTTL[K comparable, V any](ttl time.Duration, maxEntries int, now func() time.Time) *TTL[K, V] {
	if maxEntries <= 0 {
		maxEntries = math.MaxInt
	}
	if now == nil {
		now = time.Now
	}
	lru, err := simplelru.NewLRU[K, ttlEntry[V]](maxEntries, nil)
	if err != nil {
		panic(err) // only for a size ≤ 0, excluded above
	}
	return &TTL[K, V]{ttl: ttl, now: now, lru: lru}
}

// Get returns the value of k if it is present and not expired.
func (t *TTL[K, V]) Get(k K) (V, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.lru.Get(k)
	if ok && t.now().Before(e.expires) {
		return e.v, true
	}
	if ok {
		t.lru.Remove(k)
	}
	var zero V
	return zero, false
}

// Set stores v under k for the TTL's default lifetime.
func (t *TTL[K, V]) Set(k K, v V) { t.SetFor(k, v, t.ttl) }

// SetFor stores v under k for ttl. A ttl ≤ 0 stores nothing and removes
// any entry k had (caching disabled).
func (t *TTL[K, V]) SetFor(k K, v V, ttl time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ttl <= 0 {
		t.lru.Remove(k)
		return
	}
	t.lru.Add(k, ttlEntry[V]{v: v, expires: t.now().Add(ttl)})
}

// Delete removes k.
func (t *TTL[K, V]) Delete(k K) {
	t.mu.Lock()
	t.lru.Remove(k)
	t.mu.Unlock()
}

// DeleteFunc removes every key for which match returns true (for
// instance every path under a renamed directory). match runs with the
// TTL's lock held: it must not call the TTL.
func (t *TTL[K, V]) DeleteFunc(match func(K) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range t.lru.Keys() {
		if match(k) {
			t.lru.Remove(k)
		}
	}
}

// UpdateFunc calls update on every entry that has not expired, with the
// TTL's lock held (update must not call the TTL), and stores the value it
// returns when it returns true. An entry keeps its expiry: an update is a
// correction of what was seen, not a new sighting.
func (t *TTL[K, V]) UpdateFunc(update func(K, V) (V, bool)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range t.lru.Keys() {
		e, _ := t.lru.Peek(k)
		if !now.Before(e.expires) {
			continue
		}
		if v, ok := update(k, e.v); ok {
			e.v = v
			t.lru.Add(k, e)
		}
	}
}

// Len returns the number of entries that have not expired. It drops the
// expired ones, so it costs a pass over the map.
func (t *TTL[K, V]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range t.lru.Keys() {
		if e, _ := t.lru.Peek(k); !now.Before(e.expires) {
			t.lru.Remove(k)
		}
	}
	return t.lru.Len()
}
