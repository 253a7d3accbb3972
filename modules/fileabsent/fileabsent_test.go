package fileabsent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/zclconf/go-cty/cty"
)

func args(paths ...string) *engine.Args {
	var l []cty.Value
	for _, p := range paths {
		l = append(l, cty.StringVal(p))
	}
	return engine.NewArgs(Name, map[string]cty.Value{"paths": cty.ListVal(l)})
}

// TestB4 removes a cloned node's identity files (the real k8s my-node-id.dat in both locations,
// one of the three paths already absent, plus a link), then undoes it exactly.
func TestB4(t *testing.T) {
	_, idData := wso2ref.Copy(t, "reference-configured-k8s-5.6.0.1/is-analytics-1/conf/analytics/my-node-id.dat")
	home := t.TempDir()
	data := filepath.Join(home, "repository/data/my-node-id.dat")
	old := filepath.Join(home, "repository/conf/analytics/my-node-id.dat")
	shard := filepath.Join(home, "repository/data/local-shard-allocation-config.conf")
	lnk := filepath.Join(home, "repository/data/current")
	for _, p := range []string{data, old} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, idData, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("my-node-id.dat", lnk); err != nil {
		t.Fatal(err)
	}
	h := modtest.Host(t)
	a := args(data, old, shard, lnk)
	if d := (Module{}).Validate(a); d.HasErrors() {
		t.Fatal(d)
	}
	plan := modtest.Plan(t, h, Module{}, a)
	if plan.Action != engine.ActionDelete || len(plan.Effects) != 3 || len(plan.Details) != 3 {
		t.Fatalf("plan %s %q %v", plan.Action, plan.Summary, plan.Details)
	}
	if strings.Contains(plan.Summary, shard) {
		t.Errorf("summary names the absent %s", shard)
	}
	c := modtest.Apply(t, h, Module{}, a)
	for _, p := range []string{data, old, lnk} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Fatalf("%s still there", p)
		}
	}
	modtest.InSync(t, h, Module{}, a)

	// Carbon starts and writes a new identity: a rollback would overwrite it, so CheckRevert says so.
	if err := os.WriteFile(data, []byte("regenerated-uuid"), 0o644); err != nil {
		t.Fatal(err)
	}
	var drift *engine.DriftError
	if err := (Module{}).CheckRevert(context.Background(), h, c.Undo); !errors.As(err, &drift) || drift.Path != data {
		t.Fatalf("check revert: %v", err)
	}
	// Forced, the revert restores the originals exactly, and is idempotent.
	modtest.Revert(t, h, Module{}, c)
	modtest.FileIs(t, data, idData, 0o600)
	modtest.FileIs(t, old, idData, 0o600)
	if target, err := os.Readlink(lnk); err != nil || target != "my-node-id.dat" {
		t.Fatalf("link: %q %v", target, err)
	}
	if err := (Module{}).CheckRevert(context.Background(), h, c.Undo); err != nil {
		t.Fatalf("check revert after revert: %v", err)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args *engine.Args
		want string
	}{
		{"directory", args(dir), "is a dir"},
		{"relative", args("data/x"), "absolute"},
		{"root", args("/"), "absolute path below /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Module{}.Check(context.Background(), modtest.Host(t).Planning(), tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestSameBytesDifferentModes: backups are named by digest, so two removed files with the same
// bytes share one backup; each still gets its own mode back.
func TestSameBytesDifferentModes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.dat"), filepath.Join(dir, "b.dat")
	if err := os.WriteFile(a, []byte("same\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(b, 0o644); err != nil {
		t.Fatal(err)
	}
	h := modtest.Host(t)
	c := modtest.Apply(t, h, Module{}, args(a, b))
	modtest.Revert(t, h, Module{}, c)
	modtest.FileIs(t, a, []byte("same\n"), 0o600)
	modtest.FileIs(t, b, []byte("same\n"), 0o644)
}
