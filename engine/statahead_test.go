package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

// statPath is a test module whose Check only stats path (with its sha256 when hash) and says
// what it saw; it declares the stat ahead, with ahead_hash as the hash flag (a module may
// declare less than its Check asks).
type statPath struct{}

func (statPath) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: stats a path.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, Description: "path"},
			{Name: "hash", Type: cty.Bool, Description: "ask for the sha256"},
			{Name: "ahead_hash", Type: cty.Bool, Description: "declare the stat ahead with a hash"},
		}}
}

func (statPath) StatPaths(a *engine.Args) []engine.StatPath {
	return []engine.StatPath{{Path: a.String("path"), Hash: a.Bool("ahead_hash")}}
}

func (statPath) Check(ctx context.Context, h *engine.Host, a *engine.Args) (*engine.Change, error) {
	fi, err := h.Stat(ctx, []string{a.String("path")}, a.Bool("hash"))
	if err != nil {
		return nil, err
	}
	return &engine.Change{Action: engine.ActionNone, Summary: describe(fi[0])}, nil
}

func (statPath) Apply(context.Context, *engine.Host, *engine.Change) error { return nil }
func (statPath) Revert(context.Context, *engine.Host, engine.Undo) error   { return nil }

func describe(fi conn.FileInfo) string {
	if !fi.Exists {
		return "missing"
	}
	s := string(fi.Type)
	if fi.LinkTarget != "" {
		s += " -> " + fi.LinkTarget
	}
	if fi.SHA256 != "" {
		s += " " + fi.SHA256[:8]
	}
	return s
}

// putFile writes content to path and, like jar_copy, verifies the sha256 of what it wrote with
// a stat of its own; its Check stats path with its sha256, declared ahead.
type putFile struct{}

func (putFile) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: writes a file and verifies it.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, Description: "path"},
			{Name: "content", Type: cty.String, Required: true, Description: "bytes"},
		}}
}

func (putFile) StatPaths(a *engine.Args) []engine.StatPath {
	return []engine.StatPath{{Path: a.String("path"), Hash: true}}
}

func (putFile) Check(ctx context.Context, h *engine.Host, a *engine.Args) (*engine.Change, error) {
	p, data := a.String("path"), []byte(a.String("content"))
	fi, err := h.Stat(ctx, []string{p}, true)
	if err != nil {
		return nil, err
	}
	if fi[0].SHA256 == engine.SHA256(data) {
		return &engine.Change{Action: engine.ActionNone, Summary: "in sync"}, nil
	}
	return &engine.Change{Action: engine.ActionUpdate, Summary: "write " + p, Private: [2]string{p, string(data)},
		Effects: []engine.Effect{{Kind: engine.EffectFile, Path: p, Data: data, Mode: 0o644}}}, nil
}

func (putFile) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	pd := c.Private.([2]string)
	if err := h.WriteFile(ctx, pd[0], []byte(pd[1]), conn.WriteOptions{Mode: 0o644, UID: -1, GID: -1}); err != nil {
		return err
	}
	fi, err := h.Stat(ctx, []string{pd[0]}, true)
	if err != nil {
		return err
	}
	if want := engine.SHA256([]byte(pd[1])); fi[0].SHA256 != want {
		return fmt.Errorf("verify: sha256 on the host is %q after writing, want %q", fi[0].SHA256, want)
	}
	return nil
}

func (putFile) Revert(context.Context, *engine.Host, engine.Undo) error { return nil }

// countingConns gives each host its own counting connection.
func countingConns(cfg *engine.Config) map[string]*countingConn {
	conns := map[string]*countingConn{}
	for _, h := range cfg.Inventory.Hosts {
		conns[h.Name] = &countingConn{Conn: local.New()}
	}
	cfg.Conns = engine.NewConns(func(_ context.Context, h *inventory.Host) (conn.Conn, error) { return conns[h.Name], nil })
	return conns
}

func summaries(p *engine.Plan, host string) map[string]string {
	out := map[string]string{}
	for _, e := range p.Entries {
		if e.Host == host && e.Change != nil {
			out[e.Task] = e.Change.Summary
		}
	}
	return out
}

// A play of tasks that only stat costs each host the read-ahead's two stats (with and without
// hashes), whatever the number of tasks; each Check sees exactly what its own stat would show.
func TestStatAhead(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "stat_path" "file hashed" {
    path       = "${host.vars.root}/f"
    hash       = true
    ahead_hash = true
  }
  task "stat_path" "file plain" {
    path = "${host.vars.root}/f"
  }
  task "stat_path" "file hash not declared" {
    path = "${host.vars.root}/g"
    hash = true
  }
  task "stat_path" "link" {
    path = "${host.vars.root}/l"
  }
  task "stat_path" "missing" {
    path       = "${host.vars.root}/nothing"
    ahead_hash = true
  }
  task "stat_path" "dir" {
    path = host.vars.root
  }
  task "stat_path" "skipped" {
    path = "${host.vars.root}/skipped"
    when = false
  }
}`, 3, engine.VarInputs{})
	for i := 1; i <= 3; i++ {
		root := filepath.Join(f.dir, fmt.Sprintf("n%d", i))
		write(t, filepath.Join(root, "f"), "f")
		write(t, filepath.Join(root, "g"), "g")
		if err := os.Symlink("f", filepath.Join(root, "l")); err != nil {
			t.Fatal(err)
		}
	}
	cfg := f.config()
	conns := countingConns(&cfg)
	p, err := engine.PlanRun(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"file hashed":            "file " + engine.SHA256([]byte("f"))[:8],
		"file plain":             "file",
		"file hash not declared": "file " + engine.SHA256([]byte("g"))[:8],
		"link":                   "symlink -> f",
		"missing":                "missing",
		"dir":                    "dir",
	}
	for name, c := range conns {
		got := summaries(p, name)
		for task, w := range want {
			if got[task] != w {
				t.Errorf("%s: %s saw %q, want %q", name, task, got[task], w)
			}
		}
		// The read-ahead's two stats, and the one of the task whose hash was not declared.
		if n := c.stats.Load() + c.runs.Load() + c.reads.Load(); n != 3 {
			t.Errorf("%s: %d round trips (%d stats), want 3", name, n, c.stats.Load())
		}
	}
}

// During apply a change makes the read-ahead forget what it may have altered: a later task sees
// the directory an earlier one created (and its parent), and the writer's own verification
// sees what it wrote. Arguments evaluated ahead that read a result are evaluated again.
func TestStatAheadForgetsChanges(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "stat_path" "dir before" {
    path = "${host.vars.root}/d"
  }
  task "put_file" "write" {
    path     = "${host.vars.root}/f"
    content  = "new"
    register = "write"
  }
  task "mkdir" "make" {
    path = "${host.vars.root}/d/sub"
  }
  task "stat_path" "dir after" {
    path = "${host.vars.root}/d"
  }
  task "stat_path" "file after" {
    path       = lookup(result, "write", { changed = false }).changed ? "${host.vars.root}/f" : "${host.vars.root}/nothing"
    hash       = true
    ahead_hash = true
  }
  task "stat_path" "untouched" {
    path = "${host.vars.root}/other"
  }
}`, 2, engine.VarInputs{})
	for i := 1; i <= 2; i++ {
		write(t, filepath.Join(f.dir, fmt.Sprintf("n%d", i), "f"), "old")
		write(t, filepath.Join(f.dir, fmt.Sprintf("n%d", i), "other"), "x")
	}
	cfg := f.config()
	conns := countingConns(&cfg)
	p, err := engine.ApplyRun(context.Background(), cfg)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for name, c := range conns {
		got := summaries(p, name)
		want := map[string]string{
			"dir before": "missing",
			"write":      "write " + filepath.Join(f.dir, name, "f"),
			"dir after":  "dir",
			"file after": "file " + engine.SHA256([]byte("new"))[:8],
			"untouched":  "file",
		}
		for task, w := range want {
			if got[task] != w {
				t.Errorf("%s: %s saw %q, want %q", name, task, got[task], w)
			}
		}
		// The read-ahead (2), the write's verification (1; writes are not counted), mkdir's
		// stat and run (2), the stats of the changed directory and of the file (2);
		// "untouched" needs none.
		if n := c.stats.Load() + c.runs.Load() + c.reads.Load(); n != 7 {
			t.Errorf("%s: %d round trips, want 7", name, n)
		}
	}
	for i := 1; i <= 2; i++ {
		if b, _ := os.ReadFile(filepath.Join(f.dir, fmt.Sprintf("n%d", i), "f")); string(b) != "new" {
			t.Errorf("n%d: f = %q", i, b)
		}
	}
}
