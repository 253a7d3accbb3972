package sshconn_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/isaplay/isaplay/inventory/conn/conntest"
	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/isaplay/isaplay/inventory/testcluster"
)

// cluster is shared by the tests that do not break their nodes.
var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	c, err := testcluster.Start(context.Background(), testcluster.Options{N: 3, Prefix: "sc"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	stopBench()
	c.Stop()
	os.RemoveAll(c.Dir)
	os.Exit(code)
}

// config returns a Config for node i of c.
func config(c *testcluster.Cluster, i int) sshconn.Config {
	n := c.Nodes[i]
	return sshconn.Config{
		Host: n.Name, Address: n.Address, Port: n.Port, User: c.User,
		IdentityFiles: []string{c.KeyFile}, KnownHostsFile: c.KnownHosts,
		SSHConfigFile: "none", NoAgent: true,
	}
}

func dial(t testing.TB, cfg sshconn.Config) *sshconn.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sshconn.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformance(t *testing.T) { conformance(t, "conntest") }

// TestConformanceNoTar covers ReadFile on hosts without GNU tar (stat and cat).
func TestConformanceNoTar(t *testing.T) {
	sshconn.SetReadWithTar(false)
	defer sshconn.SetReadWithTar(true)
	conformance(t, "conntest-notar")
}

// TestConformanceStagedScripts covers scripts of isaplay's own that travel staged, as long
// ones do: here every one of them.
func TestConformanceStagedScripts(t *testing.T) {
	defer sshconn.SetStagedScript(sshconn.SetStagedScript(0))
	conformance(t, "conntest-staged")
}

func conformance(t *testing.T, name string) {
	c := dial(t, config(cluster, 0))
	dir := "/opt/" + name
	if err := os.MkdirAll(filepath.Join(cluster.NodeRoot(0), name), 0o755); err != nil {
		t.Fatal(err)
	}
	conntest.Run(t, conntest.Harness{
		Conn: c, Dir: dir, Home: "/root", MaxSessions: 10,
		Local: func(p string) string {
			rel, err := filepath.Rel("/opt", p)
			if err == nil && filepath.IsLocal(rel) {
				return filepath.Join(cluster.NodeRoot(0), rel)
			}
			if rel, err := filepath.Rel("/root", p); err == nil && filepath.IsLocal(rel) {
				return filepath.Join(cluster.NodeHome(0), rel)
			}
			t.Fatalf("no controller path for %s", p)
			return ""
		},
	})
	if n := c.PeakSessions(); n > 10 {
		t.Errorf("%d sessions open at once, want at most 10", n)
	}
	t.Logf("sessions opened: %d, at most %d at once", c.Sessions(), c.PeakSessions())
}
