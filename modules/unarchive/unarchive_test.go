package unarchive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/zclconf/go-cty/cty"
)

type member struct {
	name string
	mode os.FileMode // with os.ModeDir or os.ModeSymlink for those
	data []byte      // link target for a symlink
}

const top = "wso2is-analytics-5.6.0"

// pack returns the members of a small stand-in for wso2is-analytics-5.6.0.zip, carrying real
// reference files; some directories are only implied by file names, as in many real zips.
func pack(t *testing.T) []member {
	ref := wso2ref.Dir(t)
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(ref, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bin := bytes.Repeat([]byte{0xca, 0xfe, 0, 1}, 4096)
	return []member{
		{name: top + "/", mode: os.ModeDir | 0o755},
		{name: top + "/bin/", mode: os.ModeDir | 0o755},
		{name: top + "/bin/wso2server.sh", mode: 0o755, data: read("bin/wso2server.sh")},
		{name: top + "/bin/load-spark-env-vars.sh", mode: 0o755, data: read("bin/load-spark-env-vars.sh")},
		{name: top + "/repository/conf/analytics/spark/spark-defaults.conf", mode: 0o644, data: read("repository/conf/analytics/spark/spark-defaults.conf")},
		{name: top + "/repository/conf/carbon.xml", mode: 0o644, data: read("repository/conf/carbon.xml")},
		{name: top + "/repository/components/plugins/spark-core_2.10-1.6.2.wso2v1.jar", mode: 0o644, data: bin},
		{name: top + "/lib", mode: os.ModeSymlink | 0o777, data: []byte("repository/components/plugins")},
	}
}

func writeZip(t testing.TB, dir string, ms []member) string {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		fh := &zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC)}
		fh.SetMode(m.mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, top+".zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeTarGz(t *testing.T, dir string, ms []member) string {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: int64(m.mode.Perm()), Size: int64(len(m.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(1527811200, 0)}
		switch {
		case m.mode.IsDir():
			h.Typeflag, h.Size = tar.TypeDir, 0
		case m.mode&os.ModeSymlink != 0:
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, string(m.data)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, top+".tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func args(src, dest, creates string) *engine.Args {
	return engine.NewArgs(Name, map[string]cty.Value{"src": cty.StringVal(src), "dest": cty.StringVal(dest), "creates": cty.StringVal(creates)})
}

// TestB1 unpacks the pack into /opt/wso2 (here under a temp root, missing with its parent) from
// a zip and from a tar.gz: plan contents and overlay effects, the unpacked bytes and modes,
// idempotency by the marker, and an undo that removes only what it created.
func TestB1(t *testing.T) {
	for _, format := range []string{"zip", "tar.gz"} {
		t.Run(format, func(t *testing.T) {
			ms := pack(t)
			var src string
			if format == "zip" {
				src = writeZip(t, t.TempDir(), ms)
			} else {
				src = writeTarGz(t, t.TempDir(), ms)
			}
			root := t.TempDir()
			dest := filepath.Join(root, "opt", "wso2")
			home := filepath.Join(dest, top)
			creates := filepath.Join(home, "bin", "wso2server.sh")
			h := modtest.Host(t)
			a := args(src, dest, creates)
			if d := (Module{}).Validate(a); d.HasErrors() {
				t.Fatal(d)
			}
			plan := modtest.Plan(t, h, Module{}, a)
			want := "unpack " + filepath.Base(src) + " into " + dest + ": 8 entries (5 files, "
			if plan.Action != engine.ActionCreate || !strings.HasPrefix(plan.Summary, want) || !strings.HasSuffix(plan.Summary, "creates "+home) {
				t.Fatalf("plan %s %q", plan.Action, plan.Summary)
			}
			eff := map[string]engine.Effect{}
			for _, e := range plan.Effects {
				eff[e.Path] = e
			}
			conf := filepath.Join(home, "repository/conf/analytics/spark/spark-defaults.conf")
			if e := eff[conf]; e.Kind != engine.EffectFile || !bytes.Equal(e.Data, ms[4].data) {
				t.Errorf("spark-defaults.conf not in the overlay with its bytes: %+v", e.Kind)
			}
			if e := eff[filepath.Join(home, "repository/conf/analytics")]; e.Kind != engine.EffectDir {
				t.Errorf("implied directory missing from the overlay")
			}
			if _, ok := eff[filepath.Join(home, "repository/components/plugins/spark-core_2.10-1.6.2.wso2v1.jar")]; ok {
				t.Errorf("binary file carried into the overlay")
			}
			if e := eff[creates]; e.Kind != engine.EffectFile || e.Mode != 0o755 {
				t.Errorf("marker effect %+v", e)
			}
			if e := eff[filepath.Join(root, "opt")]; e.Kind != engine.EffectDir {
				t.Errorf("missing parent of dest not in effects")
			}

			c := modtest.Apply(t, h, Module{}, a)
			for _, m := range ms {
				p := filepath.Join(dest, m.name)
				st, err := os.Lstat(p)
				if err != nil {
					t.Fatalf("%s: %v", m.name, err)
				}
				switch {
				case m.mode.IsDir():
					if !st.IsDir() {
						t.Errorf("%s is not a directory", m.name)
					}
				case m.mode&os.ModeSymlink != 0:
					if target, _ := os.Readlink(p); target != string(m.data) {
						t.Errorf("%s -> %q", m.name, target)
					}
				default:
					modtest.FileIs(t, p, m.data, m.mode.Perm())
				}
			}
			modtest.InSync(t, h, Module{}, a)
			modtest.Revert(t, h, Module{}, c)
			if _, err := os.Lstat(filepath.Join(root, "opt")); !os.IsNotExist(err) {
				t.Fatalf("revert left %s/opt: %v", root, err)
			}
		})
	}
}

// TestUndoKeepsExisting: entries and directories that existed before are never removed.
func TestUndoKeepsExisting(t *testing.T) {
	src := writeZip(t, t.TempDir(), []member{
		{name: "a/x.txt", mode: 0o644, data: []byte("x\n")},
		{name: "b/y.txt", mode: 0o644, data: []byte("y\n")},
	})
	dest := t.TempDir()
	keep := filepath.Join(dest, "a", "mine.txt")
	if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := modtest.Host(t)
	a := args(src, dest, "b/y.txt")
	plan := modtest.Plan(t, h, Module{}, a)
	if len(plan.Risks) != 1 || !strings.Contains(strings.Join(plan.Details, "\n"), "unpacks into existing "+filepath.Join(dest, "a")) {
		t.Fatalf("plan details %q risks %q", plan.Details, plan.Risks)
	}
	c := modtest.Apply(t, h, Module{}, a)
	modtest.Revert(t, h, Module{}, c)
	modtest.FileIs(t, keep, []byte("mine"), 0o600)
	if _, err := os.Stat(filepath.Join(dest, "b")); !os.IsNotExist(err) {
		t.Fatal("created b survived revert")
	}
	if _, err := os.Stat(dest); err != nil {
		t.Fatal("dest removed")
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeZip(t, dir, []member{{name: "a/x.txt", mode: 0o644, data: []byte("x")}})
	slipDir := t.TempDir()
	slip := writeZip(t, slipDir, []member{{name: "a/../../evil.txt", mode: 0o644, data: []byte("x")}})
	linkDir := t.TempDir()
	badLink := writeTarGz(t, linkDir, []member{{name: "a/l", mode: os.ModeSymlink | 0o777, data: []byte("../../etc")}})
	dest := t.TempDir()
	tests := []struct {
		name string
		args *engine.Args
		want string
	}{
		{"creates not in archive", args(good, dest, "a/nope"), "not a path the archive"},
		{"creates outside dest", args(good, dest, "/etc/passwd"), "not a path the archive"},
		{"zip slip", args(slip, dest, "a/x.txt"), "leaves the destination"},
		{"link out", args(badLink, dest, "a/l"), "points outside"},
		{"not an archive", args(filepath.Join(dir, "x.rar"), dest, "a"), "not a .zip"},
		{"relative dest", args(good, "opt", "a/x.txt"), "absolute"},
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

// TestOwner gives the created top-level entries (recursively) to the named owner.
func TestOwner(t *testing.T) {
	src := writeZip(t, t.TempDir(), []member{{name: "app/conf/a.properties", mode: 0o644, data: []byte("a=1\n")}})
	dest := t.TempDir()
	h := modtest.Host(t)
	a := engine.NewArgs(Name, map[string]cty.Value{"src": cty.StringVal(src), "dest": cty.StringVal(dest),
		"creates": cty.StringVal("app/conf/a.properties"), "owner": cty.StringVal("daemon"), "group": cty.StringVal("daemon")})
	plan := modtest.Plan(t, h, Module{}, a)
	for _, e := range plan.Effects {
		if e.Kind == engine.EffectFile && e.UID != 1 {
			t.Errorf("effect %s uid %d, want 1", e.Path, e.UID)
		}
	}
	c := modtest.Apply(t, h, Module{}, a)
	for _, p := range []string{"app", "app/conf", "app/conf/a.properties"} {
		st, err := os.Stat(filepath.Join(dest, p))
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 1 {
			t.Errorf("%s uid %d, want 1 (daemon)", p, uid)
		}
	}
	modtest.Revert(t, h, Module{}, c)
	if _, err := os.Stat(filepath.Join(dest, "app")); !os.IsNotExist(err) {
		t.Fatal("revert left app")
	}
}
