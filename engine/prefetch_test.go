package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
)

type countingConn struct {
	conn.Conn
	runs, reads, stats atomic.Int64
}

func (c *countingConn) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	c.stats.Add(1)
	return c.Conn.Stat(ctx, paths, hash)
}

func (c *countingConn) Run(ctx context.Context, cmd conn.Command) (conn.Result, error) {
	c.runs.Add(1)
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
	// Apply reads ahead too, and forgets a file once a change writes it: the third task must
	// see what the first one wrote (or its digest would differ from the reviewed plan's).
	cfg.Reviewed = p
	cc.reads.Store(0)
	if _, err := engine.ApplyRun(context.Background(), cfg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(f.dir, "n1/a.conf")); string(got) != "x = 0\nx = 1\nz = 3\n" {
		t.Errorf("a.conf = %q", got)
	}
	if n := cc.reads.Load(); n != 1 {
		t.Errorf("apply read %d files itself, want 1 (a.conf again after task a changed it)", n)
	}
}
