package xmlpatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/memo"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// edited is the host-independent outcome of an edit list on a file's bytes. It holds strings
// only, so hosts sharing it through the cache cannot change it for each other.
type edited struct {
	inSync  bool
	out     string // the new bytes, in the file's encoding
	outSum  string // their hex sha256
	changed int    // operations that changed the document
	diff    string // MaskedDiff of the edit, not yet redacted for a host
}

// editCacheMax bounds the new texts and diffs kept: enough for a run's distinct XML files
// several times over, small beside the per-host state of a large fleet.
const editCacheMax = 32 << 20

// edits remembers the edit of identical bytes by identical operations: a fleet of hosts
// holding the same file (the same product version unpacked everywhere) parses and edits it
// once per run instead of once per host.
var edits = memo.New[edited](editCacheMax)

// editFile applies the operations to data (whose hex sha256 is sum) and diffs the result,
// reusing the outcome of an earlier call with the same path, bytes, operations and namespaces.
// The path is part of the key because the diff names it. hit says the outcome was reused.
// Errors are returned unwrapped, an *xmldoc.OpError for an operation that cannot be applied.
func editFile(ctx context.Context, path string, data []byte, sum string, ops []xmldoc.Op, ns map[string]string) (e edited, hit bool, err error) {
	// %#v spells every field of every operation, quoted, and the map with its keys sorted: a
	// canonical key that also covers fields added to Op later. The encoding is read from data.
	k := sha256.Sum256(fmt.Appendf(nil, "%q\x00%s\x00%#v\x00%#v", path, sum, ops, ns))
	return edits.Do(ctx, hex.EncodeToString(k[:]), func() (edited, int64, error) {
		e, err := computeEdit(path, data, ops, ns)
		return e, int64(len(e.out) + len(e.diff) + 256), err
	})
}

// computeEdit is editFile without the cache.
func computeEdit(path string, data []byte, ops []xmldoc.Op, ns map[string]string) (edited, error) {
	doc, err := xmldoc.Parse(data)
	if err != nil {
		return edited{}, err
	}
	nd, results, err := xmldoc.ApplyOps(doc, ops, ns)
	if err != nil {
		return edited{}, err
	}
	out, err := nd.Bytes()
	if err != nil {
		return edited{}, err
	}
	if string(out) == string(data) {
		return edited{inSync: true}, nil
	}
	e := edited{out: string(out), outSum: engine.SHA256(out), diff: MaskedDiff(path, doc, nd)}
	for _, r := range results {
		if r.Changed {
			e.changed++
		}
	}
	return e, nil
}
