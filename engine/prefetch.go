package engine

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/isaplay/isaplay/inventory/conn"
)

// prefetchLimit bounds the bytes one host's read-ahead may bring.
const prefetchLimit = 64 << 20

// prefetch reads ahead, before a play, what its tasks will read of the host: the given regular
// files in one round trip, as one tar stream, and the given stats in one Stat call with hashes
// and one without. Check then finds them without a round trip of its own (a file given n times
// is kept for n reads, then freed). During apply, forget drops what a change may have altered
// and remember keeps what it wrote; the first Check that misses something forgotten has fill
// read again, in one go, everything forgotten that tasks will still read. Whatever the
// read-ahead did not get is left out (Check reads it itself), so it can only save time, never
// change what a Check sees. It replaces the previous play's.
func (h *Host) prefetch(ctx context.Context, files []string, stats []StatPath) {
	h.prefetched, h.statted = map[string]prefetchedFile{}, map[string]stattedPath{}
	h.pending, h.wantStat = map[string]int{}, map[string]bool{}
	h.triedFiles, h.triedStats = map[string]bool{}, map[string]bool{}
	for _, p := range files {
		if p != "" {
			h.pending[p]++
		}
	}
	for _, s := range stats {
		if s.Path != "" {
			// A path also asked with its hash is stat'd with it only.
			h.wantStat[s.Path] = h.wantStat[s.Path] || s.Hash
		}
	}
	h.fill(ctx)
}

// fill reads ahead the files tasks will still read, then stats the paths they will stat (with
// hashes where asked, in one round trip where the connection can), except what is held already
// or was tried since it was last forgotten (so a missing file costs one try, not one per miss).
// One after the other on the connection's shell: asked at once, they would make every host open
// two more SSH sessions, which costs more than the round trips they save.
func (h *Host) fill(ctx context.Context) {
	h.fillFiles(ctx)
	h.fillStats(ctx)
}

func (h *Host) fillFiles(ctx context.Context) {
	if h.pending == nil {
		return // no read-ahead for this play
	}
	var files []string
	for _, p := range slices.Sorted(maps.Keys(h.pending)) {
		if _, held := h.prefetched[p]; held || h.triedFiles[p] || h.pending[p] <= 0 {
			continue
		}
		h.triedFiles[p] = true
		files = append(files, p)
	}
	maps.Copy(h.prefetched, h.readAhead(ctx, files))
}

// fillStats stats, in one round trip, the paths tasks will stat that are neither held nor tried
// since they were last forgotten, with hashes where a task wants one.
func (h *Host) fillStats(ctx context.Context) {
	if h.pending == nil {
		return
	}
	var paths []string
	var hash []bool
	for _, p := range slices.Sorted(maps.Keys(h.wantStat)) {
		if _, held := h.statted[p]; held || h.triedStats[p] {
			continue
		}
		h.triedStats[p] = true
		paths = append(paths, p)
		hash = append(hash, h.wantStat[p])
	}
	if len(paths) == 0 {
		return
	}
	infos, err := conn.StatHash(ctx, h.conn, paths, hash)
	if err != nil || len(infos) != len(paths) {
		return // the tasks stat for themselves
	}
	for i, fi := range infos {
		h.statted[paths[i]] = stattedPath{info: fi, hashed: hash[i]}
	}
}

// missed reports whether a read or stat of p missed something the read-ahead will get again.
func (h *Host) missed(p string, stat bool) bool {
	if h.pending == nil {
		return false
	}
	if stat {
		_, want := h.wantStat[p]
		return want && !h.triedStats[p]
	}
	return h.pending[p] > 0 && !h.triedFiles[p]
}

// stattedPath is a path stat'd ahead: exactly what conn.Stat said, with or without hashes.
type stattedPath struct {
	info   conn.FileInfo
	hashed bool
}

// statAhead answers a stat of p from the read-ahead, as conn.Stat would with hash: a read-ahead
// file, or a path stat'd ahead (a missing path included) with its hash when one is asked.
func (h *Host) statAhead(p string, hash bool) (conn.FileInfo, bool) {
	var fi conn.FileInfo
	if s, ok := h.statted[p]; ok && (s.hashed || !hash || s.info.Type != conn.TypeFile) {
		fi = s.info
	} else if f, ok := h.prefetched[p]; ok {
		fi = f.info
	} else {
		return conn.FileInfo{}, false
	}
	if !hash {
		fi.SHA256 = ""
	}
	return fi, true
}

// readAhead reads the regular files among paths in one round trip, as one tar stream; nil when
// there are none or the read-ahead failed.
func (h *Host) readAhead(ctx context.Context, paths []string) map[string]prefetchedFile {
	var want []string
	byName := map[string]string{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		clean := path.Clean(p)
		if _, dup := byName[strings.TrimPrefix(clean, "/")]; dup {
			continue
		}
		byName[strings.TrimPrefix(clean, "/")] = p
		want = append(want, clean)
	}
	if len(want) == 0 {
		return nil
	}
	// Missing and unreadable paths are skipped by tar itself; links, directories and special
	// files come as headers without bytes and are left out below.
	script := conn.Join(append([]string{"tar", "-c", "--no-recursion", "--ignore-failed-read", "-f", "-", "--"}, want...)...) + " 2>/dev/null"
	// The tar stream is parsed as it arrives: no copy of the whole stream is kept.
	pr, pw := io.Pipe()
	got := map[string]prefetchedFile{}
	parsed := make(chan struct{})
	go func() {
		defer close(parsed)
		defer pr.Close()
		tr := tar.NewReader(pr)
		for {
			hdr, err := tr.Next()
			if err != nil {
				io.Copy(io.Discard, pr)
				return
			}
			orig, ok := byName[strings.TrimPrefix(path.Clean(hdr.Name), "/")]
			if !ok || hdr.Typeflag != tar.TypeReg {
				continue
			}
			data := make([]byte, hdr.Size)
			if _, err := io.ReadFull(tr, data); err != nil {
				io.Copy(io.Discard, pr)
				return
			}
			got[orig] = prefetchedFile{data: data, info: conn.FileInfo{
				Path: orig, Exists: true, Type: conn.TypeFile, Mode: fs.FileMode(hdr.Mode).Perm(),
				UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size, SHA256: SHA256(data),
			}}
		}
	}()
	cmd := conn.Command{Script: script, Stdout: &limited{w: pw, n: prefetchLimit}, Become: h.Become, Subshell: true}
	var res conn.Result
	var err error
	if w, ok := h.conn.(*writeBehind); ok {
		res, err = w.runReading(ctx, cmd, want) // held writes of other files stay held
	} else {
		res, err = h.conn.Run(ctx, cmd)
	}
	pw.Close()
	<-parsed
	if err != nil || res.ExitCode != 0 {
		return nil // the tasks read for themselves
	}
	return got
}

// limited fails writes past n bytes, so a read-ahead of huge files is abandoned.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, errors.New("read-ahead too large")
	}
	l.n -= len(p)
	return l.w.Write(p)
}

// forget drops what was read ahead that a change may have altered: the paths of its effects,
// anything below them and, unless the effect is a file written (whose directory exists and keeps
// its type, mode and owner), their parents (a missing directory a change creates); everything
// when its effects are not declared (a command, a start).
func (h *Host) forget(effects []Effect) {
	if len(effects) == 0 {
		clear(h.prefetched)
		clear(h.statted)
		clear(h.triedFiles)
		clear(h.triedStats)
		return
	}
	var eps, files []string
	for _, e := range effects {
		if e.Kind == EffectFile {
			files = append(files, path.Clean(e.Path))
		} else {
			eps = append(eps, path.Clean(e.Path))
		}
	}
	gone := func(p string) bool { return affected(p, eps) || below(p, files) }
	maps.DeleteFunc(h.prefetched, func(p string, _ prefetchedFile) bool { return gone(p) })
	maps.DeleteFunc(h.statted, func(p string, _ stattedPath) bool { return gone(p) })
	maps.DeleteFunc(h.triedFiles, func(p string, _ bool) bool { return gone(p) })
	maps.DeleteFunc(h.triedStats, func(p string, _ bool) bool { return gone(p) })
}

// remember keeps, after a change was applied, the files it wrote that later tasks of the play
// will read: their bytes, mode and owner are exactly what the change declared and wrote, so
// those tasks need not read them back. Only whole files with a known mode and owner are kept.
func (h *Host) remember(effects []Effect) {
	for _, e := range effects {
		// Only what a later task will read, and only in a play read ahead (pending is set).
		if e.Kind != EffectFile || e.Data == nil || e.Mode == 0 || e.UID < 0 || e.GID < 0 || h.pending[e.Path] <= 0 {
			continue
		}
		h.prefetched[e.Path] = prefetchedFile{data: e.Data, info: conn.FileInfo{
			Path: e.Path, Exists: true, Type: conn.TypeFile, Mode: fs.FileMode(e.Mode).Perm(),
			UID: e.UID, GID: e.GID, Size: int64(len(e.Data)), SHA256: SHA256(e.Data),
		}}
	}
}

// below reports whether p is one of the (clean) paths or below one.
func below(p string, paths []string) bool {
	cp := path.Clean(p)
	for _, ep := range paths {
		if cp == ep || strings.HasPrefix(cp, ep+"/") {
			return true
		}
	}
	return false
}

// affected reports whether a change of the (clean) effect paths may alter what is at p: p is one
// of them, below one, above one (a directory a change creates), or the root.
func affected(p string, effects []string) bool {
	cp := path.Clean(p)
	if cp == "/" || below(cp, effects) {
		return true
	}
	for _, ep := range effects {
		if strings.HasPrefix(ep, cp+"/") {
			return true
		}
	}
	return false
}
