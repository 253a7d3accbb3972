package modtest

import (
	"context"
	"testing"

	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/isaplay/isaplay/inventory/testcluster"
)

// SSHConfig is how a test logs in to node i of cl: the cluster's user, key and known hosts only,
// so the user's agent and ~/.ssh/config cannot change what the test sees.
func SSHConfig(cl *testcluster.Cluster, i int) sshconn.Config {
	n := cl.Nodes[i]
	return sshconn.Config{Host: n.Name, Address: n.Address, Port: n.Port, User: cl.User,
		IdentityFiles: []string{cl.KeyFile}, KnownHostsFile: cl.KnownHosts, SSHConfigFile: "none", NoAgent: true}
}

// DialSSH connects to node i of cl and closes the connection when the test ends.
func DialSSH(ctx context.Context, t testing.TB, cl *testcluster.Cluster, i int) *sshconn.Conn {
	t.Helper()
	c, err := sshconn.Dial(ctx, SSHConfig(cl, i))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
