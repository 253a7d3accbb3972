package logcompare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

func carbonLog(ids ...string) string {
	var b strings.Builder
	cls := "org.wso2.carbon.analytics.dataservice.core.indexing.IndexNodeCoordinator"
	b.WriteString("TID: [-1234] [] [2026-11-25 10:00:00,001]  INFO {org.wso2.carbon.core.internal.CarbonCoreActivator} -  Starting WSO2 Carbon... {org.wso2.carbon.core.internal.CarbonCoreActivator}\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "TID: [-1234] [] [2026-11-25 10:00:01,002]  INFO {%s} -  My Analytics Node ID: %s {%s}\n", cls, id, cls)
	}
	return b.String()
}

const nodeIDRegex = `My Analytics Node ID: (\S+)`

// documented are the comparisons the package documentation tells playbooks to write.
var documented = map[string]string{
	"differ": `length(distinct([for r in values(results.node_id) : r.value])) == length(values(results.node_id))`,
	"match":  `length(distinct([for r in values(results.node_id) : r.value])) == 1`,
}

func eval(t *testing.T, expr string, results cty.Value) bool {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(expr), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := e.Value(&hcl.EvalContext{
		Variables: map[string]cty.Value{"results": cty.ObjectVal(map[string]cty.Value{"node_id": results})},
		Functions: map[string]function.Function{"length": stdlib.LengthFunc, "values": stdlib.ValuesFunc, "distinct": stdlib.DistinctFunc},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return v.True()
}

// TestCompareAcrossHosts runs log_compare on two hosts' logs, registers the results by host
// name as the engine does, and evaluates the documented differ/match conditions.
func TestCompareAcrossHosts(t *testing.T) {
	tests := []struct {
		name        string
		an1, an2    string
		differ      bool
		match       bool
		wantValues  [2]string
		occurrences string
	}{
		{name: "distinct ids", an1: carbonLog("6f1c0e2a-1"), an2: carbonLog("9e02bb10-2"), differ: true, wantValues: [2]string{"6f1c0e2a-1", "9e02bb10-2"}},
		{name: "cloned id", an1: carbonLog("6f1c0e2a-1"), an2: carbonLog("6f1c0e2a-1"), match: true, wantValues: [2]string{"6f1c0e2a-1", "6f1c0e2a-1"}},
		{name: "last occurrence wins", an1: carbonLog("old-id", "6f1c0e2a-1"), an2: carbonLog("6f1c0e2a-1"), match: true, wantValues: [2]string{"6f1c0e2a-1", "6f1c0e2a-1"}},
		{name: "first occurrence", an1: carbonLog("old-id", "6f1c0e2a-1"), an2: carbonLog("6f1c0e2a-1"), differ: true, wantValues: [2]string{"old-id", "6f1c0e2a-1"}, occurrences: "first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := map[string]cty.Value{}
			for i, content := range []string{tt.an1, tt.an2} {
				host := fmt.Sprintf("an%d", i+1)
				log := filepath.Join(t.TempDir(), "wso2carbon.log")
				if err := os.WriteFile(log, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				h := engine.NewHost(host, local.New(), "run1", t.TempDir(), nil)
				vals := map[string]cty.Value{"path": cty.StringVal(log), "regex": cty.StringVal(nodeIDRegex)}
				if tt.occurrences != "" {
					vals["occurrence"] = cty.StringVal(tt.occurrences)
				}
				a := engine.NewArgs(Name, vals)
				plan, err := Module{}.Check(context.Background(), h.Planning(), a)
				if err != nil || plan.Action != engine.ActionRun || plan.Result.IsKnown() {
					t.Fatalf("plan: %+v %v", plan, err)
				}
				c, err := Module{}.Check(context.Background(), h, a)
				if err != nil {
					t.Fatal(err)
				}
				if c.Action != engine.ActionNone || c.Result.GetAttr("value").AsString() != tt.wantValues[i] {
					t.Fatalf("%s: %+v", host, c)
				}
				results[host] = c.Result
			}
			if got := eval(t, documented["differ"], cty.ObjectVal(results)); got != tt.differ {
				t.Errorf("differ = %v, want %v", got, tt.differ)
			}
			if got := eval(t, documented["match"], cty.ObjectVal(results)); got != tt.match {
				t.Errorf("match = %v, want %v", got, tt.match)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	if err := os.WriteFile(log, []byte(carbonLog()+"Access for user admin password=pa55 {x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	h.AddSecret("pa55")
	for _, tt := range []struct {
		vals    map[string]cty.Value
		wantErr string
		want    string
	}{
		{map[string]cty.Value{"path": cty.StringVal(log), "regex": cty.StringVal(nodeIDRegex)}, "no line matches", ""},
		{map[string]cty.Value{"path": cty.StringVal(log), "regex": cty.StringVal(nodeIDRegex), "required": cty.False}, "", ""},
		{map[string]cty.Value{"path": cty.StringVal(filepath.Join(dir, "nope")), "regex": cty.StringVal(nodeIDRegex)}, "does not exist on an1", ""},
		{map[string]cty.Value{"path": cty.StringVal(log), "regex": cty.StringVal(`(a)(b)`)}, "exactly one capture group", ""},
		{map[string]cty.Value{"path": cty.StringVal(log), "regex": cty.StringVal(`user (\w+) password=(?P<value>\S+)`)}, "", "(sensitive)"},
		{map[string]cty.Value{"path": cty.StringVal(log), "regex": cty.StringVal(`x`), "occurrence": cty.StringVal("middle")}, "occurrence must be", ""},
	} {
		c, err := Module{}.Check(context.Background(), h, engine.NewArgs(Name, tt.vals))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: want %q, got %v", tt.vals, tt.wantErr, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tt.vals, err)
			continue
		}
		if got := c.Result.GetAttr("value").AsString(); got != tt.want || strings.Contains(c.Result.GetAttr("line").AsString(), "pa55") {
			t.Errorf("%v: result %v, want value %q", tt.vals, c.Result, tt.want)
		}
	}
}
