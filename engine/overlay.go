package engine

import (
	"io/fs"
	"path"
	"strings"

	"github.com/isaplay/isaplay/inventory/conn"
)

// overlay records, per host while planning, the state earlier tasks will have left, so that a
// later task's Check reads what will be there rather than what is there now.
type overlay struct {
	entries map[string]Effect
}

func newOverlay() *overlay { return &overlay{entries: map[string]Effect{}} }

// apply records a change's effects.
func (o *overlay) apply(effects []Effect) {
	if o == nil {
		return
	}
	for _, e := range effects {
		p := path.Clean(e.Path)
		e.Path = p
		switch e.Kind {
		case EffectRemove:
			for k := range o.entries {
				if strings.HasPrefix(k, p+"/") {
					delete(o.entries, k)
				}
			}
		case EffectDir:
			o.entries[p] = Effect{Kind: EffectDir, Path: p, Mode: e.Mode}
			for d := path.Dir(p); d != "/" && d != "." && d != ""; d = path.Dir(d) {
				if cur, ok := o.entries[d]; ok && cur.Kind == EffectDir {
					break
				}
				o.entries[d] = Effect{Kind: EffectDir, Path: d, Mode: 0o755}
			}
			continue
		}
		o.entries[p] = e
	}
}

// lookup finds the effect that decides what is at p: its own entry, or a removed ancestor.
func (o *overlay) lookup(p string) (Effect, bool) {
	if o == nil {
		return Effect{}, false
	}
	p = path.Clean(p)
	if e, ok := o.entries[p]; ok {
		return e, true
	}
	for d := path.Dir(p); d != "/" && d != "." && d != ""; d = path.Dir(d) {
		if e, ok := o.entries[d]; ok {
			if e.Kind == EffectRemove || e.Kind == EffectFile || e.Kind == EffectSymlink {
				// Nothing can be below a removed path or below a file.
				return Effect{Kind: EffectRemove, Path: p}, true
			}
			return Effect{}, false
		}
	}
	return Effect{}, false
}

func (o *overlay) stat(p string) (conn.FileInfo, bool) {
	e, ok := o.lookup(p)
	if !ok {
		return conn.FileInfo{}, false
	}
	fi := conn.FileInfo{Path: p}
	switch e.Kind {
	case EffectRemove:
	case EffectFile:
		fi.Exists, fi.Type = true, conn.TypeFile
		fi.Mode, fi.UID, fi.GID = fs.FileMode(e.Mode), e.UID, e.GID
		fi.Size = int64(len(e.Data))
		fi.SHA256 = SHA256(e.Data)
	case EffectDir:
		fi.Exists, fi.Type, fi.Mode = true, conn.TypeDir, fs.FileMode(e.Mode)
	case EffectSymlink:
		fi.Exists, fi.Type, fi.LinkTarget = true, conn.TypeSymlink, e.Target
	}
	return fi, true
}

func (o *overlay) data(p string) []byte {
	e, _ := o.lookup(p)
	if e.Kind == EffectFile {
		return e.Data
	}
	return nil
}
