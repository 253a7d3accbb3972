// Package memo remembers the results of pure computations that every host of a run would
// otherwise repeat on identical inputs (the same file bytes, the same archive), within one
// process. A cache is bounded by the total cost of its values and evicts the least recently
// used first; callers asking for a key being computed wait for that computation.
package memo

import (
	"container/list"
	"context"
	"errors"
	"sync"
)

// Cache maps string keys to values of type V. Values are shared by every caller that gets
// them, so they must never be mutated. The zero Cache is not usable; use New.
type Cache[V any] struct {
	max int64

	mu    sync.Mutex
	items map[string]*item[V]
	lru   *list.List // of *item[V], most recently used first; only finished, cached items
	used  int64
}

type item[V any] struct {
	key  string
	done chan struct{} // closed when val and err are set
	val  V
	err  error
	cost int64
	elem *list.Element // nil until cached
}

// New returns a cache holding values of at most maxCost in total (the unit is the caller's,
// usually bytes).
func New[V any](maxCost int64) *Cache[V] {
	return &Cache[V]{max: maxCost, items: map[string]*item[V]{}, lru: list.New()}
}

// Do returns the value for key, calling compute when the cache has none; hit says it came from
// the cache (or from another caller's computation). compute returns the value and its cost; a
// value costing more than the whole cache is returned but not kept. Errors are not cached: a
// caller that waited on a computation that failed computes again itself.
func (c *Cache[V]) Do(ctx context.Context, key string, compute func() (V, int64, error)) (v V, hit bool, err error) {
	c.mu.Lock()
	if it, ok := c.items[key]; ok {
		if it.elem != nil {
			c.lru.MoveToFront(it.elem)
		}
		c.mu.Unlock()
		select {
		case <-it.done:
		case <-ctx.Done():
			return v, false, ctx.Err()
		}
		if it.err == nil {
			return it.val, true, nil
		}
		v, _, err = compute()
		return v, false, err
	}
	it := &item[V]{key: key, done: make(chan struct{})}
	c.items[key] = it
	c.mu.Unlock()

	finished := false
	defer func() {
		if !finished { // compute panicked: release the waiters, keep nothing
			c.mu.Lock()
			delete(c.items, key)
			c.mu.Unlock()
			it.err = errPanicked
			close(it.done)
		}
	}()
	v, cost, err := compute()
	finished = true

	c.mu.Lock()
	it.val, it.err, it.cost = v, err, cost
	if err != nil || cost > c.max {
		delete(c.items, key)
	} else {
		it.elem = c.lru.PushFront(it)
		c.used += cost
		for c.used > c.max {
			old := c.lru.Remove(c.lru.Back()).(*item[V])
			delete(c.items, old.key)
			c.used -= old.cost
		}
	}
	c.mu.Unlock()
	close(it.done)
	return v, false, err
}

// Len returns the number of values cached.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// errPanicked tells waiters that the computation they waited for panicked.
var errPanicked = errors.New("memo: the computation panicked")
