package memo

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestDo: a key is computed once and then served from the cache; another key is computed
// anew; errors are not kept.
func TestDo(t *testing.T) {
	c := New[string](100)
	calls := 0
	get := func(key, val string, err error) (string, bool, error) {
		return c.Do(context.Background(), key, func() (string, int64, error) {
			calls++
			return val, int64(len(val)), err
		})
	}
	steps := []struct {
		key, val  string
		err       error
		want      string
		wantHit   bool
		wantCalls int
	}{
		{"a", "A", nil, "A", false, 1},
		{"a", "other", nil, "A", true, 1},
		{"b", "B", nil, "B", false, 2},
		{"e", "", errors.New("boom"), "", false, 3},
		{"e", "E", nil, "E", false, 4},
	}
	for i, s := range steps {
		v, hit, err := get(s.key, s.val, s.err)
		if v != s.want || hit != s.wantHit || !errors.Is(err, s.err) || calls != s.wantCalls {
			t.Errorf("step %d (%s): got %q hit=%v err=%v calls=%d, want %q hit=%v err=%v calls=%d",
				i, s.key, v, hit, err, calls, s.want, s.wantHit, s.err, s.wantCalls)
		}
	}
}

// TestEviction: the least recently used values go when the total cost passes the bound, and a
// value costing more than the bound is not kept at all.
func TestEviction(t *testing.T) {
	c := New[int](10)
	put := func(key string, cost int64) bool {
		_, hit, err := c.Do(context.Background(), key, func() (int, int64, error) { return 0, cost, nil })
		if err != nil {
			t.Fatal(err)
		}
		return hit
	}
	put("a", 4)
	put("b", 4)
	put("a", 4) // a is now the most recently used
	put("c", 4) // 12 > 10: b goes
	if put("b", 4) {
		t.Error("b was served after it should have been evicted")
	}
	put("big", 11)
	if put("big", 11) {
		t.Error("a value costing more than the cache was kept")
	}
	if c.used > c.max || c.Len() != len(c.items) {
		t.Errorf("used %d of %d, %d in the list, %d in the map", c.used, c.max, c.Len(), len(c.items))
	}
}

// TestConcurrent: 50 callers asking for one key at once run the computation once and all get
// its value.
func TestConcurrent(t *testing.T) {
	c := New[string](100)
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	got := make([]string, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, err := c.Do(context.Background(), "k", func() (string, int64, error) {
				calls.Add(1)
				<-release
				return "v", 1, nil
			})
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("computed %d times, want 1", n)
	}
	for i, v := range got {
		if v != "v" {
			t.Errorf("caller %d got %q", i, v)
		}
	}
}

// TestPanic: a computation that panics leaves nothing behind; the next caller computes.
func TestPanic(t *testing.T) {
	c := New[int](10)
	func() {
		defer func() { _ = recover() }()
		_, _, _ = c.Do(context.Background(), "k", func() (int, int64, error) { panic("boom") })
	}()
	v, hit, err := c.Do(context.Background(), "k", func() (int, int64, error) { return 7, 1, nil })
	if v != 7 || hit || err != nil {
		t.Errorf("after a panic: got %d hit=%v err=%v, want a fresh 7", v, hit, err)
	}
}
