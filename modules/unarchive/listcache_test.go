package unarchive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/isaplay/isaplay/modules/internal/memo"
	"github.com/isaplay/isaplay/modules/internal/modtest"
)

// TestListCache: listing the same archive again is served from the cache and equals a fresh
// listing; the archive rewritten with one byte of a member changed is listed anew.
func TestListCache(t *testing.T) {
	listings = memo.New[*listing](2 * overlayTotalMax)
	ms := pack(t)
	src := writeZip(t, t.TempDir(), ms)
	ctx := context.Background()
	first, err := cachedList(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cachedList(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := list(src)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Error("the second listing was not served from the cache")
	}
	if !reflect.DeepEqual(again, fresh) {
		t.Error("the cached listing differs from a fresh one")
	}

	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if filepath.Base(m.name) == "carbon.xml" {
			ms[i].data = bytes.Clone(m.data)
			ms[i].data[len(m.data)/2] ^= 1
		}
	}
	writeZip(t, filepath.Dir(src), ms)
	// A later modification time, whatever the file system's clock granularity.
	if err := os.Chtimes(src, st.ModTime().Add(time.Second), st.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	changed, err := cachedList(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err = list(src)
	if err != nil {
		t.Fatal(err)
	}
	if changed == first || reflect.DeepEqual(changed, first) {
		t.Error("the rewritten archive was served the old listing")
	}
	if !reflect.DeepEqual(changed, fresh) {
		t.Error("the listing of the rewritten archive differs from a fresh one")
	}
}

// TestEffectsPerHost: two hosts planning from one cached listing get their own file bytes.
func TestEffectsPerHost(t *testing.T) {
	listings = memo.New[*listing](2 * overlayTotalMax)
	src := writeZip(t, t.TempDir(), pack(t))
	dest := filepath.Join(t.TempDir(), "opt")
	a := args(src, dest, top+"/bin/wso2server.sh")
	var plans [2][]byte
	for i := range plans {
		c, err := Module{}.Check(context.Background(), modtest.Host(t).Planning(), a)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range c.Effects {
			if filepath.Base(e.Path) == "carbon.xml" {
				plans[i] = e.Data
			}
		}
	}
	if listings.Len() != 1 || plans[0] == nil {
		t.Fatalf("%d listings cached, carbon.xml planned: %v", listings.Len(), plans[0] != nil)
	}
	want := bytes.Clone(plans[1])
	plans[0][0] ^= 1
	if !bytes.Equal(plans[1], want) {
		t.Error("changing one host's planned bytes changed another's")
	}
}
