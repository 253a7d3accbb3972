package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

func strs(s ...string) cty.Value {
	vs := make([]cty.Value, len(s))
	for i, x := range s {
		vs[i] = cty.StringVal(x)
	}
	return cty.ListVal(vs)
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists")
	if err := os.WriteFile(exists, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name       string
		vals       map[string]cty.Value
		wantAction engine.Action
		wantSum    string
		wantOut    string
		wantErr    string
	}{
		{name: "argv runs", vals: map[string]cty.Value{"argv": strs("echo", "hello")}, wantAction: engine.ActionRun, wantSum: "will run: echo hello", wantOut: "hello\n"},
		{name: "hostile argument stays one word", vals: map[string]cty.Value{"argv": strs("printf", "%s", "a'b; touch "+missing+" $(id)")},
			wantAction: engine.ActionRun, wantOut: "a'b; touch " + missing + " $(id)"},
		{name: "creates exists", vals: map[string]cty.Value{"argv": strs("false"), "creates": cty.StringVal(exists)}, wantAction: engine.ActionNone, wantSum: "skipped: " + exists + " exists"},
		{name: "creates missing", vals: map[string]cty.Value{"argv": strs("true"), "creates": cty.StringVal(missing)}, wantAction: engine.ActionRun},
		{name: "removes missing", vals: map[string]cty.Value{"argv": strs("false"), "removes": cty.StringVal(missing)}, wantAction: engine.ActionNone, wantSum: "skipped: " + missing + " does not exist"},
		{name: "removes exists", vals: map[string]cty.Value{"argv": strs("true"), "removes": cty.StringVal(exists)}, wantAction: engine.ActionRun},
		{name: "unless argv succeeds", vals: map[string]cty.Value{"argv": strs("false"), "unless": cty.TupleVal([]cty.Value{cty.StringVal("test"), cty.StringVal("-f"), cty.StringVal(exists)})},
			wantAction: engine.ActionNone, wantSum: "skipped: unless succeeded"},
		{name: "unless shell fails", vals: map[string]cty.Value{"argv": strs("echo", "ran"), "unless": cty.StringVal("test -f " + missing + " && true")}, wantAction: engine.ActionRun, wantOut: "ran\n"},
		{name: "shell with chdir and env", vals: map[string]cty.Value{"cmd": cty.StringVal(`echo "$GREETING from $(pwd)"`), "shell": cty.True, "chdir": cty.StringVal(dir),
			"env": cty.MapVal(map[string]cty.Value{"GREETING": cty.StringVal("hi there")})}, wantAction: engine.ActionRun, wantOut: "hi there from " + dir + "\n"},
		{name: "stdin", vals: map[string]cty.Value{"argv": strs("cat"), "stdin": cty.StringVal("line one\n")}, wantAction: engine.ActionRun, wantOut: "line one\n"},
		{name: "failure carries stderr", vals: map[string]cty.Value{"argv": strs("sh", "-c", "echo bad thing >&2; exit 3")}, wantAction: engine.ActionRun, wantErr: "exit 3: bad thing"},
		{name: "cmd needs shell", vals: map[string]cty.Value{"cmd": cty.StringVal("ls")}, wantErr: "set shell = true"},
		{name: "argv or cmd", vals: map[string]cty.Value{}, wantErr: "argv (a non-empty list) or cmd is required"},
		{name: "not both", vals: map[string]cty.Value{"argv": strs("ls"), "cmd": cty.StringVal("ls"), "shell": cty.True}, wantErr: "not both"},
		{name: "bad unless", vals: map[string]cty.Value{"argv": strs("ls"), "unless": cty.NumberIntVal(1)}, wantErr: "unless must be a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := engine.NewHost("n1", local.New(), "run1", t.TempDir(), nil)
			ctx := context.Background()
			c, err := Module{}.Check(ctx, h, engine.NewArgs(Name, tt.vals))
			if err == nil && c.Action != engine.ActionNone {
				err = Module{}.Apply(ctx, h, c)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Action != tt.wantAction || tt.wantSum != "" && c.Summary != tt.wantSum {
				t.Fatalf("change = %s %q, want %s %q", c.Action, c.Summary, tt.wantAction, tt.wantSum)
			}
			if tt.wantOut != "" && c.Result.GetAttr("stdout").AsString() != tt.wantOut {
				t.Fatalf("stdout = %q, want %q", c.Result.GetAttr("stdout").AsString(), tt.wantOut)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("a hostile argument was run by a shell")
	}
}

func TestCommandRedactsSecrets(t *testing.T) {
	h := engine.NewHost("n1", local.New(), "run1", t.TempDir(), nil)
	h.AddSecret("hunter2")
	ctx := context.Background()
	a := engine.NewArgs(Name, map[string]cty.Value{
		"argv":  strs("sh", "-c", "read p; echo \"pw=$p\"; echo \"err $p\" >&2; echo arg=hunter2"),
		"stdin": cty.StringVal("hunter2\n"),
	})
	c, err := Module{}.Check(ctx, h.Planning(), a)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionRun || c.Result.IsKnown() || c.Unknown == "" {
		t.Fatalf("plan = %+v", c)
	}
	for _, s := range append([]string{c.Summary}, c.Details...) {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("plan shows the secret: %q", s)
		}
	}
	c, err = Module{}.Check(ctx, h, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Module{}).Apply(ctx, h, c); err != nil {
		t.Fatal(err)
	}
	out, errOut := c.Result.GetAttr("stdout").AsString(), c.Result.GetAttr("stderr").AsString()
	if out != "pw=(sensitive)\narg=(sensitive)\n" || errOut != "err (sensitive)\n" {
		t.Fatalf("output not redacted: %q %q", out, errOut)
	}

	// A failing command's error is redacted too.
	a = engine.NewArgs(Name, map[string]cty.Value{"argv": strs("sh", "-c", "echo denied for hunter2 >&2; exit 1")})
	c, _ = Module{}.Check(ctx, h, a)
	err = Module{}.Apply(ctx, h, c)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error = %v", err)
	}
	// revert_argv may not carry a secret into the journal.
	a = engine.NewArgs(Name, map[string]cty.Value{"argv": strs("true"), "revert_argv": strs("echo", "hunter2")})
	if _, err := (Module{}).Check(ctx, h, a); err == nil || !strings.Contains(err.Error(), "holds a secret") {
		t.Fatalf("revert_argv with a secret: %v", err)
	}
}

func TestCommandRevert(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "made")
	h := engine.NewHost("n1", local.New(), "run1", t.TempDir(), nil)
	ctx := context.Background()
	a := engine.NewArgs(Name, map[string]cty.Value{"argv": strs("touch", marker), "creates": cty.StringVal(marker), "revert_argv": strs("rm", "-f", marker)})
	c, err := Module{}.Check(ctx, h, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Module{}).Apply(ctx, h, c); err != nil {
		t.Fatal(err)
	}
	if again, _ := (Module{}).Check(ctx, h, a); again.Action != engine.ActionNone {
		t.Fatalf("second check = %+v", again)
	}
	for i := 0; i < 2; i++ {
		if err := (Module{}).Revert(ctx, h, c.Undo); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("revert did not remove the file")
	}
}
