package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/modules/assert"
	"github.com/isaplay/isaplay/modules/command"
	"github.com/isaplay/isaplay/modules/httpcheck"
	"github.com/isaplay/isaplay/modules/logcompare"
	"github.com/isaplay/isaplay/modules/svndepsync"
	"github.com/isaplay/isaplay/modules/waitlog"
)

// TestSchemaExamples loads every example of this helper's modules into one playbook, in an
// order where each example's references (result.start_an1, results.spark_master) exist, and
// validates it with the engine: arguments, types and the modules' own validation.
func TestSchemaExamples(t *testing.T) {
	mods := []struct {
		name string
		mod  engine.Module
	}{
		{NameStart, StartModule{}}, {waitlog.Name, waitlog.Module{}}, {httpcheck.Name, httpcheck.Module{}}, {assert.Name, assert.Module{}},
		{logcompare.Name, logcompare.Module{}}, {command.Name, command.Module{}}, {svndepsync.Name, svndepsync.Module{}}, {NameStop, StopModule{}},
	}
	reg := engine.NewRegistry()
	var pb strings.Builder
	pb.WriteString("variable \"an_home\" {\n  type    = string\n  default = \"/opt/wso2/wso2is-analytics-5.6.0\"\n}\n\nplay \"examples\" {\n  hosts = \"all\"\n")
	for _, m := range mods {
		reg.Register(m.name, m.mod)
		ex := m.mod.Schema().Example
		if !strings.HasPrefix(ex, "task \""+m.name+"\" ") {
			t.Fatalf("%s: example is not a %s task block:\n%s", m.name, m.name, ex)
		}
		pb.WriteString(ex + "\n")
	}
	pb.WriteString("}\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pb.hcl"), []byte(pb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := "host \"an1\" {\n  address = \"10.0.0.11\"\n}\nhost \"an2\" {\n  address = \"10.0.0.12\"\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	p := hclparse.NewParser()
	playbook, diags := engine.LoadPlaybook(p, filepath.Join(dir, "pb.hcl"), reg)
	if diags.HasErrors() {
		t.Fatalf("load:\n%s\n%s", diags, pb.String())
	}
	in, diags := inventory.Load(p, filepath.Join(dir, "hosts.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	red := engine.NewRedactor()
	vars, diags := engine.ResolveVariables(p, playbook, engine.VarInputs{Env: []string{}}, red)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if diags := engine.Validate(context.Background(), engine.Config{Playbook: playbook, Inventory: in, Registry: reg, Vars: vars, Redactor: red}); diags.HasErrors() {
		t.Fatalf("validate:\n%s\n%s", diags, pb.String())
	}
}

// TestSchemaRejectsUnknownArguments makes sure the examples test above can fail: a misspelt
// argument of one of these modules is a load error at its line.
func TestSchemaRejectsUnknownArguments(t *testing.T) {
	reg := engine.NewRegistry()
	reg.Register(waitlog.Name, waitlog.Module{})
	dir := t.TempDir()
	src := "play \"p\" {\n  hosts = \"all\"\n  task \"wait_log\" \"w\" {\n    path = \"/x\"\n    patterns = [\"a\"]\n    timeout_s = \"5s\"\n  }\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "pb.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags := engine.LoadPlaybook(hclparse.NewParser(), filepath.Join(dir, "pb.hcl"), reg)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "pb.hcl:6,") {
		t.Fatalf("want an error at line 6, got %v", diags)
	}
}
