package symlink

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/zclconf/go-cty/cty"
)

func args(p, target string) *engine.Args {
	return engine.NewArgs(Name, map[string]cty.Value{"path": cty.StringVal(p), "target": cty.StringVal(target)})
}

func TestSchemaExample(t *testing.T) {
	s := Module{}.Schema()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestApplyRevert makes or repoints a link, checks it is then in sync, and reverts it to what
// was there: nothing, or the previous target.
func TestApplyRevert(t *testing.T) {
	tests := []struct {
		name     string
		previous string // the link's target before; empty: no link
		target   string
		action   engine.Action
	}{
		{"create", "", "/opt/wso2/wso2is-analytics-5.6.0", engine.ActionCreate},
		{"repoint", "/opt/wso2/old", "/opt/wso2/wso2is-analytics-5.6.0", engine.ActionUpdate},
		{"relative target", "", "../product", engine.ActionCreate},
		{"target like an option", "-old", "-n", engine.ActionUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "is-analytics")
			if tt.previous != "" {
				if err := os.Symlink(tt.previous, p); err != nil {
					t.Fatal(err)
				}
			}
			h := modtest.Host(t)
			c := modtest.Apply(t, h, Module{}, args(p, tt.target))
			if c.Action != tt.action {
				t.Fatalf("action %s, want %s", c.Action, tt.action)
			}
			if got, err := os.Readlink(p); err != nil || got != tt.target {
				t.Fatalf("link -> %q (%v), want %q", got, err, tt.target)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".isaplay-*")); len(left) != 0 {
				t.Errorf("left beside the link: %v", left)
			}
			modtest.InSync(t, h, Module{}, args(p, tt.target))
			modtest.Revert(t, h, Module{}, c)
			got, err := os.Readlink(p)
			if tt.previous == "" {
				if !os.IsNotExist(err) {
					t.Fatalf("after revert: link -> %q (%v), want none", got, err)
				}
				return
			}
			if err != nil || got != tt.previous {
				t.Fatalf("after revert: link -> %q (%v), want %q", got, err, tt.previous)
			}
		})
	}
}

// TestAppearedSinceCheck: a directory made at the link's path between check and apply fails the
// apply, and no link is made inside it.
func TestAppearedSinceCheck(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "is-analytics")
	h := modtest.Host(t)
	c, err := Module{}.Check(context.Background(), h, args(p, "/opt/wso2/product"))
	if err != nil || c.Action != engine.ActionCreate {
		t.Fatalf("check: %v %v", c, err)
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := (Module{}).Apply(context.Background(), h, c); err == nil {
		t.Fatal("apply over a directory that appeared since the check succeeded")
	}
	if ents, _ := os.ReadDir(p); len(ents) != 0 {
		t.Fatalf("apply made %v inside the directory", ents)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"not a link", file, "a file is there, not a link"},
		{"no directory", filepath.Join(dir, "missing", "link"), "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Module{}.Check(context.Background(), modtest.Host(t).Planning(), args(tt.path, "/x"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
