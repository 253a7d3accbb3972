package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/modules/assert"
	"github.com/isaplay/isaplay/modules/command"
	"github.com/isaplay/isaplay/modules/httpcheck"
	"github.com/isaplay/isaplay/modules/logcompare"
	"github.com/isaplay/isaplay/modules/waitlog"
)

// phaseE is phases E and G of the pattern-2 spec as a playbook: a serial = 1 play starts the
// nodes one by one, each start followed by its wait; a verification play compares node IDs
// and HA roles across hosts. It is the playbook shape the modules were designed for.
const phaseE = `
variable "cluster_dir" { type = string }

play "start analytics" {
  hosts  = "analytics"
  serial = 1

  task "service_start" "start" {
    script   = "${host.vars.home}/bin/wso2server.sh"
    pid_file = "${host.vars.home}/wso2carbon.pid"
    log_file = "${host.vars.home}/repository/logs/wso2carbon.log"
    env      = { JAVA_HOME = "/usr/lib/jvm/standin", STANDIN_CLUSTER_DIR = var.cluster_dir }
    wait_timeout = "30s"
    register = "start"
  }

  task "wait_log" "ready" {
    path     = "${host.vars.home}/repository/logs/wso2carbon.log"
    from     = result.start.log_cursor
    patterns = [
      "Became CEP HA (?P<role>Active|Passive) Member",
      "Started SPARK MASTER in spark://${host.vars.ip}:7078",
      "WSO2 Carbon started in \\d+ sec",
    ]
    fail_patterns = [
      "java\\.net\\.BindException",
      "CEP started with clustering enabled, but SingleNode configuration given",
      "CEP HA State syncing failed,",
    ]
    tolerate     = ["CEP HA State syncing failed, No execution plans exist"]
    wait_timeout = "60s"
    register     = "ready"
  }
}

play "verify" {
  hosts = "analytics"

  task "log_compare" "node id" {
    path     = "${host.vars.home}/repository/logs/wso2carbon.log"
    regex    = "My Analytics Node ID: (\\S+)"
    register = "node_id"
  }

  task "assert" "node ids differ" {
    run_once  = true
    condition = length(distinct([for r in values(results.node_id) : r.value])) == length(values(results.node_id))
    message   = "every analytics node needs its own my-node-id.dat"
  }

  task "assert" "one active one passive" {
    run_once  = true
    when      = !result.ready.skipped
    condition = length([for r in values(results.ready) : r if r.captures.role == "Active"]) == 1 && length([for r in values(results.ready) : r if r.captures.role == "Passive"]) == 1
    message   = "exactly one HA active member"
  }

  task "command" "ps" {
    argv   = ["sh", "-c", "kill -0 $(cat ${host.vars.home}/wso2carbon.pid) && echo alive"]
    unless = ["false"]
    register = "ps"
  }
}
`

func registry() *engine.Registry {
	r := engine.NewRegistry()
	r.Register(NameStart, StartModule{})
	r.Register(NameStop, StopModule{})
	r.Register(waitlog.Name, waitlog.Module{})
	r.Register(waitlog.NameCursor, waitlog.CursorModule{})
	r.Register(httpcheck.Name, httpcheck.Module{})
	r.Register(logcompare.Name, logcompare.Module{})
	r.Register(assert.Name, assert.Module{})
	r.Register(command.Name, command.Module{})
	return r
}

// loadPlaybook writes playbook (with its variable cluster_dir set to cluster) and an inventory
// of the nodes, group analytics, as an1, an2, ... over local connections, and loads both.
func loadPlaybook(t *testing.T, nodes []node, ips []string, cluster, playbook string) func() engine.Config {
	t.Helper()
	dir := t.TempDir()
	var inv strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&inv, "host %q {\n  connection = \"local\"\n  groups = [\"analytics\"]\n  state_dir = %q\n  vars = { ip = %q, home = %q }\n}\n",
			fmt.Sprintf("an%d", i+1), filepath.Join(dir, fmt.Sprintf("state-%d", i)), ips[i], n.home)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte(inv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pb.hcl"), []byte(playbook), 0o644); err != nil {
		t.Fatal(err)
	}
	p := hclparse.NewParser()
	reg := registry()
	pb, diags := engine.LoadPlaybook(p, filepath.Join(dir, "pb.hcl"), reg)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags)
	}
	in, diags := inventory.Load(p, filepath.Join(dir, "hosts.hcl"))
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diags)
	}
	red := engine.NewRedactor()
	vars, diags := engine.ResolveVariables(p, pb, engine.VarInputs{Env: []string{}, Flags: []string{"cluster_dir=" + cluster}}, red)
	if diags.HasErrors() {
		t.Fatalf("vars: %s", diags)
	}
	return func() engine.Config {
		return engine.Config{Playbook: pb, Inventory: in, Registry: reg, Vars: vars, Redactor: red, RunID: "run1",
			Conns: engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return local.New(), nil })}
	}
}

func render(t *testing.T, p *engine.Plan) string {
	t.Helper()
	var b strings.Builder
	if err := engine.RenderText(&b, p, engine.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestPlaybookPhaseE plans, applies and re-plans phase E through the engine on two stand-in
// nodes over local connections.
func TestPlaybookPhaseE(t *testing.T) {
	cluster := t.TempDir()
	ips := []string{"10.250.9.11", "10.250.9.12"}
	nodes := []node{
		newNode(t, nodeConfig{ip: ips[0], members: ips, domain: "wso2.is.analytics.domain"}),
		newNode(t, nodeConfig{ip: ips[1], members: ips, domain: "wso2.is.analytics.domain"}),
	}
	for _, n := range nodes {
		h := engine.NewHost("x", local.New(), "run1", t.TempDir(), nil)
		stopOnCleanup(t, h, carbon(n, cluster, nil))
	}
	config := loadPlaybook(t, nodes, ips, cluster, phaseE)
	ctx := context.Background()

	plan, err := engine.PlanRun(ctx, config())
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, render(t, plan))
	}
	text := render(t, plan)
	for _, want := range []string{"will start " + nodes[0].path("bin/wso2server.sh"), "will start " + nodes[1].path("bin/wso2server.sh")} {
		if !strings.Contains(text, want) {
			t.Fatalf("plan lacks %q:\n%s", want, text)
		}
	}

	applied, err := engine.ApplyRun(ctx, config())
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, render(t, applied))
	}
	t.Log(render(t, applied))
	for _, e := range applied.Entries {
		if e.Module == assert.Name && e.Host == "an1" && e.Status != engine.StatusInSync {
			t.Errorf("assert %s on an1 is %s, want in sync (it holds)", e.Task, e.Status)
		}
	}
	// an2's log starts after an1 was ready: its first line is later than an1's readiness line.
	log1, _ := os.ReadFile(nodes[0].path("repository/logs/wso2carbon.log"))
	log2, _ := os.ReadFile(nodes[1].path("repository/logs/wso2carbon.log"))
	ready1 := lineIndex(t, string(log1), "WSO2 Carbon started in")
	if first2 := timestamp(strings.SplitN(string(log2), "\n", 2)[0]); first2 < timestamp(ready1) {
		t.Fatalf("an2 started (%s) before an1 was ready (%s)", first2, timestamp(ready1))
	}
	if !strings.Contains(string(log1), "Became CEP HA Active Member") || !strings.Contains(string(log2), "Became CEP HA Passive Member") {
		t.Fatal("roles are not an1 active, an2 passive")
	}

	// The re-run: every start is in sync and no wait happens.
	again, err := engine.PlanRun(ctx, config())
	if err != nil {
		t.Fatalf("re-plan: %v\n%s", err, render(t, again))
	}
	for _, e := range again.Entries {
		if (e.Module == NameStart || e.Module == waitlog.Name) && e.Status != engine.StatusInSync {
			t.Errorf("re-plan: %s on %s is %s, want in sync\n%s", e.Task, e.Host, e.Status, render(t, again))
		}
	}
	t.Log(render(t, again))
	reapplied, err := engine.ApplyRun(ctx, config())
	if err != nil {
		t.Fatalf("re-apply: %v\n%s", err, render(t, reapplied))
	}
}

func lineIndex(t *testing.T, log, substr string) string {
	t.Helper()
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	t.Fatalf("no line with %q", substr)
	return ""
}

// timestamp returns the [date time,ms] field of a Carbon log line, which sorts as text.
func timestamp(line string) string {
	parts := strings.SplitN(line, "[", 4)
	if len(parts) < 4 {
		return ""
	}
	return strings.SplitN(parts[3], "]", 2)[0]
}

// TestPlaybookClonedNodeIDFails: an2 cloned from an1 after its first start (B4 not done)
// carries an1's my-node-id.dat; both nodes start fine, and the cross-host assert fails.
func TestPlaybookClonedNodeIDFails(t *testing.T) {
	cluster := t.TempDir()
	ips := []string{"10.250.8.11", "10.250.8.12"}
	nodes := []node{
		newNode(t, nodeConfig{ip: ips[0], members: ips, domain: "cloned.domain"}),
		newNode(t, nodeConfig{ip: ips[1], members: ips, domain: "cloned.domain"}),
	}
	for _, n := range nodes {
		if err := os.MkdirAll(n.path("repository/data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(n.path("repository/data/my-node-id.dat"), []byte("3b2b7d0e-cloned\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h := engine.NewHost("x", local.New(), "run1", t.TempDir(), nil)
		stopOnCleanup(t, h, carbon(n, cluster, nil))
	}
	config := loadPlaybook(t, nodes, ips, cluster, phaseE)
	applied, err := engine.ApplyRun(context.Background(), config())
	if err == nil {
		t.Fatalf("apply succeeded with cloned node IDs:\n%s", render(t, applied))
	}
	text := render(t, applied)
	if !strings.Contains(text, "assertion failed on an1: every analytics node needs its own my-node-id.dat") {
		t.Fatalf("apply did not fail on the node-ID assert: %v\n%s", err, text)
	}
}
