package xmlpatch

import (
	"context"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
)

// countingConn counts the calls that reach the host.
type countingConn struct {
	conn.Conn
	reads, stats, runs atomic.Int32
}

func (c *countingConn) ReadFile(ctx context.Context, p string, become bool) (conn.FileInfo, []byte, error) {
	c.reads.Add(1)
	return c.Conn.ReadFile(ctx, p, become)
}

func (c *countingConn) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	c.stats.Add(1)
	return c.Conn.Stat(ctx, paths, hash)
}

func (c *countingConn) Run(ctx context.Context, cmd conn.Command) (conn.Result, error) {
	c.runs.Add(1)
	return c.Conn.Run(ctx, cmd)
}

// TestCheckIsOneRoundTrip: planning a task with many operations reads the file once and does
// nothing else on the host.
func TestCheckIsOneRoundTrip(t *testing.T) {
	p := copyFile(t, filepath.Join(wso2ref.Dir(t), "repository/conf/axis2/axis2.xml"), 0o644)
	cc := &countingConn{Conn: local.New()}
	h := engine.NewHost("n1", cc, "run1", t.TempDir(), nil)
	var blocks []*engine.Args
	for _, st := range steps() {
		if st.file == "repository/conf/axis2/axis2.xml" {
			blocks = st.blocks
		}
	}
	c := check(t, h.Planning(), task(p, nil, blocks...))
	if c.Action != engine.ActionUpdate {
		t.Fatalf("action %s", c.Action)
	}
	if r, s, n := cc.reads.Load(), cc.stats.Load(), cc.runs.Load(); r != 1 || s != 0 || n != 0 {
		t.Errorf("Check made %d reads, %d stats, %d runs; want 1, 0, 0", r, s, n)
	}
}
