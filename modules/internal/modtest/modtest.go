// Package modtest runs a module through plan, apply, re-check and revert on the local
// connection, for the file modules' tests, and compares golden files.
package modtest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// Host returns a host over the local connection with its state directory in a temp dir.
func Host(t testing.TB) *engine.Host {
	t.Helper()
	return engine.NewHost("n1", local.New(), "run1", t.TempDir(), nil)
}

// Plan runs Check while planning and fails the test on error.
func Plan(t testing.TB, h *engine.Host, m engine.Module, args *engine.Args) *engine.Change {
	t.Helper()
	c, err := m.Check(context.Background(), h.Planning(), args)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return c
}

// Apply runs Check then Apply for real, and returns the change.
func Apply(t testing.TB, h *engine.Host, m engine.Module, args *engine.Args) *engine.Change {
	t.Helper()
	ctx := context.Background()
	c, err := m.Check(ctx, h, args)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if c.Action == engine.ActionNone {
		return c
	}
	if err := m.Apply(ctx, h, c); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return c
}

// InSync fails the test unless a fresh Check reports no change.
func InSync(t testing.TB, h *engine.Host, m engine.Module, args *engine.Args) {
	t.Helper()
	c := Plan(t, h, m, args)
	if c.Action != engine.ActionNone {
		t.Fatalf("second check is not in sync: %s %s\n%s", c.Action, c.Summary, c.Diff)
	}
}

// Revert reverts c twice (it must be idempotent) and fails the test on error.
func Revert(t testing.TB, h *engine.Host, m engine.Module, c *engine.Change) {
	t.Helper()
	for i := 0; i < 2; i++ {
		if err := m.Revert(context.Background(), h, c.Undo); err != nil {
			t.Fatalf("revert #%d: %v", i+1, err)
		}
	}
}

// ChangedLines counts the removed and added lines of a unified diff.
func ChangedLines(diff string) (removed, added int) {
	inBody := false
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "@@"):
			inBody = true
		case !inBody:
		case strings.HasPrefix(l, "-"):
			removed++
		case strings.HasPrefix(l, "+"):
			added++
		}
	}
	return removed, added
}

// LineDiff counts the lines in which a and b differ, by a plain unified diff of the bytes.
func LineDiff(path string, a, b []byte) (removed, added int) {
	return ChangedLines(engine.Diff(path, string(a), string(b)))
}

// FileIs fails the test unless the file at p holds want with permission bits mode.
func FileIs(t testing.TB, p string, want []byte, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s: bytes differ from the expected ones:\n%s", p, engine.Diff(p, string(want), string(got)))
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode {
		t.Fatalf("%s: mode %04o, want %04o", p, st.Mode().Perm(), mode)
	}
}

// Golden compares got with testdata/<name>.golden, rewriting it under -update. Temporary
// directory names in got should be replaced by the caller first.
func Golden(t testing.TB, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs (run with -update to accept):\n%s", p, engine.Diff(p, string(want), got))
	}
}
