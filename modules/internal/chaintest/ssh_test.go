package chaintest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/engine/journal"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
)

// TestThroughSSH runs the fresh-node install on a real sshd node (its own /opt): the pack is
// streamed as a tar into `tar -x` over SSH, the jar uploaded and verified, the edits planned
// against the unpacked files. Plan equals apply (digests), a second plan is in sync, and a
// journaled rollback leaves /opt as it was.
func TestThroughSSH(t *testing.T) {
	cl := testcluster.New(t, testcluster.Options{N: 1, Prefix: "fm"})
	n := cl.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tg := target{
		inv: fmt.Sprintf("host %q {\n  address = %q\n}\n", n.Name, n.Address),
		// Every run (and the rollback) closes its connections, so each dials anew.
		dial: func(ctx context.Context, h *inventory.Host) (conn.Conn, error) {
			return sshconn.Dial(ctx, modtest.SSHConfig(cl, 0))
		},
	}

	dir := t.TempDir()
	jar := filepath.Join(dir, "mysql-connector-java-5.1.47-bin.jar")
	if err := os.WriteFile(jar, []byte("PK\x03\x04 not really a jar"), 0o644); err != nil {
		t.Fatal(err)
	}
	pack := buildPack(t, dir)
	// The playbook's paths are the node's: /opt/wso2/...; on the controller they are under NodeRoot.
	if err := os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(fmt.Sprintf(playbook, "", pack, top, jar)), 0o644); err != nil {
		t.Fatal(err)
	}
	planned := runOn(t, dir, tg, false, nil, nil)
	if planned.Summary.Change != 8 {
		t.Fatalf("planned %d changes, want 8", planned.Summary.Change)
	}
	stateDir := filepath.Join(dir, "controller-state")
	w, err := journal.Create(stateDir, journal.Meta{RunID: "chain", Hosts: map[string]journal.HostConn{
		n.Name: {Name: n.Name, Address: n.Address, Connection: "ssh", StateDir: ".isaplay"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	runOn(t, dir, tg, true, planned, w)
	home := filepath.Join(cl.NodeRoot(0), "wso2", top)
	ref := wso2ref.Dir(t)
	orig, err := os.ReadFile(filepath.Join(ref, "bin", "load-spark-env-vars.sh"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(home, "bin", "load-spark-env-vars.sh"))
	if err != nil || string(got) != string(orig)+"\nexport SPARK_LOCAL_IP=10.0.0.11" {
		t.Fatalf("load-spark-env-vars.sh on the node: %q %v", got, err)
	}
	if st, err := os.Stat(filepath.Join(home, "bin", "wso2server.sh")); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("wso2server.sh on the node: %v %v", st, err)
	}
	if again := runOn(t, dir, tg, false, nil, nil); again.Summary.Change != 0 {
		t.Fatalf("second plan has %d changes", again.Summary.Change)
	}
	if err := w.End(journal.StatusApplied); err != nil {
		t.Fatal(err)
	}
	rec, err := journal.Load(stateDir, "chain")
	if err != nil {
		t.Fatal(err)
	}
	conns := engine.NewConns(tg.dial)
	defer conns.Close()
	// Force: see TestRollbackRestoresNode.
	rep := journal.Rollback(ctx, w, rec, journal.RollbackOptions{Registry: registry(), Conns: conns, Force: true})
	if !rep.Clean() || len(rep.Reverted) != 8 {
		t.Fatalf("rollback: reverted %d, failed %+v, refused %+v", len(rep.Reverted), rep.Failed, rep.Refused)
	}
	if _, err := os.Stat(filepath.Join(cl.NodeRoot(0), "wso2")); !os.IsNotExist(err) {
		t.Fatalf("rollback left /opt/wso2 on the node: %v", err)
	}
}
