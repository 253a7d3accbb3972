package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/zclconf/go-cty/cty"
)

// probe reports, in its summary, what Host.TaskChanged says of the tasks it names.
type probe struct{}

func (probe) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: reports TaskChanged.",
		Attrs: []engine.Attr{{Name: "tasks", Type: cty.List(cty.String), Required: true, Description: "names"}}}
}

func (probe) Check(ctx context.Context, h *engine.Host, a *engine.Args) (*engine.Change, error) {
	var parts []string
	for _, n := range a.Strings("tasks") {
		changed, known := h.TaskChanged(n)
		parts = append(parts, fmt.Sprintf("%s=%v/%v", n, changed, known))
	}
	return &engine.Change{Action: engine.ActionRun, Summary: strings.Join(parts, " ")}, nil
}
func (probe) Apply(context.Context, *engine.Host, *engine.Change) error { return nil }
func (probe) Revert(context.Context, *engine.Host, engine.Undo) error   { return nil }

// Host.TaskChanged (restart_on_change) tells whether an earlier task changed this host.
func TestTaskChanged(t *testing.T) {
	f := newFixture(t, `
play "conf" {
  hosts = "app"
  task "append_line" "edit" {
    path = "${host.vars.root}/f"
    line = "x"
    when = host.index == 0
  }
}
play "start" {
  hosts = "app"
  task "probe" "restart?" {
    tasks = ["edit", "conf/edit", "nope"]
  }
}`, 2, engine.VarInputs{})
	p, err := engine.PlanRun(context.Background(), f.config())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"n1": "edit=true/true conf/edit=true/true nope=false/false",
		"n2": "edit=false/true conf/edit=false/true nope=false/false",
	}
	for _, e := range p.Entries {
		if e.Task == "restart?" && e.Change.Summary != want[e.Host] {
			t.Errorf("%s: %q, want %q", e.Host, e.Change.Summary, want[e.Host])
		}
	}
}

// A skipped task registers {changed = false, skipped = true}; validate does not check the
// arguments of a task whose condition is known false; has_group tells optional groups apart.
func TestSkippedTasksAndOptionalParts(t *testing.T) {
	f := newFixture(t, `
variable "extra" {
  type    = string
  default = null
}
play "p" {
  hosts = "app"
  task "append_line" "optional" {
    path     = var.extra
    line     = "x"
    when     = var.extra != null && has_group("app") && !has_group("nope")
    register = "opt"
  }
  task "append_line" "after" {
    path = "${host.vars.root}/f"
    line = "skipped=${result.opt.skipped}"
  }
}`, 1, engine.VarInputs{})
	if diags := engine.Validate(context.Background(), f.config()); diags.HasErrors() {
		t.Fatalf("validate checked a switched-off task: %s", diags)
	}
	p := f.plan(t)
	out := f.render(t, p, false)
	if !strings.Contains(out, "+skipped=true") || !strings.Contains(out, ". p / optional (append_line): skipped") {
		t.Errorf("plan:\n%s", out)
	}
}
