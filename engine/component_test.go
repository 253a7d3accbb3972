package engine_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
)

func TestComponents(t *testing.T) {
	f := newFixtureFiles(t, `
variable "pw" {
  type      = string
  sensitive = true
  default   = "comp-secret-1"
}
play "p" {
  hosts = "app"
  include "conf" {
    source = "lib/conf"
    root   = host.vars.root
    ip     = host.vars.ip
    pw     = var.pw
  }
  include "skipped" {
    source = "lib/conf"
    root   = host.vars.root
    ip     = "none"
    pw     = "x"
    when   = host.index > 5
  }
}`, 2, engine.VarInputs{}, map[string]string{
		"lib/conf/main.hcl": `
variable "root" { type = string }
variable "ip" { type = string }
variable "port" {
  type    = number
  default = 4000
}
variable "pw" {
  type      = string
  sensitive = true
}
locals {
  member = "${var.ip}:${var.port}"
}
task "append_line" "member" {
  path = "${var.root}/members"
  line = templatefile("member.tmpl", { member = local.member })
}
task "append_line" "password" {
  path = "${var.root}/secret"
  line = "password=${var.pw}"
}
include "inner" {
  source = "../inner/inner.hcl"
  path   = "${var.root}/inner"
}
`,
		"lib/conf/member.tmpl": "member ${member} at $${carbon.home}",
		"lib/inner/inner.hcl": `
variable "path" { type = string }
task "append_line" "inner" {
  path = var.path
  line = "inner"
}
`})
	plan := f.plan(t)
	out := f.render(t, plan, false)
	for _, want := range []string{
		"+ p / conf / member (append_line): will change",
		"+member 10.0.0.1:4000 at ${carbon.home}",
		"+member 10.0.0.2:4000 at ${carbon.home}",
		"+password=" + engine.Mask,
		"+ p / conf / inner / inner (append_line): will change",
		". p / skipped / member (append_line): skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "comp-secret-1") {
		t.Errorf("plan shows the secret:\n%s", out)
	}
}

func TestComponentErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "c.hcl"), `
variable "need" { type = string }
task "append_line" "x" {
  path = var.need
  line = "x"
}
`)
	for _, tc := range []struct{ body, want string }{
		{`include "a" {
    source = "c.hcl"
    need = "x"
    nede = "y"
  }`, `pb.hcl:6:5: Unsupported argument`},
		{`include "a" {
    source = "c.hcl"
  }`, `Missing input`},
		{`include "a" {
    source = "nope.hcl"
  }`, `Component not found`},
	} {
		write(t, filepath.Join(dir, "pb.hcl"), "play \"p\" {\n  hosts = \"all\"\n  "+tc.body+"\n}\n")
		_, diags := engine.LoadPlaybook(hclparse.NewParser(), filepath.Join(dir, "pb.hcl"), testRegistry())
		got := ""
		for _, d := range diags {
			got += d.Summary + ";"
			if d.Subject != nil {
				got += d.Subject.String() + ";"
			}
		}
		if !diags.HasErrors() || !strings.Contains(strings.ReplaceAll(got, dir+"/", ""), strings.SplitN(tc.want, ": ", 2)[len(strings.SplitN(tc.want, ": ", 2))-1]) {
			t.Errorf("diags %q, want %q", got, tc.want)
		}
	}
}

// A task inside a component sees the results registered before it, though the component's
// inputs read none (their evaluation is kept across registrations).
func TestComponentTaskSeesFreshResults(t *testing.T) {
	f := newFixtureFiles(t, `
play "p" {
  hosts = "app"
  include "c" {
    source = "lib/c.hcl"
    root   = host.vars.root
  }
}`, 1, engine.VarInputs{}, map[string]string{
		"lib/c.hcl": `
variable "root" { type = string }
task "append_line" "first" {
  path     = "${var.root}/a"
  line     = "a"
  register = "first"
}
task "append_line" "after first" {
  when = result.first.lines == 1
  path = "${var.root}/b"
  line = "b"
}
`})
	out := f.render(t, f.plan(t), false)
	if !strings.Contains(out, "+ p / c / after first (append_line): will change") {
		t.Errorf("the second task did not see the first's result:\n%s", out)
	}
}

// A task of an include whose condition is false is skipped without evaluating the component's
// inputs (here one would fail: the result it reads does not exist), and its register name, made
// from an input through a local, still records it as skipped for later tasks.
func TestIncludeOffEvaluatesNoInputs(t *testing.T) {
	f := newFixtureFiles(t, `
play "p" {
  hosts = "app"
  include "off" {
    source = "lib/c.hcl"
    when   = false
    prefix = "off"
    path   = result.nothing.path
  }
  task "append_line" "after off" {
    when = result.off_line.skipped
    path = "${host.vars.root}/after"
    line = "after"
  }
}`, 1, engine.VarInputs{}, map[string]string{
		"lib/c.hcl": `
variable "prefix" { type = string }
variable "path" { type = string }
locals {
  reg = "${var.prefix}_line"
}
task "append_line" "line" {
  path     = var.path
  line     = "x"
  register = local.reg
}
`})
	out := f.render(t, f.plan(t), false)
	for _, want := range []string{
		". p / off / line (append_line): skipped",
		"+ p / after off (append_line): will change",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}

// A register name that is not an identifier is refused at the argument, whether the task runs
// or is switched off by its include's condition (its name is then evaluated on its own).
func TestInvalidRegisterName(t *testing.T) {
	for _, tc := range []struct {
		name, when string
	}{
		{"task runs", "true"},
		{"include off", "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureFiles(t, `
play "p" {
  hosts = "app"
  include "c" {
    source = "lib/c.hcl"
    when   = `+tc.when+`
    reg    = "not a name"
  }
}`, 1, engine.VarInputs{}, map[string]string{
				"lib/c.hcl": `
variable "reg" { type = string }
task "append_line" "line" {
  path     = "${host.vars.root}/x"
  line     = "x"
  register = var.reg
}
`})
			_, err := engine.PlanRun(context.Background(), f.config())
			if err == nil || !strings.Contains(err.Error(), "c.hcl:6:14: Invalid register name") {
				t.Errorf("err = %v, want an invalid register name at lib/c.hcl:6", err)
			}
		})
	}
}
