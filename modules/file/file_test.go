package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/zclconf/go-cty/cty"
)

func args(kv ...string) *engine.Args {
	v := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		v[kv[i]] = cty.StringVal(kv[i+1])
	}
	return engine.NewArgs(Name, v)
}

func fileOwner(t *testing.T, p string) (int, int) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return int(s.Uid), int(s.Gid)
}

// TestFile writes whole files: a new per-node my-node-id.dat, a replaced file, a mode-only and an
// owner-only change. Each case checks the plan's action and diff, the result, idempotency and the
// exact restore (or removal) on revert.
func TestFile(t *testing.T) {
	tests := []struct {
		name     string
		existing string // "" = no file before
		mode     os.FileMode
		args     []string
		action   engine.Action
		diff     []string // lines the diff must hold
		wantMode os.FileMode
		wantUID  int
	}{
		{name: "new node id", args: []string{"content", "wso2is-analytics-1", "mode", "0600"}, action: engine.ActionCreate,
			diff: []string{"+wso2is-analytics-1"}, wantMode: 0o600},
		{name: "replace keeps mode", existing: "old-id\n", mode: 0o640, args: []string{"content", "new-id\n"}, action: engine.ActionUpdate,
			diff: []string{"-old-id", "+new-id"}, wantMode: 0o640},
		{name: "mode only", existing: "x\n", mode: 0o644, args: []string{"content", "x\n", "mode", "0600"}, action: engine.ActionUpdate, wantMode: 0o600},
		{name: "owner by name", existing: "x\n", mode: 0o644, args: []string{"content", "x\n", "owner", "daemon", "group", "daemon"}, action: engine.ActionUpdate,
			wantMode: 0o644, wantUID: 1},
		{name: "literal placeholders kept", args: []string{"content", "home=${carbon.home}\n"}, action: engine.ActionCreate,
			diff: []string{"+home=${carbon.home}"}, wantMode: 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "my-node-id.dat")
			if tt.existing != "" {
				if err := os.WriteFile(p, []byte(tt.existing), tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			h := modtest.Host(t)
			a := args(append([]string{"path", p}, tt.args...)...)
			if d := (Module{}).Validate(a); d.HasErrors() {
				t.Fatal(d)
			}
			plan := modtest.Plan(t, h, Module{}, a)
			if plan.Action != tt.action {
				t.Fatalf("action %s, want %s (%s)", plan.Action, tt.action, plan.Summary)
			}
			for _, d := range tt.diff {
				if !strings.Contains(plan.Diff, d+"\n") {
					t.Errorf("diff lacks %q:\n%s", d, plan.Diff)
				}
			}
			c := modtest.Apply(t, h, Module{}, a)
			content := a.String("content")
			modtest.FileIs(t, p, []byte(content), tt.wantMode)
			if uid, _ := fileOwner(t, p); uid != tt.wantUID {
				t.Errorf("uid %d, want %d", uid, tt.wantUID)
			}
			modtest.InSync(t, h, Module{}, a)
			modtest.Revert(t, h, Module{}, c)
			if tt.existing == "" {
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Fatalf("revert left %s: %v", p, err)
				}
				return
			}
			modtest.FileIs(t, p, []byte(tt.existing), tt.mode)
			if uid, _ := fileOwner(t, p); uid != 0 {
				t.Errorf("uid %d after revert, want 0", uid)
			}
		})
	}
}

// TestDirectory creates a directory with its missing parents and removes exactly those on
// revert; an existing directory's mode change is undone.
func TestDirectory(t *testing.T) {
	root := t.TempDir()
	h := modtest.Host(t)
	leaf := filepath.Join(root, "a", "b", "c")
	a := args("path", leaf, "state", "directory", "mode", "0750")
	plan := modtest.Plan(t, h, Module{}, a)
	if plan.Action != engine.ActionCreate || len(plan.Effects) != 3 || plan.Effects[2].Path != leaf {
		t.Fatalf("plan %s %q effects %+v", plan.Action, plan.Summary, plan.Effects)
	}
	c := modtest.Apply(t, h, Module{}, a)
	st, err := os.Stat(leaf)
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Fatalf("after apply: %v %v", st, err)
	}
	modtest.InSync(t, h, Module{}, a)
	modtest.Revert(t, h, Module{}, c)
	if _, err := os.Stat(filepath.Join(root, "a")); !os.IsNotExist(err) {
		t.Fatalf("revert left %s/a: %v", root, err)
	}

	// An existing directory: only its mode changes, and changes back.
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	a = args("path", filepath.Join(root, "d"), "state", "directory", "mode", "0700")
	c = modtest.Apply(t, h, Module{}, a)
	if c.Action != engine.ActionUpdate {
		t.Fatalf("action %s", c.Action)
	}
	modtest.InSync(t, h, Module{}, a)
	modtest.Revert(t, h, Module{}, c)
	if st, _ := os.Stat(filepath.Join(root, "d")); st.Mode().Perm() != 0o755 {
		t.Fatalf("mode %04o after revert", st.Mode().Perm())
	}

	// A new file in a missing directory is an error at plan time, not at apply.
	if _, err := (Module{}).Check(context.Background(), h.Planning(), args("path", filepath.Join(root, "nodir", "x"), "content", "x")); err == nil || !strings.Contains(err.Error(), "nodir does not exist") {
		t.Fatalf("error %v", err)
	}

	// A file where the directory should be is an error.
	f := filepath.Join(root, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Module{}).Check(context.Background(), h.Planning(), args("path", filepath.Join(f, "x"), "state", "directory")); err == nil || !strings.Contains(err.Error(), "is a file, not a directory") {
		t.Fatalf("error %v", err)
	}
}

func TestSecrets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "db.properties")
	if err := os.WriteFile(p, []byte("user=u\npassword=wso2carbon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := modtest.Host(t)
	a := args("path", p, "content", "user=v\npassword=wso2carbon\n<Password>x1</Password>\n")
	c := modtest.Plan(t, h, Module{}, a)
	if strings.Contains(c.Diff, "wso2carbon") || strings.Contains(c.Diff, "x1") || !strings.Contains(c.Diff, "+user=v") {
		t.Fatalf("diff:\n%s", c.Diff)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		args *engine.Args
		want string
	}{
		{"bad mode", args("path", "/x", "content", "", "mode", "rw-r--r--"), "octal"},
		{"mode too big", args("path", "/x", "content", "", "mode", "17777"), "octal"},
		{"relative", args("path", "x", "content", ""), "absolute"},
		{"no content", args("path", "/x"), "needs content"},
		{"content for directory", args("path", "/x", "state", "directory", "content", "a"), "no content"},
		{"bad state", args("path", "/x", "state", "link"), "state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := (Module{}).Validate(tt.args)
			if !d.HasErrors() || !strings.Contains(d.Error(), tt.want) {
				t.Fatalf("diags %v, want %q", d, tt.want)
			}
		})
	}
}
