package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

type countingConn struct {
	conn.Conn
	runs, reads, stats atomic.Int64
	readAheads         atomic.Int64 // runs of the read-ahead's tar script
}

func (c *countingConn) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	c.stats.Add(1)
	return c.Conn.Stat(ctx, paths, hash)
}

func (c *countingConn) Run(ctx context.Context, cmd conn.Command) (conn.Result, error) {
	c.runs.Add(1)
	if strings.HasPrefix(cmd.Script, "tar -c ") {
		c.readAheads.Add(1)
	}
	return c.Conn.Run(ctx, cmd)
}

func (c *countingConn) ReadFile(ctx context.Context, p string, become bool) (conn.FileInfo, []byte, error) {
	c.reads.Add(1)
	return c.Conn.ReadFile(ctx, p, become)
}

// A plan reads every file its play's tasks read whole in one round trip per host; the plan is
// the same as without the read-ahead.
func TestPlanReadsAhead(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "append_line" "a" {
    path = "${host.vars.root}/a.conf"
    line = "x = 1"
  }
  task "append_line" "b" {
    path = "${host.vars.root}/b.conf"
    line = "y = 2"
  }
  task "append_line" "a again" {
    path = "${host.vars.root}/a.conf"
    line = "z = 3"
  }
}`, 1, engine.VarInputs{})
	write(t, filepath.Join(f.dir, "n1/a.conf"), "x = 0\n")
	write(t, filepath.Join(f.dir, "n1/b.conf"), "y = 2\n")
	cc := &countingConn{Conn: local.New()}
	cfg := f.config()
	cfg.Conns = engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return cc, nil })
	p, err := engine.PlanRun(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cc.reads.Load() != 0 || cc.runs.Load() != 1 {
		t.Errorf("plan made %d reads and %d runs, want 0 and 1 (the read-ahead)", cc.reads.Load(), cc.runs.Load())
	}
	out := f.render(t, p, false)
	for _, want := range []string{" x = 0\n      +x = 1", "= p / b (append_line): in sync", " x = 1\n      +z = 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	// Apply reads ahead too, and keeps what a change wrote for the tasks that read the file
	// later: the third task must see what the first one wrote (or its digest would differ from
	// the reviewed plan's), without reading it back.
	cfg.Reviewed = p
	cc.reads.Store(0)
	if _, err := engine.ApplyRun(context.Background(), cfg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(f.dir, "n1/a.conf")); string(got) != "x = 0\nx = 1\nz = 3\n" {
		t.Errorf("a.conf = %q", got)
	}
	if n := cc.reads.Load(); n != 0 {
		t.Errorf("apply read %d files itself, want 0 (a.conf as task a wrote it is kept)", n)
	}
}

// shellRun is a test module: a change that runs a script and declares no effects, as a
// command does.
type shellRun struct{}

func (shellRun) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: runs a script.",
		Attrs: []engine.Attr{{Name: "script", Type: cty.String, Required: true, Description: "script"}}}
}

func (shellRun) Check(_ context.Context, _ *engine.Host, a *engine.Args) (*engine.Change, error) {
	return &engine.Change{Action: engine.ActionRun, Summary: "run", Private: a.String("script")}, nil
}

func (shellRun) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	return h.Exec(ctx, c.Private.(string))
}

func (shellRun) Revert(context.Context, *engine.Host, engine.Undo) error { return nil }

// After a change that may have altered anything (no declared effects), the next task that reads
// a file has everything the play still reads fetched again in one round trip, and sees what the
// change did.
func TestApplyRefillsAfterUndeclaredChange(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "append_line" "a" {
    path = "${host.vars.root}/a.conf"
    line = "x = 1"
  }
  task "shell_run" "edit b" {
    script = "echo 'y = 9' > ${host.vars.root}/b.conf"
  }
  task "append_line" "b" {
    path = "${host.vars.root}/b.conf"
    line = "y = 2"
  }
  task "append_line" "c" {
    path = "${host.vars.root}/c.conf"
    line = "z = 3"
  }
}`, 1, engine.VarInputs{})
	root := filepath.Join(f.dir, "n1")
	write(t, filepath.Join(root, "a.conf"), "x = 0\n")
	write(t, filepath.Join(root, "b.conf"), "y = 0\n")
	write(t, filepath.Join(root, "c.conf"), "z = 0\n")
	cfg := f.config()
	cc := &countingConn{Conn: local.New()}
	cfg.Conns = engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return cc, nil })
	if _, err := engine.ApplyRun(context.Background(), cfg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "b.conf")); string(got) != "y = 9\ny = 2\n" {
		t.Errorf("b.conf = %q: task b did not see what the script wrote", got)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "c.conf")); string(got) != "z = 0\nz = 3\n" {
		t.Errorf("c.conf = %q", got)
	}
	if n := cc.reads.Load(); n != 0 {
		t.Errorf("apply read %d files one by one, want 0 (b and c fetched again together)", n)
	}
	if n := cc.readAheads.Load(); n != 2 {
		t.Errorf("apply read ahead %d times, want 2 (before the play, then once after the script)", n)
	}
}

// readBlocks is a test module whose nested blocks each name a host file that Check reads.
type readBlocks struct{}

func (readBlocks) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: reads the files of its blocks.",
		Blocks: []engine.BlockSchema{{Type: "file", Description: "a file",
			Attrs: []engine.Attr{{Name: "path", Type: cty.String, Required: true, HostFile: true, Description: "file"}}}}}
}

func (readBlocks) Check(ctx context.Context, h *engine.Host, a *engine.Args) (*engine.Change, error) {
	var sizes []string
	for _, b := range a.BlocksOf("file") {
		fi, _, err := h.ReadFile(ctx, b.String("path"))
		if err != nil {
			return nil, err
		}
		sizes = append(sizes, fmt.Sprint(fi.Size))
	}
	return &engine.Change{Action: engine.ActionNone, Summary: "sizes " + strings.Join(sizes, ",")}, nil
}

func (readBlocks) Apply(context.Context, *engine.Host, *engine.Change) error { return nil }

func (readBlocks) Revert(context.Context, *engine.Host, engine.Undo) error { return nil }

// Files named by HostFile attributes of nested blocks are read ahead too, with the play's others.
func TestPlanReadsAheadBlockFiles(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "read_blocks" "two" {
    file { path = "${host.vars.root}/a.sql" }
    file { path = "${host.vars.root}/b.sql" }
  }
  task "read_blocks" "again" {
    file { path = "${host.vars.root}/a.sql" }
  }
}`, 1, engine.VarInputs{})
	write(t, filepath.Join(f.dir, "n1/a.sql"), "select 1;\n")
	write(t, filepath.Join(f.dir, "n1/b.sql"), "select 22;\n")
	cc := &countingConn{Conn: local.New()}
	cfg := f.config()
	cfg.Conns = engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return cc, nil })
	p, err := engine.PlanRun(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cc.reads.Load() != 0 || cc.readAheads.Load() != 1 {
		t.Errorf("plan made %d reads and %d read-aheads, want 0 and 1", cc.reads.Load(), cc.readAheads.Load())
	}
	if got := summaries(p, "n1"); got["two"] != "sizes 10,11" || got["again"] != "sizes 10" {
		t.Errorf("checks saw %v, want the files' sizes", got)
	}
}
