package httpcheck

import (
	"context"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/zclconf/go-cty/cty"
)

// TestThroughSSH sends the check through a real sshd node's connection (a direct-tcpip
// channel), as behind a jump host where the controller cannot reach the service itself.
func TestThroughSSH(t *testing.T) {
	srv, n := sparkMaster("ALIVE", 1)
	defer srv.Close()
	cl := testcluster.New(t, testcluster.Options{N: 1, Prefix: "hc"})
	node := cl.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := sshconn.Dial(ctx, sshconn.Config{Host: node.Name, Address: node.Address, Port: node.Port, User: cl.User,
		IdentityFiles: []string{cl.KeyFile}, KnownHostsFile: cl.KnownHosts, SSHConfigFile: "none", NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dc := &dialCounter{Conn: c}
	h := engine.NewHost(node.Name, dc, "run1", ".isaplay", nil)
	res, err := check(t, h, map[string]cty.Value{"url": cty.StringVal(srv.URL + "/json/"), "json_path": cty.StringVal("status"),
		"json_value": cty.StringVal("ALIVE"), "interval": cty.StringVal("10ms")})
	if err != nil {
		t.Fatal(err)
	}
	if dc.dials.Load() != 2 || n.Load() != 2 || res.Result.GetAttr("value").AsString() != "ALIVE" {
		t.Fatalf("dials through SSH = %d, requests = %d, result %v", dc.dials.Load(), n.Load(), res.Result)
	}
}
