package unarchive

import (
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/isaplay/isaplay/engine"
)

// StatPaths is what Check stats: the creates marker, dest and its parents, and the archive's
// top-level entries under dest. The archive is listed on the controller once per version of it.
func (Module) StatPaths(args *engine.Args) []engine.StatPath {
	p, diags := parseArgs(args)
	if diags.HasErrors() {
		return nil
	}
	out := []engine.StatPath{{Path: p.creates}}
	for d := p.dest; d != "/"; d = path.Dir(d) {
		out = append(out, engine.StatPath{Path: d})
	}
	tops, err := topEntries(p.src)
	if err != nil {
		return out // Check reports the archive's error
	}
	for _, t := range tops {
		out = append(out, engine.StatPath{Path: path.Join(p.dest, t)})
	}
	return out
}

// topsKey is one version of an archive on the controller.
type topsKey struct {
	src   string
	size  int64
	mtime time.Time
}

var (
	topsMu    sync.Mutex
	topsCache = map[topsKey][]string{}
)

// topEntries returns the archive's top-level names in order, as list does, listing it only the
// first time for each version of it (every host of a play asks for the same archive).
func topEntries(src string) ([]string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	key := topsKey{src: src, size: st.Size(), mtime: st.ModTime()}
	// The lock is held while listing, so hosts asking at once wait for one listing.
	topsMu.Lock()
	defer topsMu.Unlock()
	if tops, ok := topsCache[key]; ok {
		return tops, nil
	}
	var tops []string
	seen := map[string]bool{}
	err = walk(src, func(e entry, _ io.Reader) error {
		top, _, _ := strings.Cut(e.name, "/")
		if !seen[top] {
			seen[top] = true
			tops = append(tops, top)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	topsCache[key] = tops
	return tops, nil
}
