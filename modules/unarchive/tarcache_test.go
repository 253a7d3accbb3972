package unarchive

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/internal/memo"
)

// TestTarOnce: the hosts of a run read one re-encoding of an archive, the bytes writeTar makes;
// the archive rewritten is re-encoded anew.
func TestTarOnce(t *testing.T) {
	tars = memo.New[tarFile](16)
	src := writeZip(t, t.TempDir(), pack(t))
	ctx := context.Background()
	var want bytes.Buffer
	if err := writeTar(src, &want); err != nil {
		t.Fatal(err)
	}
	a, b := tarOf(ctx, src), tarOf(ctx, src)
	if a == nil || b == nil {
		t.Fatal("no tar kept")
	}
	for _, r := range []*io.SectionReader{a, b} {
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("tar of %d bytes (%v), want writeTar's %d", len(got), err, want.Len())
		}
	}
	fa, _, _ := a.Outer()
	fb, _, _ := b.Outer()
	if fa != fb {
		t.Error("the archive was re-encoded twice")
	}

	st, _ := os.Stat(src)
	if err := os.Chtimes(src, st.ModTime().Add(time.Second), st.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := tarOf(ctx, src).Outer(); c == fa {
		t.Error("a rewritten archive was not re-encoded")
	}
}

// TestTarInputWithoutRoom: with no temporary directory to keep the tar in, a host still gets
// the archive's tar, made as it is read.
func TestTarInputWithoutRoom(t *testing.T) {
	tars = memo.New[tarFile](16)
	src := writeZip(t, t.TempDir(), pack(t))
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	var want bytes.Buffer
	if err := writeTar(src, &want); err != nil {
		t.Fatal(err)
	}
	r, streamed := tarInput(context.Background(), src)
	if _, sized := r.(*conn.SizedReader); sized {
		t.Fatal("a kept tar without a temporary directory")
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("tar of %d bytes (%v), want writeTar's %d", len(got), err, want.Len())
	}
	if err := streamed(); err != nil {
		t.Fatal(err)
	}
}
