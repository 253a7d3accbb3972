package waitlog

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
	"github.com/zclconf/go-cty/cty"
)

func cursorArgs(path string) *engine.Args {
	return engine.NewArgs(NameCursor, map[string]cty.Value{"path": cty.StringVal(path)})
}

// TestLogCursorPlanAndApply: a plan never reads the host and says the cursor is known after
// apply; at apply the cursor is the file's inode and size, in sync (it changes nothing), and
// "0:0" for a file that does not exist yet.
func TestLogCursorPlanAndApply(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	appendFile(t, log, carbonLine("INFO", "WSO2 Carbon started in 61 sec"))
	cc := &countingConn{Conn: local.New()}
	h := engine.NewHost("n1", cc, "run1", dir, nil)
	ctx := context.Background()

	c, err := CursorModule{}.Check(ctx, h.Planning(), cursorArgs(log))
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionRun || c.Summary != "will record the end of "+log || c.Unknown == "" || c.Result.IsKnown() || c.Undo.Module != "" {
		t.Fatalf("plan = %+v", c)
	}
	if n := cc.runs.Load(); n != 0 {
		t.Fatalf("the plan ran %d commands on the host, want none", n)
	}

	c, err = CursorModule{}.Check(ctx, h, cursorArgs(log))
	if err != nil {
		t.Fatal(err)
	}
	want := cursorOf(t, log)
	if c.Action != engine.ActionNone || c.Result.GetAttr("log_cursor").AsString() != want || c.Summary != "log cursor "+want {
		t.Fatalf("apply = %+v, want cursor %s", c, want)
	}

	c, err = CursorModule{}.Check(ctx, h, cursorArgs(filepath.Join(dir, "missing.log")))
	if err != nil || c.Result.GetAttr("log_cursor").AsString() != "0:0" {
		t.Fatalf("missing file: %+v %v", c, err)
	}
	if _, err := (CursorModule{}).Check(ctx, h, cursorArgs("")); err == nil || !strings.Contains(err.Error(), "path is empty") {
		t.Fatalf("empty path: %v", err)
	}
}

// TestLogCursorThenWait: a wait from a registered cursor sees the lines written after it and
// none before, even when the awaited line was written before the wait began, which a wait
// from "end" would miss and one from "beginning" would take from an older run.
func TestLogCursorThenWait(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	appendFile(t, log, carbonLine("INFO", "Became CEP HA Active Member run=1"))
	h := engine.NewHost("n1", local.New(), "run1", dir, nil)
	ctx := context.Background()
	c, err := CursorModule{}.Check(ctx, h, cursorArgs(log))
	if err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, carbonLine("INFO", "Member left [x]: /10.0.0.11:4000"), carbonLine("INFO", "Became CEP HA Active Member run=2"))
	w, err := run(t, h, args(log, map[string]cty.Value{
		"from":         c.Result.GetAttr("log_cursor"),
		"patterns":     strs(`Became CEP HA Active Member run=(?P<run>\d+)`),
		"wait_timeout": cty.StringVal("20s"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if run := w.Result.GetAttr("captures").Index(cty.StringVal("run")).AsString(); run != "2" {
		t.Fatalf("matched run=%s, want the line after the cursor", run)
	}
	if n := w.Result.GetAttr("lines_read").AsBigFloat().String(); n != "2" {
		t.Fatalf("read %s lines, want the 2 after the cursor", n)
	}
}

// crossHost is the shape log_cursor is for: the cursor is taken on n2, a task on n1 makes n2
// log something (here it writes the line itself), and the wait on n2 reads from the cursor.
const crossHost = `
play "failover" {
  hosts = "all"

  task "log_cursor" "before" {
    when     = host.name == "n2"
    path     = host.vars.log
    register = "before"
  }
  task "command" "act" {
    when  = host.name == "n1"
    argv  = ["sh", "-c", "printf '%s\\n' 'Became CEP HA Active Member run=2' >> \"$1\"", "sh", "${host.vars.peer_log}"]
  }
  task "wait_log" "taken over" {
    when         = host.name == "n2"
    path         = host.vars.log
    from         = result.before.log_cursor
    patterns     = ["Became CEP HA Active Member run=(?P<run>\\d+)"]
    wait_timeout = "20s"
    register     = "taken_over"
  }
  task "assert" "the new line" {
    when      = host.name == "n2"
    condition = result.taken_over.captures.run == "2"
    message   = "the wait matched a line written before the cursor"
  }
}
`

// TestLogCursorAcrossHosts runs crossHost through the engine: the plan shows the cursor and
// the wait as known after apply; the apply waits on n2 for the line n1's task wrote.
func TestLogCursorAcrossHosts(t *testing.T) {
	dir := t.TempDir()
	log1, log2 := filepath.Join(dir, "n1.log"), filepath.Join(dir, "n2.log")
	appendFile(t, log1, carbonLine("INFO", "WSO2 Carbon started in 9 sec"))
	appendFile(t, log2, carbonLine("INFO", "Became CEP HA Active Member run=1"))
	inv := fmt.Sprintf("host \"n1\" {\n  connection = \"local\"\n  state_dir = %q\n  vars = { log = %q, peer_log = %q }\n}\n"+
		"host \"n2\" {\n  connection = \"local\"\n  state_dir = %q\n  vars = { log = %q, peer_log = %q }\n}\n",
		filepath.Join(dir, "s1"), log1, log2, filepath.Join(dir, "s2"), log2, log1)
	for name, body := range map[string]string{"hosts.hcl": inv, "pb.hcl": crossHost} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := engine.NewRegistry()
	reg.Register(NameCursor, CursorModule{})
	reg.Register(Name, Module{})
	reg.Register(command.Name, command.Module{})
	reg.Register(assert.Name, assert.Module{})
	p := hclparse.NewParser()
	pb, diags := engine.LoadPlaybook(p, filepath.Join(dir, "pb.hcl"), reg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	in, diags := inventory.Load(p, filepath.Join(dir, "hosts.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	red := engine.NewRedactor()
	vars, diags := engine.ResolveVariables(p, pb, engine.VarInputs{Env: []string{}}, red)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	config := func() engine.Config {
		return engine.Config{Playbook: pb, Inventory: in, Registry: reg, Vars: vars, Redactor: red, RunID: "run1",
			Conns: engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return local.New(), nil })}
	}
	ctx := context.Background()

	plan, err := engine.PlanRun(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]engine.Status{}
	for _, e := range plan.Entries {
		status[e.Host+": "+e.Task] = e.Status
	}
	for _, k := range []string{"n2: before", "n2: taken over"} {
		if status[k] != engine.StatusUnknown {
			t.Errorf("plan: %s is %s, want known after apply", k, status[k])
		}
	}

	applied, err := engine.ApplyRun(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]engine.Status{"n2: before": engine.StatusInSync, "n1: act": engine.StatusChange, "n2: taken over": engine.StatusChange, "n2: the new line": engine.StatusInSync}
	for _, e := range applied.Entries {
		if w, ok := want[e.Host+": "+e.Task]; ok && e.Status != w {
			t.Errorf("apply: %s on %s is %s, want %s (%s)", e.Task, e.Host, e.Status, w, e.Error)
		}
	}
	data, err := os.ReadFile(log2)
	if err != nil || !strings.HasSuffix(string(data), "run=2\n") {
		t.Fatalf("n1's task did not write n2's line: %q %v", data, err)
	}
}
