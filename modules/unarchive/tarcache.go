package unarchive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/internal/memo"
)

// tars remembers the plain tar stream of each archive (what writeTar makes of it), written once
// per run into an unlinked temporary file that every host's unpack reads: decompressing a
// product pack costs seconds of the controller's CPU, which N hosts would otherwise pay N times.
// The files go when isaplay exits. The cost unit is files kept open.
var tars = memo.New[tarFile](16)

// tarFile is an unlinked temporary file holding size bytes of tar.
type tarFile struct {
	f    *os.File
	size int64
}

// tarOf returns a reader of the plain tar stream of the archive at src, or nil when none can
// be kept (the temporary directory is full or unusable): the caller then streams writeTar
// itself. The same archive (path, size and modification time) is re-encoded once.
func tarOf(ctx context.Context, src string) *io.SectionReader {
	st, err := os.Stat(src)
	if err != nil {
		return nil
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", src, st.Size(), st.ModTime().UnixNano())
	t, _, err := tars.Do(ctx, key, func() (tarFile, int64, error) {
		f, err := os.CreateTemp("", "isaplay-unarchive-*.tar")
		if err != nil {
			return tarFile{}, 0, err
		}
		if err := os.Remove(f.Name()); err != nil {
			f.Close()
			return tarFile{}, 0, err
		}
		if err := writeTar(src, f); err != nil {
			f.Close()
			return tarFile{}, 0, err
		}
		size, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			f.Close()
			return tarFile{}, 0, err
		}
		return tarFile{f, size}, 1, nil
	})
	if err != nil {
		return nil
	}
	return io.NewSectionReader(t.f, 0, t.size)
}

// tarInput returns the plain tar stream of the archive at src, for one host's `tar -x`, and a
// function to call once the command ended, which returns the error of making the stream. The
// run's hosts share one re-encoding (tarOf); without it each host gets its own, written as it
// is read.
func tarInput(ctx context.Context, src string) (io.Reader, func() error) {
	if r := tarOf(ctx, src); r != nil {
		return &conn.SizedReader{R: r, N: int(r.Size())}, func() error { return nil }
	}
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		err := writeTar(src, pw)
		pw.CloseWithError(err)
		werr <- err
	}()
	return pr, func() error {
		pr.CloseWithError(io.ErrClosedPipe) // stops the writer if tar ended early
		if err := <-werr; err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return err
		}
		return nil
	}
}
