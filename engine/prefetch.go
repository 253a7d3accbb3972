package engine

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/isaplay/isaplay/inventory/conn"
)

// prefetchLimit bounds the bytes one host's read-ahead may bring.
const prefetchLimit = 64 << 20

// prefetch reads the given regular files of a host in one round trip, as one tar stream, before
// a play: Check then finds them without a round trip of its own (a path given n times is kept
// for n reads, then freed). During apply, forget drops what a change may have altered. Missing
// files, links and anything tar cannot read are left out (Check reads those itself), so the
// read-ahead can only save time, never change what a Check sees.
func (h *Host) prefetch(ctx context.Context, paths []string) error {
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
		return err // the tasks read for themselves
	}
	h.prefetched = got
	return nil
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

// forget drops read-ahead files a change may have altered: the paths of its effects (and
// anything below them), or everything when its effects are not declared (a command, a start).
func (h *Host) forget(effects []Effect) {
	if len(h.prefetched) == 0 {
		return
	}
	if len(effects) == 0 {
		clear(h.prefetched)
		return
	}
	for p := range h.prefetched {
		cp := path.Clean(p)
		for _, e := range effects {
			ep := path.Clean(e.Path)
			if cp == ep || strings.HasPrefix(cp, ep+"/") {
				delete(h.prefetched, p)
				break
			}
		}
	}
}
