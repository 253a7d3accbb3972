package assert

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

func TestAssert(t *testing.T) {
	tests := []struct {
		name       string
		cond       cty.Value
		wantAction engine.Action
		wantErr    string
	}{
		{"true", cty.True, engine.ActionNone, ""},
		{"false", cty.False, "", "assertion failed on an1: JAVA_HOME must be set"},
		{"unknown", cty.UnknownVal(cty.Bool), engine.ActionRun, ""},
		{"null", cty.NullVal(cty.Bool), "", "condition is null"},
		{"not a bool", cty.StringVal("yes"), "", "condition is a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
			c, err := Module{}.Check(context.Background(), h.Planning(), engine.NewArgs(Name, map[string]cty.Value{
				"condition": tt.cond, "message": cty.StringVal("JAVA_HOME must be set")}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil || c.Action != tt.wantAction {
				t.Fatalf("got %+v, %v", c, err)
			}
		})
	}
}

// TestCrossHostAssertions evaluates the documented cross-host conditions the way the engine
// does (HCL expression over results.NAME, a map by host name) and asserts with them: the
// spec's G1 (exactly one Spark master ALIVE, the other STANDBY) and E6 (node IDs differ).
func TestCrossHostAssertions(t *testing.T) {
	funcs := map[string]function.Function{"length": stdlib.LengthFunc, "values": stdlib.ValuesFunc, "distinct": stdlib.DistinctFunc}
	perHost := func(vals map[string]string) cty.Value {
		m := map[string]cty.Value{}
		for host, v := range vals {
			m[host] = cty.ObjectVal(map[string]cty.Value{"value": cty.StringVal(v)})
		}
		return cty.ObjectVal(m)
	}
	const oneAlive = `length([for r in values(results.spark) : r if r.value == "ALIVE"]) == 1 && length([for r in values(results.spark) : r if r.value == "STANDBY"]) == 1`
	const idsDiffer = `length(distinct([for r in values(results.node_id) : r.value])) == length(values(results.node_id))`
	tests := []struct {
		expr    string
		results map[string]cty.Value
		holds   bool
	}{
		{oneAlive, map[string]cty.Value{"spark": perHost(map[string]string{"an1": "ALIVE", "an2": "STANDBY"})}, true},
		{oneAlive, map[string]cty.Value{"spark": perHost(map[string]string{"an1": "ALIVE", "an2": "ALIVE"})}, false},
		{oneAlive, map[string]cty.Value{"spark": perHost(map[string]string{"an1": "STANDBY", "an2": "RECOVERING"})}, false},
		{idsDiffer, map[string]cty.Value{"node_id": perHost(map[string]string{"an1": "6f1c", "an2": "9e02"})}, true},
		{idsDiffer, map[string]cty.Value{"node_id": perHost(map[string]string{"an1": "6f1c", "an2": "6f1c"})}, false},
	}
	for _, tt := range tests {
		expr, diags := hclsyntax.ParseExpression([]byte(tt.expr), "test.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		cond, diags := expr.Value(&hcl.EvalContext{Variables: map[string]cty.Value{"results": cty.ObjectVal(tt.results)}, Functions: funcs})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
		_, err := Module{}.Check(context.Background(), h, engine.NewArgs(Name, map[string]cty.Value{"condition": cond, "message": cty.StringVal("cluster check")}))
		if (err == nil) != tt.holds {
			t.Errorf("%s with %v: err = %v, want holds=%v", tt.expr, tt.results, err, tt.holds)
		}
	}
}
