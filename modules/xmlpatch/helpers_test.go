package xmlpatch

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/xml/golden")

// repoTestdata returns <repo>/testdata/xml.
func repoTestdata(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "testdata", "xml"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// copyFile copies src to a fresh temporary directory with the given mode and returns its path.
func copyFile(t testing.TB, src string, mode os.FileMode) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil {
		t.Fatal(err)
	}
	return dst
}

func newHost(t testing.TB, secrets ...string) *engine.Host {
	r := engine.NewRedactor()
	for _, s := range secrets {
		r.Add(s)
	}
	return engine.NewHost("n1", local.New(), "run1", t.TempDir(), r)
}

// blk builds a nested block from string, number and bool values.
func blk(typ string, kv ...any) *engine.Args {
	m := map[string]cty.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			m[k] = cty.StringVal(v)
		case int:
			m[k] = cty.NumberIntVal(int64(v))
		case bool:
			m[k] = cty.BoolVal(v)
		}
	}
	return engine.NewArgs(typ, m)
}

func task(path string, ns map[string]string, blocks ...*engine.Args) *engine.Args {
	m := map[string]cty.Value{"path": cty.StringVal(path)}
	if len(ns) > 0 {
		nv := map[string]cty.Value{}
		for k, v := range ns {
			nv[k] = cty.StringVal(v)
		}
		m["namespaces"] = cty.MapVal(nv)
	}
	return engine.NewArgs(Name, m, blocks...)
}

func check(t testing.TB, h *engine.Host, a *engine.Args) *engine.Change {
	t.Helper()
	c, err := Module{}.Check(context.Background(), h, a)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return c
}
