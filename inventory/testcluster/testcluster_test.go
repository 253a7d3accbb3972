package testcluster_test

import (
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/testcluster"
)

func sshRun(t *testing.T, c *testcluster.Cluster, i int, cmd string) string {
	t.Helper()
	out, errOut, err := c.Run(i, cmd)
	if err != nil {
		t.Fatalf("node %d: %s: %v: %s", i, cmd, err, errOut)
	}
	return out
}

func TestCluster(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{N: 3, Prefix: "tc", Groups: func(i int) []string {
		if i == 0 {
			return []string{"first", "all_nodes"}
		}
		return []string{"all_nodes"}
	}})

	t.Run("inventory", func(t *testing.T) {
		inv, diags := inventory.Load(hclparse.NewParser(), c.Inventory)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if len(inv.Hosts) != 3 || len(inv.Groups["first"]) != 1 || len(inv.Groups["all_nodes"]) != 3 {
			t.Fatalf("hosts %d, groups %v", len(inv.Hosts), inv.Groups)
		}
		for i, h := range inv.Hosts {
			n := c.Nodes[i]
			if h.Name != n.Name || h.Address != n.Address || h.Port != n.Port || h.User != c.User ||
				h.IdentityFile != c.KeyFile || h.KnownHosts != c.KnownHosts {
				t.Errorf("host %d = %+v, want node %+v", i, h, n)
			}
		}
	})

	t.Run("private /opt and clean home per node", func(t *testing.T) {
		for i := range c.Nodes {
			if err := os.WriteFile(filepath.Join(c.NodeRoot(i), "who"), []byte(c.Nodes[i].Name), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for i, n := range c.Nodes {
			if got := sshRun(t, c, i, "cat /opt/who"); got != n.Name {
				t.Errorf("node %d sees /opt/who = %q", i, got)
			}
			if got := sshRun(t, c, i, "pwd; ls -A"); got != homeOf(t, c.User)+"\n" {
				t.Errorf("node %d home: %q, want an empty %s", i, got, homeOf(t, c.User))
			}
		}
		if _, err := os.Stat("/opt/who"); err == nil {
			t.Error("a node's /opt leaked onto the controller")
		}
	})

	t.Run("stop kills every process it started", func(t *testing.T) {
		var pids []int
		for _, n := range c.Nodes {
			pids = append(pids, n.PID())
		}
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, p := range pids {
			if b, err := os.ReadFile(filepath.Join("/proc", itoa(p), "stat")); err == nil && !strings.Contains(string(b), ") Z ") {
				t.Errorf("process %d still running", p)
			}
		}
		for i := range c.Nodes {
			if conn, err := net.DialTimeout("tcp", c.Addr(i), time.Second); err == nil {
				conn.Close()
				t.Errorf("node %d still accepts connections", i)
			}
		}
	})
}

func homeOf(t *testing.T, name string) string {
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u.HomeDir
}

func itoa(i int) string { return strconv.Itoa(i) }
