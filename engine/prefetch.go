package engine

import (
	"archive/tar"
	"bytes"
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

// prefetch reads the given regular files of a host in one round trip, as one tar stream, for a
// plan: Check then finds them without a round trip of its own. Missing files, links and
// anything tar cannot read are left out (Check reads those itself), so the read-ahead can only
// save time, never change what a plan sees.
func (h *Host) prefetch(ctx context.Context, paths []string) error {
	var want []string
	byName := map[string]string{}
	for _, p := range paths {
		if p == "" || !h.IsPlanning() {
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
	var b strings.Builder
	b.WriteString("for p in")
	for _, p := range want {
		b.WriteString(" " + conn.Quote(p))
	}
	b.WriteString(`; do if [ -f "$p" ] && [ ! -L "$p" ] && [ -r "$p" ]; then printf '%s\0' "$p"; fi; done | tar -c --no-recursion --null -T - -f - 2>/dev/null`)
	var out bytes.Buffer
	res, err := h.conn.Run(ctx, conn.Command{Script: b.String(), Stdout: &limited{w: &out, n: prefetchLimit}, Become: h.Become})
	if err != nil || res.ExitCode != 0 {
		return err // the tasks read for themselves
	}
	tr := tar.NewReader(&out)
	got := map[string]prefetchedFile{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil
		}
		orig, ok := byName[strings.TrimPrefix(path.Clean(hdr.Name), "/")]
		if !ok || hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil || int64(len(data)) != hdr.Size {
			return nil
		}
		got[orig] = prefetchedFile{data: data, info: conn.FileInfo{
			Path: orig, Exists: true, Type: conn.TypeFile, Mode: fs.FileMode(hdr.Mode).Perm(),
			UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size, SHA256: SHA256(data),
		}}
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
