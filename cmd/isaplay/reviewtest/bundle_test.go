package reviewtest

import (
	"fmt"
	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBundleOffline makes an offline bundle (a jar_copy of a jar at an absolute path and a
// templatefile), removes the originals, then, in a network namespace whose only interface is
// loopback, starts two sshd test nodes and applies the bundle to them. The nodes must hold the
// jar and the rendered template, and the namespace must have no route but loopback.
func TestBundleOffline(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestBundleOffline needs root (unshare --net and the test nodes' mount namespaces)")
	}
	repo := clitest.RepoRoot(t)
	dir, err := os.MkdirTemp("", "isaplay-bundle-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	tc := filepath.Join(dir, "testcluster")
	build := exec.Command("go", "build", "-o", tc, "./inventory/testcluster/cmd/testcluster")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building testcluster: %v\n%s", err, out)
	}

	jar := filepath.Join(dir, "media", "mysql-connector-java-5.1.47-bin.jar")
	jarBytes := []byte("PK\x03\x04 stand-in JDBC driver for the offline bundle test\n")
	files := map[string]string{
		jar:                                      string(jarBytes),
		filepath.Join(dir, "site/greeting.tmpl"): "hello from ${who} at ${site}\n",
		filepath.Join(dir, "site/pb.hcl"): fmt.Sprintf(`play "offline" {
  hosts = "nodes"
  task "file" "lib dir" {
    path  = "/opt/site/lib"
    state = "directory"
  }
  task "jar_copy" "driver" {
    src  = %q
    dest = "/opt/site/lib/"
  }
  task "file" "greeting" {
    path    = "/opt/site/greeting.txt"
    content = templatefile("greeting.tmpl", { who = host.name, site = "air-gapped" })
  }
}
`, jar),
		// The inventory the bundle is evaluated with: the site brings its own.
		filepath.Join(dir, "plan-hosts.hcl"): `host "n1" {
  address = "192.0.2.1"
  groups  = ["nodes"]
}
host "n2" {
  address = "192.0.2.2"
  groups  = ["nodes"]
}
`,
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bundle := filepath.Join(dir, "site.tar.gz")
	mk := exec.Command(isaplayBin, "bundle", filepath.Join(dir, "site/pb.hcl"), "-i", filepath.Join(dir, "plan-hosts.hcl"), "-o", bundle)
	mk.Env = append(os.Environ(), "ISAPLAY_STATE_DIR="+filepath.Join(dir, "bundle-state"))
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("isaplay bundle: %v\n%s", err, out)
	} else if !strings.Contains(string(out), jar) {
		t.Fatalf("the bundle does not list the jar %s:\n%s", jar, out)
	}
	// Only the bundle is left.
	for _, d := range []string{"media", "site"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}

	script := `set -eu
ip link set lo up
cluster="$DIR/cluster"
trap '"$TC" down -dir "$cluster" >/dev/null 2>&1 || true' EXIT
ip -4 route show table all >"$DIR/routes4.txt"
ip -6 route show table all >"$DIR/routes6.txt" 2>/dev/null || true
ip route show default >"$DIR/default.txt"
ip -o link show >"$DIR/links.txt"
if ip route get 192.0.2.1 >/dev/null 2>&1; then echo "192.0.2.1 is routable in the namespace" >&2; exit 9; fi
"$TC" up -n 2 -dir "$cluster" >/dev/null
ISAPLAY_STATE_DIR="$DIR/state" "$ISAPLAY" apply "$DIR/site.tar.gz" -i "$cluster/hosts.hcl" --yes
`
	start := time.Now()
	cmd := exec.Command("unshare", "--net", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "DIR="+dir, "TC="+tc, "ISAPLAY="+isaplayBin)
	out, err := cmd.CombinedOutput()
	t.Logf("offline apply in the loopback-only namespace (2 nodes, start and stop included): %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("offline apply: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Verified bundle") || !strings.Contains(string(out), "Applied: ") {
		t.Errorf("offline apply output:\n%s", out)
	}

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Logf("routes in the namespace:\n%s%s", read("routes4.txt"), read("routes6.txt"))
	if d := strings.TrimSpace(read("default.txt")); d != "" {
		t.Errorf("the namespace has a default route: %s", d)
	}
	for _, f := range []string{"routes4.txt", "routes6.txt"} {
		for _, l := range strings.Split(strings.TrimSpace(read(f)), "\n") {
			if l != "" && !strings.Contains(l, "dev lo ") && !strings.HasSuffix(l, "dev lo") {
				t.Errorf("%s: a route not through loopback: %q", f, l)
			}
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(read("links.txt")), "\n") {
		if !strings.Contains(l, ": lo:") {
			t.Errorf("the namespace has an interface besides lo: %q", l)
		}
	}
	for i, name := range []string{"n1", "n2"} {
		root := filepath.Join(dir, "cluster", name, "opt", "site")
		got, err := os.ReadFile(filepath.Join(root, "lib", filepath.Base(jar)))
		if err != nil || string(got) != string(jarBytes) {
			t.Errorf("node %d jar: %q, %v", i+1, got, err)
		}
		greeting, err := os.ReadFile(filepath.Join(root, "greeting.txt"))
		if want := "hello from " + name + " at air-gapped\n"; err != nil || string(greeting) != want {
			t.Errorf("node %d greeting %q, %v; want %q", i+1, greeting, err, want)
		}
	}
}
