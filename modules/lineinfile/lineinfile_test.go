package lineinfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/zclconf/go-cty/cty"
)

func args(kv ...string) *engine.Args {
	v := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		v[kv[i]] = cty.StringVal(kv[i+1])
	}
	return engine.NewArgs(Name, v)
}

const envVars = "bin/load-spark-env-vars.sh"

// TestC9 ensures export SPARK_LOCAL_IP in the real load-spark-env-vars.sh, which has no final
// newline: each case checks the result, the number of changed lines, the golden diff,
// idempotency, mode 0755 and the exact restore.
func TestC9(t *testing.T) {
	const re = `^\s*export\s+SPARK_LOCAL_IP=`
	tests := []struct {
		name           string
		extra          []string
		first          string // applied before the case, if set (the line a previous run wrote)
		line           string
		suffix         string // the file must end so
		contains       string
		removed, added int
	}{
		{name: "append at end without final newline", line: "export SPARK_LOCAL_IP=10.0.0.11",
			suffix: "mkdir -p $CARBON_SPARK_HOME/lib_managed/jars\nexport SPARK_LOCAL_IP=10.0.0.11", removed: 1, added: 2},
		{name: "insert after CARBON_SPARK_HOME", extra: []string{"insert_after", `^export CARBON_SPARK_HOME=`}, line: "export SPARK_LOCAL_IP=10.0.0.11",
			contains: "export CARBON_SPARK_HOME=$CARBON_HOME\nexport SPARK_LOCAL_IP=10.0.0.11\nexport _SPARK", suffix: "lib_managed/jars", removed: 0, added: 1},
		{name: "insert before mkdir", extra: []string{"insert_before", `^mkdir `}, line: "export SPARK_LOCAL_IP=10.0.0.12",
			contains: "tr ' ' ':')\nexport SPARK_LOCAL_IP=10.0.0.12\nmkdir -p", suffix: "lib_managed/jars", removed: 0, added: 1},
		{name: "replace the address a previous run wrote", first: "export SPARK_LOCAL_IP=10.0.0.99", line: "export SPARK_LOCAL_IP=10.0.0.11",
			suffix: "jars\nexport SPARK_LOCAL_IP=10.0.0.11", removed: 1, added: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, orig := wso2ref.Copy(t, envVars)
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
			h := modtest.Host(t)
			if tt.first != "" {
				modtest.Apply(t, h, Module{}, args("path", p, "regexp", re, "line", tt.first))
				orig, _ = os.ReadFile(p)
			}
			a := args(append([]string{"path", p, "regexp", re, "line", tt.line}, tt.extra...)...)
			if d := (Module{}).Validate(a); d.HasErrors() {
				t.Fatal(d)
			}
			plan := modtest.Plan(t, h, Module{}, a)
			modtest.Golden(t, strings.ReplaceAll(tt.name, " ", "_"), strings.ReplaceAll(plan.Summary+"\n"+plan.Diff, filepath.Dir(p), "DIR"))
			c := modtest.Apply(t, h, Module{}, a)
			got, _ := os.ReadFile(p)
			if plan.Diff != engine.Diff(p, string(orig), string(got)) {
				t.Errorf("plan diff is not what apply did")
			}
			if !strings.HasSuffix(string(got), tt.suffix) || !strings.Contains(string(got), tt.contains) {
				t.Errorf("result:\n%s", got)
			}
			if r, ad := modtest.LineDiff(p, orig, got); r != tt.removed || ad != tt.added {
				t.Errorf("changed lines -%d +%d, want -%d +%d", r, ad, tt.removed, tt.added)
			}
			if n := strings.Count(string(got), "SPARK_LOCAL_IP"); n != 1 {
				t.Errorf("SPARK_LOCAL_IP appears %d times", n)
			}
			modtest.InSync(t, h, Module{}, a)
			modtest.Revert(t, h, Module{}, c)
			modtest.FileIs(t, p, orig, 0o755)
		})
	}
}

func TestEdit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		args []string
		want string
	}{
		{"crlf insert uses crlf", "a\r\nb\r\n", []string{"line", "c"}, "a\r\nb\r\nc\r\n"},
		{"crlf no final newline", "a\r\nb", []string{"line", "c"}, "a\r\nb\r\nc"},
		{"crlf replace keeps ending", "x=1\r\ny=2\r\n", []string{"regexp", "^x=", "line", "x=9"}, "x=9\r\ny=2\r\n"},
		{"empty file", "", []string{"line", "c"}, "c\n"},
		{"exact line already present elsewhere", "a\nc\nb\n", []string{"regexp", "^zz", "line", "c"}, "a\nc\nb\n"},
		{"last match replaced", "x=1\nx=2\n", []string{"regexp", "^x=", "line", "x=3"}, "x=1\nx=3\n"},
		{"absent by regexp", "a\nx=1\nb\nx=2\n", []string{"state", "absent", "regexp", "^x="}, "a\nb\n"},
		{"absent by line", "a\nb\na\n", []string{"state", "absent", "line", "a"}, "b\n"},
		{"absent unterminated last", "a\nb", []string{"state", "absent", "line", "b"}, "a"},
		{"absent nothing", "a\n", []string{"state", "absent", "line", "z"}, "a\n"},
		{"insert after last match", "# x\nA\n# x\nB\n", []string{"line", "new", "insert_after", "^# x"}, "# x\nA\n# x\nnew\nB\n"},
		{"insert before first match", "A\n# x\nB\n# x\n", []string{"line", "new", "insert_before", "^# x"}, "A\nnew\n# x\nB\n# x\n"},
		{"insert after unterminated last", "A\nB", []string{"line", "new", "insert_after", "^B"}, "A\nB\nnew"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := args(append([]string{"path", "/x"}, tt.args...)...)
			p, diags := parseArgs(a)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, _, err := edit([]byte(tt.in), p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			again, _, _ := edit(got, p)
			if string(again) != string(got) {
				t.Fatalf("second edit changes %q -> %q", got, again)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(f, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args *engine.Args
		want string
	}{
		{"bad regexp", args("path", f, "regexp", "(", "line", "x"), "regexp: error parsing"},
		{"anchor matches nothing", args("path", f, "line", "x", "insert_after", "^nope"), `s.sh: insert_after "^nope" matches no line (0 of 1)`},
		{"missing file", args("path", filepath.Join(dir, "nope"), "line", "x"), "nope: no such file"},
		{"no line", args("path", f), "needs line"},
		{"bad state", args("path", f, "line", "x", "state", "gone"), "state"},
		{"newline in line", args("path", f, "line", "x\ny"), "single line"},
	}
	h := modtest.Host(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Module{}.Check(context.Background(), h.Planning(), tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSecretsMasked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env.sh")
	in := "export DB_PASSWORD=wso2carbon\nexport X=1\n"
	if err := os.WriteFile(p, []byte(in), 0o700); err != nil {
		t.Fatal(err)
	}
	h := modtest.Host(t)
	h.AddSecret("t0ps3cret")
	a := args("path", p, "regexp", "^export API_TOKEN=", "line", "export API_TOKEN=t0ps3cret")
	c := modtest.Plan(t, h, Module{}, a)
	if strings.Contains(c.Diff, "wso2carbon") || strings.Contains(c.Diff, "t0ps3cret") || !strings.Contains(c.Diff, "+export API_TOKEN="+engine.Mask) {
		t.Fatalf("diff not masked:\n%s", c.Diff)
	}
	applied := modtest.Apply(t, h, Module{}, a)
	modtest.InSync(t, h, Module{}, a)
	modtest.Revert(t, h, Module{}, applied)
	modtest.FileIs(t, p, []byte(in), 0o700)
}
