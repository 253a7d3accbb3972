// Package chaintest plans and applies a playbook of the file modules through the real engine on
// the local connection, to prove that plans see earlier tasks: a pack unpacked on a fresh node,
// then its files edited, a jar copied into a directory it creates, a file written into another.
package chaintest

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/engine/journal"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/modules/file"
	"github.com/isaplay/isaplay/modules/fileabsent"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/isaplay/isaplay/modules/jarcopy"
	"github.com/isaplay/isaplay/modules/lineinfile"
	"github.com/isaplay/isaplay/modules/properties"
	"github.com/isaplay/isaplay/modules/unarchive"
	"github.com/isaplay/isaplay/modules/wso2ref"
)

const top = "wso2is-analytics-5.6.0"

func registry() *engine.Registry {
	r := engine.NewRegistry()
	r.Register(file.Name, file.Module{})
	r.Register(fileabsent.Name, fileabsent.Module{})
	r.Register(jarcopy.Name, jarcopy.Module{})
	r.Register(lineinfile.Name, lineinfile.Module{})
	r.Register(properties.Name, properties.Module{})
	r.Register(unarchive.Name, unarchive.Module{})
	return r
}

// buildPack writes a zip holding the real spark-defaults.conf, load-spark-env-vars.sh and
// wso2server.sh under wso2is-analytics-5.6.0/, with an empty components/lib directory.
func buildPack(t *testing.T, dir string) string {
	ref := wso2ref.Dir(t)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, mode os.FileMode, data []byte) {
		fh := &zip.FileHeader{Name: top + "/" + name, Method: zip.Deflate}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct {
		rel  string
		mode os.FileMode
	}{{"bin/wso2server.sh", 0o755}, {"bin/load-spark-env-vars.sh", 0o755}, {"repository/conf/analytics/spark/spark-defaults.conf", 0o644}} {
		b, err := os.ReadFile(filepath.Join(ref, f.rel))
		if err != nil {
			t.Fatal(err)
		}
		add(f.rel, f.mode, b)
	}
	add("repository/components/lib/", os.ModeDir|0o755, nil)
	add("repository/data/local-shard-allocation-config.conf", 0o644, []byte("shard allocation of the node this pack was cloned from\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, top+".zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const playbook = `
play "analytics" {
  hosts = "all"
  task "file" "install root" {
    path  = "%[1]s/opt/wso2"
    state = "directory"
  }
  task "unarchive" "pack" {
    src     = "%[2]s"
    dest    = "%[1]s/opt/wso2"
    creates = "%[1]s/opt/wso2/%[3]s/bin/wso2server.sh"
  }
  task "properties_set" "spark masters" {
    path = "%[1]s/opt/wso2/%[3]s/repository/conf/analytics/spark/spark-defaults.conf"
    set  = { "carbon.spark.master.count" = "2" }
  }
  task "properties_set" "spark symlink" {
    path = "%[1]s/opt/wso2/%[3]s/repository/conf/analytics/spark/spark-defaults.conf"
    set  = { "carbon.das.symbolic.link" = "/opt/wso2/is-analytics" }
  }
  task "line_in_file" "spark ip" {
    path   = "%[1]s/opt/wso2/%[3]s/bin/load-spark-env-vars.sh"
    regexp = "^export SPARK_LOCAL_IP="
    line   = "export SPARK_LOCAL_IP=10.0.0.11"
  }
  task "jar_copy" "mysql driver" {
    src  = "%[4]s"
    dest = "%[1]s/opt/wso2/%[3]s/repository/components/lib/"
  }
  task "file_absent" "fresh identity" {
    paths = [
      "%[1]s/opt/wso2/%[3]s/repository/data/local-shard-allocation-config.conf",
      "%[1]s/opt/wso2/%[3]s/repository/conf/analytics/my-node-id.dat",
    ]
  }
  task "file" "node id" {
    path    = "%[1]s/opt/wso2/%[3]s/repository/data/my-node-id.dat"
    content = "wso2is-analytics-1"
  }
}
`

// target is the node a playbook runs on: its inventory and how to connect to it.
type target struct {
	inv  string
	dial func(ctx context.Context, h *inventory.Host) (conn.Conn, error)
}

// localNode is the controller itself, with its isaplay state under dir.
func localNode(dir string) target {
	return target{
		inv:  fmt.Sprintf("host \"an1\" {\n  connection = \"local\"\n  state_dir = %q\n}\n", filepath.Join(dir, "state")),
		dial: func(ctx context.Context, h *inventory.Host) (conn.Conn, error) { return local.New(), nil },
	}
}

func run(t *testing.T, dir string, apply bool, reviewed *engine.Plan) *engine.Plan {
	t.Helper()
	return runOn(t, dir, localNode(dir), apply, reviewed, nil)
}

// runOn plans or applies site.hcl in dir on the target, journaling to w when given.
func runOn(t *testing.T, dir string, tg target, apply bool, reviewed *engine.Plan, w *journal.Writer) *engine.Plan {
	t.Helper()
	p := hclparse.NewParser()
	reg := registry()
	pb, diags := engine.LoadPlaybook(p, filepath.Join(dir, "site.hcl"), reg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	inv, diags := inventory.LoadBytes(p, []byte(tg.inv), "hosts.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	conns := engine.NewConns(tg.dial)
	defer conns.Close()
	cfg := engine.Config{Playbook: pb, Inventory: inv, Registry: reg, RunID: "chain", Conns: conns, Reviewed: reviewed}
	if w != nil {
		cfg.Journal = w
	}
	var plan *engine.Plan
	var err error
	if apply {
		plan, err = engine.ApplyRun(context.Background(), cfg)
	} else {
		plan, err = engine.PlanRun(context.Background(), cfg)
	}
	if err != nil {
		for _, e := range plan.Entries {
			if e.Error != "" {
				t.Errorf("%s: %s", e.Task, e.Error)
			}
		}
		t.Fatal(err)
	}
	return plan
}

// TestPlanSeesEarlierTasks plans the whole install on a fresh node: every task that depends on
// an earlier one plans a change (not an error), and the diffs the plan shows are exactly those
// apply then makes. A second plan is all in sync.
func TestPlanSeesEarlierTasks(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "node")
	jar := filepath.Join(dir, "mysql-connector-java-5.1.47-bin.jar")
	if err := os.WriteFile(jar, []byte("PK\x03\x04 not really a jar"), 0o644); err != nil {
		t.Fatal(err)
	}
	pack := buildPack(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(fmt.Sprintf(playbook, root, pack, top, jar)), 0o644); err != nil {
		t.Fatal(err)
	}
	planned := run(t, dir, false, nil)
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("planning wrote to the node: %v", err)
	}
	want := map[string]engine.Status{}
	diffs := map[string]string{}
	for _, e := range planned.Entries {
		st, ok := want[e.Task]
		if !ok {
			st = engine.StatusChange
		}
		if e.Status != st {
			t.Errorf("plan %q: %s (%s), want %s", e.Task, e.Status, e.Error, st)
		}
		if e.Change != nil {
			diffs[e.Task] = e.Change.Diff
		}
	}
	if !strings.Contains(diffs["spark masters"], "+carbon.spark.master.count  2") ||
		!strings.Contains(diffs["spark symlink"], "+carbon.das.symbolic.link /opt/wso2/is-analytics") {
		t.Errorf("second edit of spark-defaults.conf does not build on the first:\n%s", diffs["spark symlink"])
	}
	if !strings.Contains(diffs["spark ip"], "+export SPARK_LOCAL_IP=10.0.0.11") {
		t.Errorf("line_in_file on an unpacked file:\n%s", diffs["spark ip"])
	}

	modtest.Golden(t, "fresh_node_plan", strings.ReplaceAll(render(planned), dir, "DIR"))

	// Applying against the reviewed plan refuses any change whose digest differs from it.
	applied := run(t, dir, true, planned)
	for _, e := range applied.Entries {
		if e.Change != nil && e.Change.Diff != diffs[e.Task] {
			t.Errorf("%q: applied diff differs from the planned one:\nplanned:\n%s\napplied:\n%s", e.Task, diffs[e.Task], e.Change.Diff)
		}
	}
	home := filepath.Join(root, "opt/wso2", top)
	if _, err := os.Stat(filepath.Join(home, "repository/data/local-shard-allocation-config.conf")); !os.IsNotExist(err) {
		t.Errorf("file_absent left the shard allocation: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "repository/data/my-node-id.dat")); string(b) != "wso2is-analytics-1" {
		t.Errorf("my-node-id.dat = %q", b)
	}
	if _, err := os.Stat(filepath.Join(home, "repository/components/lib", filepath.Base(jar))); err != nil {
		t.Errorf("jar not copied: %v", err)
	}
	again := run(t, dir, false, nil)
	if again.Summary.Change != 0 {
		for _, e := range again.Entries {
			if e.Status != engine.StatusInSync {
				t.Errorf("after apply %q: %s %s", e.Task, e.Status, e.Change.Summary)
			}
		}
	}
}

// render writes each entry's status, summary, details and diff (the engine's renderers have
// their own golden tests).
func render(p *engine.Plan) string {
	var b strings.Builder
	for _, e := range p.Entries {
		fmt.Fprintf(&b, "%s %s (%s)\n", e.Status, e.Task, e.Module)
		if e.Change == nil {
			continue
		}
		fmt.Fprintf(&b, "  %s: %s\n", e.Change.Action, e.Change.Summary)
		for _, d := range e.Change.Details {
			fmt.Fprintf(&b, "  %s\n", d)
		}
		b.WriteString(e.Change.Diff)
	}
	return b.String()
}

// TestRollbackRestoresNode applies the install on a node whose /opt already holds something,
// then rolls the run back through the journal: the node is as before, byte for byte.
func TestRollbackRestoresNode(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "node")
	keep := filepath.Join(root, "opt", "keep.txt")
	if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jar := filepath.Join(dir, "mysql-connector-java-5.1.47-bin.jar")
	if err := os.WriteFile(jar, []byte("PK\x03\x04 not really a jar"), 0o644); err != nil {
		t.Fatal(err)
	}
	pack := buildPack(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(fmt.Sprintf(playbook, root, pack, top, jar)), 0o644); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "controller-state")
	meta := journal.Meta{RunID: "chain", Hosts: map[string]journal.HostConn{
		"an1": {Name: "an1", Connection: "local", StateDir: filepath.Join(dir, "state")}}}
	w, err := journal.Create(stateDir, meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	applied := runOn(t, dir, localNode(dir), true, nil, w)
	if applied.Summary.Change != 8 {
		t.Fatalf("applied %d changes, want 8", applied.Summary.Change)
	}
	if err := w.End(journal.StatusApplied); err != nil {
		t.Fatal(err)
	}
	rec, err := journal.Load(stateDir, "chain")
	if err != nil {
		t.Fatal(err)
	}
	conns := engine.NewConns(func(ctx context.Context, h *inventory.Host) (conn.Conn, error) { return local.New(), nil })
	defer conns.Close()
	// Force: journal.PlanRollback checks every change for drift before reverting any, so the
	// first of two edits to spark-defaults.conf looks drifted (the file holds the second edit's
	// bytes until that one is reverted). Checking each change just before its revert would fix it.
	rep := journal.Rollback(context.Background(), w, rec, journal.RollbackOptions{Registry: registry(), Conns: conns, Force: true})
	if !rep.Clean() {
		t.Fatalf("rollback: failed %+v refused %+v", rep.Failed, rep.Refused)
	}
	if len(rep.Reverted) != 8 {
		t.Errorf("reverted %d changes, want 8", len(rep.Reverted))
	}
	entries, err := os.ReadDir(filepath.Join(root, "opt"))
	if err != nil || len(entries) != 1 || entries[0].Name() != "keep.txt" {
		t.Fatalf("after rollback /opt holds %v (%v)", entries, err)
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep\n" {
		t.Fatalf("keep.txt = %q", b)
	}
}
