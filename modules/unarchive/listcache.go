package unarchive

import (
	"context"
	"fmt"
	"os"

	"github.com/isaplay/isaplay/modules/internal/memo"
)

// listings remembers what list learned of each archive, so that the hosts of a run (all
// unpacking the same pack) decompress it once, not once per host. A listing is never changed
// after it is made; effects copies the file bytes it hands to a host.
var listings = memo.New[*listing](2 * overlayTotalMax)

// cachedList is list, reusing the listing of an archive whose path, size and modification time
// are unchanged since it was made.
func cachedList(ctx context.Context, src string) (*listing, error) {
	st, err := os.Stat(src)
	if err != nil {
		return list(src) // the same error as always
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", src, st.Size(), st.ModTime().UnixNano())
	l, _, err := listings.Do(ctx, key, func() (*listing, int64, error) {
		l, err := list(src)
		if err != nil {
			return nil, 0, err
		}
		return l, l.cost(), nil
	})
	return l, err
}

// cost approximates the memory a listing holds: the small files' bytes and the names.
func (l *listing) cost() int64 {
	n := int64(len(l.names)+len(l.dirs)) * 64
	for _, f := range l.small {
		n += int64(len(f.Data)+len(f.Path)) + 64
	}
	return n
}
