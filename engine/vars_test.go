package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/zclconf/go-cty/cty"
)

const varsPlaybook = `
variable "name" {
  type    = string
  default = "default"
}
variable "count" {
  type    = number
  default = 1
  validation {
    condition     = var.count > 0 && var.count < 10
    error_message = "count must be between 1 and 9."
  }
}
variable "list" {
  type    = list(string)
  default = []
}
variable "password" {
  type      = string
  sensitive = true
}
`

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	pbPath := filepath.Join(dir, "pb.hcl")
	os.WriteFile(pbPath, []byte(varsPlaybook), 0o644)
	file1 := filepath.Join(dir, "a.vars.hcl")
	file2 := filepath.Join(dir, "b.vars.hcl")
	os.WriteFile(file1, []byte("name = \"file1\"\ncount = 2\npassword = \"s3cret-from-file\"\n"), 0o644)
	os.WriteFile(file2, []byte("name = \"file2\"\n"), 0o644)
	tests := []struct {
		name    string
		in      engine.VarInputs
		want    map[string]string
		wantErr string
	}{
		{name: "defaults and env", in: engine.VarInputs{Env: []string{"ISAPLAY_VAR_password=pw"}},
			want: map[string]string{"name": `"default"`, "count": "1", "password": `"pw"`}},
		{name: "env beats default", in: engine.VarInputs{Env: []string{"ISAPLAY_VAR_name=env", "ISAPLAY_VAR_count=3", "ISAPLAY_VAR_password=pw"}},
			want: map[string]string{"name": `"env"`, "count": "3"}},
		{name: "files beat env, later files win", in: engine.VarInputs{Env: []string{"ISAPLAY_VAR_name=env"}, Files: []string{file1, file2}},
			want: map[string]string{"name": `"file2"`, "count": "2"}},
		{name: "--var beats files", in: engine.VarInputs{Files: []string{file1}, Flags: []string{"name=flag", `list=["a","b"]`}},
			want: map[string]string{"name": `"flag"`, "list": `["a","b"]`}},
		{name: "undeclared --var", in: engine.VarInputs{Env: []string{"ISAPLAY_VAR_password=pw"}, Flags: []string{"nope=1"}}, wantErr: `declares no variable "nope"`},
		{name: "missing required", in: engine.VarInputs{}, wantErr: `Variable "password" has no default`},
		{name: "validation", in: engine.VarInputs{Env: []string{"ISAPLAY_VAR_password=pw"}, Flags: []string{"count=12"}}, wantErr: "count must be between 1 and 9."},
		{name: "type error", in: engine.VarInputs{Env: []string{"ISAPLAY_VAR_password=pw"}, Flags: []string{"count=many"}}, wantErr: "count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := hclparse.NewParser()
			pb, diags := engine.LoadPlaybook(p, pbPath, engine.NewRegistry())
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if tc.in.Env == nil {
				tc.in.Env = []string{}
			}
			red := engine.NewRedactor()
			vals, diags := engine.ResolveVariables(p, pb, tc.in, red)
			if tc.wantErr != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.wantErr) {
					t.Fatalf("diags = %v, want %q", diags, tc.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for name, want := range tc.want {
				v, _ := vals[name].Unmark()
				if got := render(v); got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
			if !vals["password"].HasMark(engine.SensitiveMark) {
				t.Errorf("password is not marked sensitive")
			}
			pw, _ := vals["password"].Unmark()
			if got := red.Redact("x " + pw.AsString() + " y"); strings.Contains(got, pw.AsString()) {
				t.Errorf("redactor does not mask the password: %q", got)
			}
		})
	}
}

func render(v cty.Value) string {
	switch {
	case v.Type() == cty.String:
		return `"` + v.AsString() + `"`
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case v.Type().IsListType():
		var parts []string
		for _, e := range v.AsValueSlice() {
			parts = append(parts, render(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return v.GoString()
}

// Values derived from a sensitive variable are masked in plans, and the error of a failed
// task never shows the secret.
func TestSensitiveDerivedValuesAreMasked(t *testing.T) {
	f := newFixture(t, `
variable "pw" {
  type      = string
  sensitive = true
}
play "p" {
  hosts = "app"
  task "append_line" "url" {
    path = "${host.vars.root}/f"
    line = "password=${var.pw}"
  }
  task "append_line" "derived" {
    path = "${host.vars.root}/g"
    line = "upper=${upper(var.pw)}"
  }
}`, 1, engine.VarInputs{Flags: []string{"pw=canary-42"}})
	p := f.plan(t)
	out := f.render(t, p, false)
	for _, secret := range []string{"canary-42", "CANARY-42"} {
		if strings.Contains(out, secret) {
			t.Errorf("plan shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "+password="+engine.Mask) {
		t.Errorf("plan does not show the masked line:\n%s", out)
	}
}

// A condition on a sensitive value works (it is not itself a secret).
func TestWhenOnSensitiveValue(t *testing.T) {
	f := newFixture(t, `
variable "pw" {
  type      = string
  sensitive = true
  default   = "secret-value-9"
}
play "p" {
  hosts = "app"
  task "append_line" "only with a password" {
    path = "${host.vars.root}/f"
    line = "x"
    when = var.pw != ""
  }
}`, 1, engine.VarInputs{})
	if p := f.plan(t); p.Summary.Change != 1 {
		t.Fatalf("summary %+v", p.Summary)
	}
}
