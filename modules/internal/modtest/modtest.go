// Package modtest runs a module through plan, apply, re-check and revert on the local
// connection, for the file modules' tests, and compares golden files.
package modtest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// Counting is a local connection that counts round trips (Run, Stat, ReadFile, WriteFile).
type Counting struct {
	*local.Conn
	n atomic.Int64
}

// Trips returns how many round trips were made so far.
func (c *Counting) Trips() int { return int(c.n.Load()) }

// Run counts and runs.
func (c *Counting) Run(ctx context.Context, cmd conn.Command) (conn.Result, error) {
	c.n.Add(1)
	return c.Conn.Run(ctx, cmd)
}

// Stat counts and stats.
func (c *Counting) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	c.n.Add(1)
	return c.Conn.Stat(ctx, paths, hash)
}

// ReadFile counts and reads.
func (c *Counting) ReadFile(ctx context.Context, p string, become bool) (conn.FileInfo, []byte, error) {
	c.n.Add(1)
	return c.Conn.ReadFile(ctx, p, become)
}

// Host returns a host over a counting local connection with its state directory in a temp dir.
func Host(t testing.TB) *engine.Host {
	t.Helper()
	return engine.NewHost("n1", &Counting{Conn: local.New()}, "run1", t.TempDir(), nil)
}

// Plan runs Check while planning and fails the test on error, or when Check made more than one
// round trip to the host (one more when owner or group are names the host must resolve, and one
// more for the file module creating a new file, whose directory it checks).
func Plan(t testing.TB, h *engine.Host, m engine.Module, args *engine.Args) *engine.Change {
	t.Helper()
	cc, _ := h.Conn().(*Counting)
	before := 0
	if cc != nil {
		before = cc.Trips()
	}
	c, err := m.Check(context.Background(), h.Planning(), args)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if cc != nil {
		allowed := 1
		for _, a := range []string{"owner", "group"} {
			if _, err := strconv.Atoi(args.String(a)); args.String(a) != "" && err != nil {
				allowed = 2
			}
		}
		if args.Type == "file" && args.String("state") != "directory" {
			allowed++
		}
		if n := cc.Trips() - before; n > allowed {
			t.Errorf("check made %d round trips, want at most %d", n, allowed)
		}
	}
	return c
}

// Apply runs Check then Apply for real, and returns the change.
func Apply(t testing.TB, h *engine.Host, m engine.Module, args *engine.Args) *engine.Change {
	t.Helper()
	ctx := context.Background()
	c, err := m.Check(ctx, h, args)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if c.Action == engine.ActionNone {
		return c
	}
	if err := m.Apply(ctx, h, c); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return c
}

// InSync fails the test unless a fresh Check reports no change.
func InSync(t testing.TB, h *engine.Host, m engine.Module, args *engine.Args) {
	t.Helper()
	c := Plan(t, h, m, args)
	if c.Action != engine.ActionNone {
		t.Fatalf("second check is not in sync: %s %s\n%s", c.Action, c.Summary, c.Diff)
	}
}

// Revert reverts c twice (it must be idempotent) and fails the test on error.
func Revert(t testing.TB, h *engine.Host, m engine.Module, c *engine.Change) {
	t.Helper()
	for i := 0; i < 2; i++ {
		if err := m.Revert(context.Background(), h, c.Undo); err != nil {
			t.Fatalf("revert #%d: %v", i+1, err)
		}
	}
}

// ChangedLines counts the removed and added lines of a unified diff.
func ChangedLines(diff string) (removed, added int) {
	inBody := false
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "@@"):
			inBody = true
		case !inBody:
		case strings.HasPrefix(l, "-"):
			removed++
		case strings.HasPrefix(l, "+"):
			added++
		}
	}
	return removed, added
}

// LineDiff counts the lines in which a and b differ, by a plain unified diff of the bytes.
func LineDiff(path string, a, b []byte) (removed, added int) {
	return ChangedLines(engine.Diff(path, string(a), string(b)))
}

// FileIs fails the test unless the file at p holds want with permission bits mode.
func FileIs(t testing.TB, p string, want []byte, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s: bytes differ from the expected ones:\n%s", p, engine.Diff(p, string(want), string(got)))
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode {
		t.Fatalf("%s: mode %04o, want %04o", p, st.Mode().Perm(), mode)
	}
}

// Golden compares got with testdata/<name>.golden, rewriting it under -update. Temporary
// directory names in got should be replaced by the caller first.
func Golden(t testing.TB, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs (run with -update to accept):\n%s", p, engine.Diff(p, string(want), got))
	}
}

// ExampleArgs parses a schema's Example, checks it is one task block of type name with only the
// schema's arguments, and evaluates them (var.an_home, host.address, host.index and host.name are
// defined) into Args for the module's Validate.
func ExampleArgs(t testing.TB, name string, s engine.Schema) *engine.Args {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(s.Example), "example.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("example does not parse: %v", diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "task", LabelNames: []string{"type", "name"}}}})
	if diags.HasErrors() || len(content.Blocks) != 1 || content.Blocks[0].Labels[0] != name {
		t.Fatalf("example is not one task %q block: %v", name, diags)
	}
	bs := &hcl.BodySchema{}
	for _, a := range s.Attrs {
		bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	body, diags := content.Blocks[0].Body.Content(bs)
	if diags.HasErrors() {
		t.Fatalf("example arguments: %v", diags)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var":  cty.ObjectVal(map[string]cty.Value{"an_home": cty.StringVal("/opt/wso2/wso2is-analytics-5.6.0")}),
		"host": cty.ObjectVal(map[string]cty.Value{"address": cty.StringVal("10.0.0.11"), "index": cty.NumberIntVal(0), "name": cty.StringVal("an1")}),
	}}
	vals := map[string]cty.Value{}
	for _, a := range s.Attrs {
		attr, ok := body.Attributes[a.Name]
		if !ok {
			continue
		}
		v, diags := attr.Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("example %s: %v", a.Name, diags)
		}
		v, err := convert.Convert(v, a.Type)
		if err != nil {
			t.Fatalf("example %s: %v", a.Name, err)
		}
		vals[a.Name] = v
	}
	return engine.NewArgs(name, vals)
}
