package service

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/zclconf/go-cty/cty"
)

// countRuns counts the commands run on a connection.
type countRuns struct {
	conn.Conn
	n atomic.Int32
}

func (c *countRuns) Run(ctx context.Context, cmd conn.Command) (conn.Result, error) {
	c.n.Add(1)
	return c.Conn.Run(ctx, cmd)
}

// TestOrderedStartThroughSSH is phase E on two real sshd nodes, each with its own /opt: the
// stand-in pack is at the same path on both, starts go node by node, each wait is one
// streaming SSH session, and a finished wait leaves no tail running on the node.
func TestOrderedStartThroughSSH(t *testing.T) {
	cl := testcluster.New(t, testcluster.Options{N: 2, Prefix: "an"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ips := []string{cl.Nodes[0].Address, cl.Nodes[1].Address}
	cluster := t.TempDir() // under /tmp, which the nodes share
	const home = "/opt/wso2/wso2is-analytics-5.6.0"
	hosts := make([]*engine.Host, 2)
	counts := make([]*countRuns, 2)
	nodes := make([]node, 2)
	for i, n := range cl.Nodes {
		local := filepath.Join(cl.NodeRoot(i), "wso2", "wso2is-analytics-5.6.0")
		if err := os.MkdirAll(local, 0o755); err != nil {
			t.Fatal(err)
		}
		newNode(t, nodeConfig{ip: ips[i], members: ips, domain: "ssh.analytics.domain", home: local})
		nodes[i] = node{home: home} // the path the node sees
		c, err := sshconn.Dial(ctx, sshconn.Config{Host: n.Name, Address: n.Address, Port: n.Port, User: cl.User,
			IdentityFiles: []string{cl.KeyFile}, KnownHostsFile: cl.KnownHosts, SSHConfigFile: "none", NoAgent: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		counts[i] = &countRuns{Conn: c}
		hosts[i] = engine.NewHost(n.Name, counts[i], "run1", ".isaplay", nil)
		stopOnCleanup(t, hosts[i], carbon(nodes[i], cluster, nil))
	}

	waitOne := func(i int, from cty.Value, patterns []string, tolerate []string) {
		t.Helper()
		before := counts[i].n.Load()
		if _, err := wait(hosts[i], nodes[i], from, patterns, failLines[:6], tolerate); err != nil {
			t.Fatal(err)
		}
		if n := counts[i].n.Load() - before; n != 1 {
			t.Fatalf("wait on %s used %d SSH sessions, want 1", cl.Nodes[i].Name, n)
		}
	}
	s1 := apply(t, StartModule{}, hosts[0], carbon(nodes[0], cluster, nil))
	waitOne(0, s1.Result.GetAttr("log_cursor"), []string{`Became CEP HA Active Member`, `Local member: \[[0-9a-f-]+\] - .*` + strings.ReplaceAll(ips[0], ".", `\.`),
		`Started SPARK MASTER in spark://` + ips[0] + `:7078`, `WSO2 Carbon started in \d+ sec`}, nil)
	s2 := apply(t, StartModule{}, hosts[1], carbon(nodes[1], cluster, nil))
	waitOne(1, s2.Result.GetAttr("log_cursor"), []string{`Became CEP HA Passive Member`, `CEP HA State successfully synced\.`, `WSO2 Carbon started in \d+ sec`},
		[]string{`CEP HA State syncing failed, No execution plans exist`})
	waitOne(0, s1.Result.GetAttr("log_cursor"), []string{`Member joined \[\S+\]: /` + ips[1] + `:4000`, `Started Spark CLIENT in the cluster`}, nil)

	// Re-run: in sync through SSH too.
	for i := range hosts {
		c, err := StartModule{}.Check(ctx, hosts[i].Planning(), carbon(nodes[i], cluster, nil))
		if err != nil || c.Action != engine.ActionNone {
			t.Fatalf("re-run on %s: %+v %v", cl.Nodes[i].Name, c, err)
		}
	}
	// The check below can see a tail on a node: start one, find it, end it.
	res, err := hosts[0].Run(ctx, conn.Command{Script: "nohup tail -f /opt/wso2/wso2is-analytics-5.6.0/repository/logs/wso2carbon.log >/dev/null 2>&1 & echo $!"})
	if err != nil {
		t.Fatal(err)
	}
	// The tail runs in the background: wait until it has exec'd (bounded) before looking.
	ours := func() bool {
		for _, tl := range tails(t, "/opt/wso2/wso2is-analytics-5.6.0/repository/logs") {
			if strings.Contains(tl, ": tail -f ") {
				return true
			}
		}
		return false
	}
	for seen := time.Now().Add(5 * time.Second); !ours(); {
		if time.Now().After(seen) {
			t.Fatalf("a tail started on the node is not seen: %q", tails(t, "/opt/wso2/wso2is-analytics-5.6.0/repository/logs"))
		}
		runtime.Gosched()
	}
	if _, err := hosts[0].Run(ctx, conn.Command{Script: "kill " + strings.TrimSpace(string(res.Stdout))}); err != nil {
		t.Fatal(err)
	}
	// No wait left a tail running on the nodes (the sessions were cancelled, not abandoned).
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := tails(t, "/opt/wso2/wso2is-analytics-5.6.0/repository/logs")
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tail processes left after the waits: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tails lists processes on this machine (the nodes share its pid space) whose command line
// follows a file under dir with tail.
func tails(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.HasPrefix(cmd, "tail ") && strings.Contains(cmd, dir) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}
