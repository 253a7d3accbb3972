package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
)

var hclBlock = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// Every HCL example in the README parses: inventories load, components load when included,
// playbooks load and validate against the README's own inventory.
func TestREADMEExamples(t *testing.T) {
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := hclBlock.FindAllStringSubmatch(string(src), -1)
	if len(blocks) < 4 {
		t.Fatalf("found %d hcl examples in the README", len(blocks))
	}
	dir := t.TempDir()
	var inventories, components, playbooks []string
	for _, b := range blocks {
		body := b[1]
		switch {
		case regexp.MustCompile(`(?m)^(defaults|host) `).MatchString(body):
			inventories = append(inventories, body)
		case regexp.MustCompile(`(?m)^task "`).MatchString(body):
			components = append(components, body)
		default:
			playbooks = append(playbooks, body)
		}
	}
	if len(inventories) == 0 || len(components) == 0 || len(playbooks) == 0 {
		t.Fatalf("examples: %d inventories, %d components, %d playbooks", len(inventories), len(components), len(playbooks))
	}
	p := hclparse.NewParser()
	var inv *inventory.Inventory
	for i, body := range inventories {
		var diags hcl.Diagnostics
		inv, diags = inventory.LoadBytes(p, []byte(body), "README inventory")
		if diags.HasErrors() {
			t.Errorf("inventory example %d: %s", i, diags)
		}
	}
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	for _, body := range components {
		os.WriteFile(filepath.Join(dir, "lib", "carbon-hazelcast.hcl"), []byte(body), 0o644)
	}
	for i, body := range playbooks {
		path := filepath.Join(dir, "pb.hcl")
		os.WriteFile(path, []byte(body), 0o644)
		checkPlaybook(t, p, path, inv, i)
	}
}

// Every module's Example is a valid task for its module.
func TestModuleExamples(t *testing.T) {
	reg := builtinRegistry()
	dir := t.TempDir()
	inv, _ := inventory.LoadBytes(hclparse.NewParser(), []byte(`host "n1" {
  connection = "local"
}`), "inventory")
	for _, name := range reg.Names() {
		m, _ := reg.Lookup(name)
		ex := m.Schema().Example
		if !strings.Contains(ex, `task "`+name+`"`) {
			t.Errorf("%s: Example is not a %s task block:\n%s", name, name, ex)
			continue
		}
		path := filepath.Join(dir, name+".hcl")
		os.WriteFile(path, []byte("play \"p\" {\n  hosts = \"all\"\n"+ex+"\n}\n"), 0o644)
		pb, diags := engine.LoadPlaybook(hclparse.NewParser(), path, reg)
		if diags.HasErrors() {
			t.Errorf("%s example: %s", name, diags)
			continue
		}
		if len(pb.Plays) != 1 || len(pb.Plays[0].Tasks) != 1 {
			t.Errorf("%s example: %d plays", name, len(pb.Plays))
		}
		_ = inv
	}
}

func checkPlaybook(t *testing.T, p *hclparse.Parser, path string, inv *inventory.Inventory, i int) {
	t.Helper()
	reg := builtinRegistry()
	pb, diags := engine.LoadPlaybook(p, path, reg)
	if diags.HasErrors() {
		t.Errorf("playbook example %d: %s", i, diags)
		return
	}
	vars, diags := engine.ResolveVariables(p, pb, engine.VarInputs{Env: []string{}, AllowUnknown: true}, nil)
	if diags.HasErrors() {
		t.Errorf("playbook example %d: %s", i, diags)
		return
	}
	diags = engine.Validate(context.Background(), engine.Config{Playbook: pb, Inventory: inv, Registry: reg, Vars: vars})
	if diags.HasErrors() {
		t.Errorf("playbook example %d does not validate: %s", i, diags)
	}
}
