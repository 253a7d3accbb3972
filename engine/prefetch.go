package engine

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/isaplay/isaplay/inventory/conn"
)

// prefetchLimit bounds the bytes one host's read-ahead may bring.
const prefetchLimit = 64 << 20

// prefetch reads ahead, before a play, what its tasks will read of the host: the given regular
// files in one round trip, as one tar stream, and the given stats in one Stat call with hashes
// and one without, all three at once. Check then finds them without a round trip of its own (a
// file given n times is kept for n reads, then freed). During apply, forget drops what a change
// may have altered. Whatever the read-ahead did not get is left out (Check reads it itself), so
// it can only save time, never change what a Check sees. It replaces the previous play's.
func (h *Host) prefetch(ctx context.Context, files []string, stats []StatPath) {
	h.prefetched, h.statted = nil, nil
	var wg sync.WaitGroup
	var got map[string]prefetchedFile
	wg.Add(1)
	go func() {
		defer wg.Done()
		got = h.readAhead(ctx, files)
	}()
	// A path also asked with its hash is stat'd with it only.
	withHash := map[string]bool{}
	var order []string
	for _, s := range stats {
		if s.Path == "" {
			continue
		}
		if _, ok := withHash[s.Path]; !ok {
			order = append(order, s.Path)
		}
		withHash[s.Path] = withHash[s.Path] || s.Hash
	}
	statted := map[string]stattedPath{}
	var mu sync.Mutex
	for _, hash := range []bool{true, false} {
		var paths []string
		for _, p := range order {
			if withHash[p] == hash {
				paths = append(paths, p)
			}
		}
		if len(paths) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos, err := h.conn.Stat(ctx, paths, hash)
			if err != nil || len(infos) != len(paths) {
				return // the tasks stat for themselves
			}
			mu.Lock()
			defer mu.Unlock()
			for i, fi := range infos {
				statted[paths[i]] = stattedPath{info: fi, hashed: hash}
			}
		}()
	}
	wg.Wait()
	h.prefetched, h.statted = got, statted
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
	readers := map[string]int{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		readers[p]++
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
	var b strings.Builder
	b.WriteString("for p in")
	for _, p := range want {
		b.WriteString(" " + conn.Quote(p))
	}
	b.WriteString(`; do if [ -f "$p" ] && [ ! -L "$p" ] && [ -r "$p" ]; then printf '%s\0' "$p"; fi; done | tar -c --no-recursion --null -T - -f - 2>/dev/null`)
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
			got[orig] = prefetchedFile{data: data, readers: readers[orig], info: conn.FileInfo{
				Path: orig, Exists: true, Type: conn.TypeFile, Mode: fs.FileMode(hdr.Mode).Perm(),
				UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size, SHA256: SHA256(data),
			}}
		}
	}()
	res, err := h.conn.Run(ctx, conn.Command{Script: b.String(), Stdout: &limited{w: pw, n: prefetchLimit}, Become: h.Become})
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
// anything below them and their parents (a missing directory a change creates), or everything
// when its effects are not declared (a command, a start).
func (h *Host) forget(effects []Effect) {
	if len(h.prefetched) == 0 && len(h.statted) == 0 {
		return
	}
	if len(effects) == 0 {
		clear(h.prefetched)
		clear(h.statted)
		return
	}
	eps := make([]string, len(effects))
	for i, e := range effects {
		eps[i] = path.Clean(e.Path)
	}
	for p := range h.prefetched {
		if affected(p, eps) {
			delete(h.prefetched, p)
		}
	}
	for p := range h.statted {
		if affected(p, eps) {
			delete(h.statted, p)
		}
	}
}

// affected reports whether a change of the (clean) effect paths may alter what is at p.
func affected(p string, effects []string) bool {
	cp := path.Clean(p)
	for _, ep := range effects {
		if cp == ep || strings.HasPrefix(cp, ep+"/") || strings.HasPrefix(ep, cp+"/") || cp == "/" {
			return true
		}
	}
	return false
}
