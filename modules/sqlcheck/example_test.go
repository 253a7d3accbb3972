package sqlcheck

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
)

// TestSchemaExample loads the schema's example through the engine's playbook loader.
func TestSchemaExample(t *testing.T) {
	reg := engine.NewRegistry()
	reg.Register(Name, Module{})
	pb := `variable "db_root_pass" { sensitive = true }
play "db" {
  hosts = "db"
` + Module{}.Schema().Example + `
}
`
	p := filepath.Join(t.TempDir(), "pb.hcl")
	if err := os.WriteFile(p, []byte(pb), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, diags := engine.LoadPlaybook(hclparse.NewParser(), p, reg); diags.HasErrors() {
		t.Fatalf("example does not load: %v", diags)
	}
}
