package mysqldb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/zclconf/go-cty/cty"
)

// TestThroughSSH runs mysql_db on a real sshd node: the driver reaches the server bound to
// 127.0.0.1 through the node's SSH connection (a direct-tcpip channel), and the schema script is
// read from the node's product home through the same connection.
func TestThroughSSH(t *testing.T) {
	cl := testcluster.New(t, testcluster.Options{N: 1, Prefix: "mdb"})
	n := cl.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := modtest.DialSSH(ctx, t, cl, 0)
	// The product home on the node: /opt/wso2/.../dbscripts/mysql5.7.sql.
	script, err := os.ReadFile(filepath.Join(wso2ref.Dir(t), "dbscripts", "mysql5.7.sql"))
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(cl.NodeRoot(0), "wso2", "dbscripts")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(local, "mysql5.7.sql"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	admin := server.Admin(t)
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS sshdb", "DROP USER IF EXISTS 'sshuser'@'10.0.0.21'") })

	h := engine.NewHost(n.Name, c, "run1", ".isaplay", nil)
	args := engine.NewArgs(Name, conn(nil), database("sshdb", "latin1"),
		user("sshuser", "Ssh-User-Pass-9", []string{"10.0.0.21"}, "ALL ON sshdb.*"),
		engine.NewArgs("schema", map[string]cty.Value{"database": cty.StringVal("sshdb"), "script_host_path": cty.StringVal("/opt/wso2/dbscripts/mysql5.7.sql")}))
	m := Module{}
	plan, err := m.Check(ctx, h.Planning(), args)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan.Details, "\n"), "(from "+n.Name+", sha256 "+engine.SHA256(script)[:12]) {
		t.Errorf("plan details:\n%s", strings.Join(plan.Details, "\n"))
	}
	ch, err := m.Check(ctx, h, args)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(ctx, h, ch); err != nil {
		t.Fatal(err)
	}
	if got := query(t, admin, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sshdb'"); got[0] != "40" {
		t.Errorf("tables loaded through SSH: %v", got)
	}
	again, err := m.Check(ctx, h, args)
	if err != nil || again.Action != engine.ActionNone {
		t.Errorf("second check through SSH: %v %v", again, err)
	}
	if err := m.Revert(ctx, h, ch.Undo); err != nil {
		t.Fatal(err)
	}
	if schemaExists(t, admin, "sshdb") || userExists(t, admin, "sshuser", "10.0.0.21") {
		t.Error("revert through SSH left objects behind")
	}
}
