package jarcopy

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/zclconf/go-cty/cty"
)

const jarName = "mysql-connector-java-5.1.47-bin.jar"

// fakeJar writes a small real jar (a zip with a manifest) and returns its path and bytes.
func fakeJar(t *testing.T, dir, version string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("META-INF/MANIFEST.MF")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Manifest-Version: 1.0\r\nImplementation-Version: " + version + "\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, jarName)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, buf.Bytes()
}

type tree struct{ home, lib, dropins string }

func newTree(t *testing.T) tree {
	home := filepath.Join(t.TempDir(), "wso2is-analytics-5.6.0")
	tr := tree{home: home, lib: filepath.Join(home, "repository/components/lib"), dropins: filepath.Join(home, "repository/components/dropins")}
	for _, d := range []string{tr.lib, tr.dropins} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func args(src, dest string, kv ...any) *engine.Args {
	v := map[string]cty.Value{"src": cty.StringVal(src), "dest": cty.StringVal(dest)}
	for i := 0; i < len(kv); i += 2 {
		switch x := kv[i+1].(type) {
		case string:
			v[kv[i].(string)] = cty.StringVal(x)
		case []string:
			var l []cty.Value
			for _, s := range x {
				l = append(l, cty.StringVal(s))
			}
			v[kv[i].(string)] = cty.ListVal(l)
		}
	}
	return engine.NewArgs(Name, v)
}

// TestB3 copies the MySQL driver into repository/components/lib with a sha256 pin, lets "Carbon"
// generate its OSGi wrapper in dropins, and reverts: both are gone, the directories stay.
func TestB3(t *testing.T) {
	tr := newTree(t)
	src, data := fakeJar(t, t.TempDir(), "5.1.47")
	wrapper := filepath.Join(tr.dropins, "mysql_connector_java_5.1.47_bin_1.0.0.jar")
	h := modtest.Host(t)
	a := args(src, tr.lib+"/", "sha256", engine.SHA256(data), "undo_also_remove", []string{filepath.Join(tr.dropins, "mysql_connector_java_5.1.47_bin_*.jar")})
	if d := (Module{}).Validate(a); d.HasErrors() {
		t.Fatal(d)
	}
	plan := modtest.Plan(t, h, Module{}, a)
	target := filepath.Join(tr.lib, jarName)
	if plan.Action != engine.ActionCreate || !strings.Contains(plan.Summary, "copy "+jarName+" to "+target) {
		t.Fatalf("plan %s %q", plan.Action, plan.Summary)
	}
	if len(plan.Effects) != 1 || plan.Effects[0].Path != target || !bytes.Equal(plan.Effects[0].Data, data) {
		t.Fatalf("effects %+v", plan.Effects)
	}
	c := modtest.Apply(t, h, Module{}, a)
	modtest.FileIs(t, target, data, 0o644)
	modtest.InSync(t, h, Module{}, a)
	// The same copy named by an existing directory without a trailing slash is in sync too.
	modtest.InSync(t, h, Module{}, args(src, tr.lib))

	if err := os.WriteFile(wrapper, []byte("osgi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Module{}).CheckRevert(context.Background(), h, c.Undo); err != nil {
		t.Fatalf("check revert: %v", err)
	}
	modtest.Revert(t, h, Module{}, c)
	for _, p := range []string{target, wrapper} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("revert left %s", p)
		}
	}
	if _, err := os.Stat(tr.dropins); err != nil {
		t.Errorf("dropins directory removed: %v", err)
	}
}

func TestPinMismatch(t *testing.T) {
	tr := newTree(t)
	src, data := fakeJar(t, t.TempDir(), "5.1.47")
	wrong := strings.Repeat("ab", 32)
	_, err := Module{}.Check(context.Background(), modtest.Host(t), args(src, tr.lib+"/", "sha256", wrong))
	if err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), engine.SHA256(data)) || !strings.Contains(err.Error(), wrong) {
		t.Fatalf("error %v: want it to name the file and both digests", err)
	}
	if _, err := os.Stat(filepath.Join(tr.lib, jarName)); !os.IsNotExist(err) {
		t.Fatal("uploaded despite the mismatch")
	}
}

// TestReplace replaces an older jar at an explicit file path and restores it exactly.
func TestReplace(t *testing.T) {
	tr := newTree(t)
	src, data := fakeJar(t, t.TempDir(), "5.1.47")
	_, old := fakeJar(t, t.TempDir(), "5.1.40")
	target := filepath.Join(tr.lib, "mysql.jar")
	if err := os.WriteFile(target, old, 0o600); err != nil {
		t.Fatal(err)
	}
	h := modtest.Host(t)
	a := args(src, target, "mode", "0640", "owner", "daemon")
	plan := modtest.Plan(t, h, Module{}, a)
	if plan.Action != engine.ActionUpdate || !strings.Contains(plan.Summary, "mode 0600 -> 0640") || !strings.Contains(plan.Summary, "owner 0:0 -> 1:0") {
		t.Fatalf("plan %s %q", plan.Action, plan.Summary)
	}
	c := modtest.Apply(t, h, Module{}, a)
	modtest.FileIs(t, target, data, 0o640)
	modtest.InSync(t, h, Module{}, a)
	modtest.Revert(t, h, Module{}, c)
	modtest.FileIs(t, target, old, 0o600)
}

func TestErrors(t *testing.T) {
	tr := newTree(t)
	src, _ := fakeJar(t, t.TempDir(), "1")
	tests := []struct {
		name string
		args *engine.Args
		want string
	}{
		{"missing src", args(filepath.Join(tr.home, "nope.jar"), tr.lib+"/"), "nope.jar: no such file"},
		{"missing dest dir", args(src, filepath.Join(tr.home, "nodir")+"/"), "directory " + filepath.Join(tr.home, "nodir") + " does not exist"},
		{"relative dest", args(src, "lib/"), "absolute"},
		{"bad pin", args(src, tr.lib+"/", "sha256", "xyz"), "64 hexadecimal"},
		{"bad glob", args(src, tr.lib+"/", "undo_also_remove", []string{"/x/$(reboot)"}), "Invalid glob"},
		{"relative glob", args(src, tr.lib+"/", "undo_also_remove", []string{"dropins/*.jar"}), "Invalid glob"},
		{"bad mode", args(src, tr.lib+"/", "mode", "999"), "octal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Module{}.Check(context.Background(), modtest.Host(t).Planning(), tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
