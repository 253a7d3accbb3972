package engine_test

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
	"github.com/zclconf/go-cty/cty"
)

// inSync is a module whose Check does no I/O, to measure the engine alone.
type inSync struct{}

func (inSync) Schema() engine.Schema {
	return engine.Schema{Description: "Bench module: always in sync.",
		Attrs: []engine.Attr{{Name: "value", Type: cty.String, Required: true, Description: "v"}}}
}
func (inSync) Check(context.Context, *engine.Host, *engine.Args) (*engine.Change, error) {
	return &engine.Change{Action: engine.ActionNone, Summary: "in sync"}, nil
}
func (inSync) Apply(context.Context, *engine.Host, *engine.Change) error { return nil }
func (inSync) Revert(context.Context, *engine.Host, engine.Undo) error   { return nil }

// BenchmarkPlan plans 20 tasks on 1,000 local hosts: "engine" with a module that does no I/O
// (the engine's own cost: evaluation, scheduling, results), "files" with a module that reads a
// file per task through the local connection and plans a diff.
func BenchmarkPlan(b *testing.B) {
	for _, kind := range []string{"engine", "files"} {
		b.Run(kind+"/20tasks-1000hosts", func(b *testing.B) {
			dir := b.TempDir()
			var inv, pb strings.Builder
			for i := 0; i < 1000; i++ {
				fmt.Fprintf(&inv, "host \"n%d\" {\n  connection = \"local\"\n  groups = [\"app\"]\n  vars = { ip = \"10.0.%d.%d\" }\n}\n", i, i/250, i%250)
			}
			pb.WriteString("variable \"home\" {\n  default = \"" + dir + "\"\n}\nplay \"p\" {\n  hosts = \"app\"\n")
			for t := 0; t < 20; t++ {
				if kind == "engine" {
					fmt.Fprintf(&pb, "  task \"in_sync\" \"t%d\" {\n    value = \"${var.home}/${host.name}/${host.vars.ip}-%d\"\n  }\n", t, t)
				} else {
					fmt.Fprintf(&pb, "  task \"append_line\" \"t%d\" {\n    path = \"${var.home}/f%d\"\n    line = \"k%d = ${host.vars.ip}\"\n  }\n", t, t%5, t)
				}
			}
			pb.WriteString("}\n")
			for i := 0; i < 5; i++ {
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte(strings.Repeat("some.key = value\n", 40)), 0o644)
			}
			os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte(inv.String()), 0o644)
			os.WriteFile(filepath.Join(dir, "pb.hcl"), []byte(pb.String()), 0o644)
			reg := testRegistry()
			reg.Register("in_sync", inSync{})
			p := hclparse.NewParser()
			playbook, diags := engine.LoadPlaybook(p, filepath.Join(dir, "pb.hcl"), reg)
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			invent, diags := inventory.Load(p, filepath.Join(dir, "hosts.hcl"))
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			vars, diags := engine.ResolveVariables(p, playbook, engine.VarInputs{Env: []string{}}, nil)
			if diags.HasErrors() {
				b.Fatal(diags)
			}
			lc := local.New()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cfg := engine.Config{Playbook: playbook, Inventory: invent, Registry: reg, Vars: vars,
					Conns: engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return lc, nil })}
				plan, err := engine.PlanRun(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if len(plan.Entries) != 20000 {
					b.Fatalf("%d entries", len(plan.Entries))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/20000, "µs/task-host")
		})
	}
}
