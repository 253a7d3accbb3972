package engine_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite golden files")

// appendLine is a small test module: it ensures a line at the end of a file, reading through
// the plan overlay, so the engine's sequencing can be tested on its own.
type appendLine struct{}

func (appendLine) Schema() engine.Schema {
	return engine.Schema{
		Description: "Test module: appends a line to a file.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, HostFile: true, Description: "file"},
			{Name: "line", Type: cty.String, Required: true, Description: "line"},
			{Name: "fail_apply", Type: cty.Bool, Description: "fail in Apply"},
		},
		Example: `task "append_line" "x" {
  path = "/tmp/x"
  line = "y"
}`,
	}
}

type appendPrivate struct {
	path string
	data []byte
	fail bool
}

func (appendLine) Check(ctx context.Context, h *engine.Host, a *engine.Args) (*engine.Change, error) {
	p := a.String("path")
	fi, old, err := h.ReadFile(ctx, p)
	if err != nil {
		return nil, err
	}
	line := a.String("line")
	if bytes.Contains(old, []byte(line+"\n")) {
		return &engine.Change{Action: engine.ActionNone, Summary: "line present"}, nil
	}
	data := append(append(append([]byte{}, old...), line...), '\n')
	act := engine.ActionUpdate
	if !fi.Exists {
		act = engine.ActionCreate
	}
	return &engine.Change{
		Action: act, Summary: "append to " + p,
		Diff:        engine.Diff(p, string(old), string(data)),
		Fingerprint: fi.SHA256,
		Undo:        engine.NewUndo("append_line", h.NewFileUndo(fi, engine.SHA256(data))),
		Effects:     []engine.Effect{{Kind: engine.EffectFile, Path: p, Data: data, Mode: 0o644}},
		Private:     appendPrivate{p, data, a.Bool("fail_apply")},
		Result:      cty.ObjectVal(map[string]cty.Value{"lines": cty.NumberIntVal(int64(bytes.Count(data, []byte("\n"))))}),
	}, nil
}

func (appendLine) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	p := c.Private.(appendPrivate)
	if p.fail {
		return fmt.Errorf("apply failed on purpose")
	}
	var u engine.FileUndo
	c.Undo.Decode(&u)
	if err := h.SaveBackup(ctx, u); err != nil {
		return err
	}
	return h.WriteFile(ctx, p.path, p.data, conn.WriteOptions{Mode: 0o644, UID: -1, GID: -1})
}

func (appendLine) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var fu engine.FileUndo
	if err := u.Decode(&fu); err != nil {
		return err
	}
	return h.RestoreFile(ctx, fu)
}

// mkdir is a test module that creates a directory.
type mkdir struct{}

func (mkdir) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: makes a directory.",
		Attrs: []engine.Attr{{Name: "path", Type: cty.String, Required: true, Description: "dir"}}}
}

func (mkdir) Check(ctx context.Context, h *engine.Host, a *engine.Args) (*engine.Change, error) {
	p := a.String("path")
	fi, err := h.Stat(ctx, []string{p}, false)
	if err != nil {
		return nil, err
	}
	if fi[0].Exists {
		return &engine.Change{Action: engine.ActionNone, Summary: "exists"}, nil
	}
	return &engine.Change{Action: engine.ActionCreate, Summary: "mkdir " + p, Private: p,
		Effects: []engine.Effect{{Kind: engine.EffectDir, Path: p, Mode: 0o755}}}, nil
}

func (mkdir) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	return h.Exec(ctx, "mkdir -p "+conn.Quote(c.Private.(string)))
}

func (mkdir) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error { return nil }

func testRegistry() *engine.Registry {
	r := engine.NewRegistry()
	r.Register("append_line", appendLine{})
	r.Register("mkdir", mkdir{})
	r.Register("probe", probe{})
	r.Register("stat_path", statPath{})
	r.Register("put_file", putFile{})
	r.Register("shell_run", shellRun{})
	r.Register("read_blocks", readBlocks{})
	r.Register("held_file", heldFile{})
	r.Register("blind_file", blindFile{})
	r.Register("gate", gate{})
	r.Register("service_call", serviceCall{})
	return r
}

// fixture is a playbook and an inventory of local hosts written into a temp dir.
type fixture struct {
	dir    string
	parser *hclparse.Parser
	pb     *engine.Playbook
	inv    *inventory.Inventory
	vars   map[string]cty.Value
	red    *engine.Redactor
}

func newFixture(t *testing.T, playbook string, hosts int, in engine.VarInputs) *fixture {
	t.Helper()
	return newFixtureFiles(t, playbook, hosts, in, nil)
}

// newFixtureFiles is newFixture with extra files (components, templates) written first.
func newFixtureFiles(t *testing.T, playbook string, hosts int, in engine.VarInputs, files map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		write(t, filepath.Join(dir, name), content)
	}
	var inv strings.Builder
	for i := 1; i <= hosts; i++ {
		fmt.Fprintf(&inv, "host \"n%d\" {\n  connection = \"local\"\n  groups = [\"app\"]\n  state_dir = \"%s/state-n%d\"\n  vars = { ip = \"10.0.0.%d\", root = \"%s/n%d\" }\n}\n", i, dir, i, i, dir, i)
		os.MkdirAll(filepath.Join(dir, fmt.Sprintf("n%d", i)), 0o755)
	}
	write(t, filepath.Join(dir, "hosts.hcl"), inv.String())
	write(t, filepath.Join(dir, "pb.hcl"), playbook)
	f := &fixture{dir: dir, parser: hclparse.NewParser(), red: engine.NewRedactor()}
	var diags hcl.Diagnostics
	f.pb, diags = engine.LoadPlaybook(f.parser, filepath.Join(dir, "pb.hcl"), testRegistry())
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags)
	}
	f.inv, diags = inventory.Load(f.parser, filepath.Join(dir, "hosts.hcl"))
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diags)
	}
	if in.Env == nil {
		in.Env = []string{}
	}
	f.vars, diags = engine.ResolveVariables(f.parser, f.pb, in, f.red)
	if diags.HasErrors() {
		t.Fatalf("vars: %s", diags)
	}
	return f
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) config() engine.Config {
	return engine.Config{Playbook: f.pb, Inventory: f.inv, Registry: testRegistry(), Vars: f.vars, Redactor: f.red,
		Conns: engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return local.New(), nil })}
}

func (f *fixture) plan(t *testing.T) *engine.Plan {
	t.Helper()
	p, err := engine.PlanRun(context.Background(), f.config())
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func (f *fixture) render(t *testing.T, p *engine.Plan, applied bool) string {
	var b strings.Builder
	if err := engine.RenderText(&b, p, engine.TextOptions{Applied: applied}); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(b.String(), f.dir, "$DIR")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden (run go test -update and review):\n%s", name, engine.Diff(name, string(want), got))
	}
}

// recorder is an in-memory journal.
type recorder struct {
	mu      sync.Mutex
	intents []engine.Record
	done    int
}

func (r *recorder) Intent(rec engine.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.intents = append(r.intents, rec)
	return nil
}

func (r *recorder) Done(rec engine.Record, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	return nil
}
