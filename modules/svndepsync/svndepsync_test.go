package svndepsync

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/modules/service"
	"github.com/isaplay/isaplay/modules/waitlog"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/zclconf/go-cty/cty"
)

const svnPassword = `s3cr&t<"pw'`

// svnserve starts a real svnserve on a free loopback port with one user, and returns its URL.
func svnserve(t *testing.T) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if out, err := exec.Command("svnadmin", "create", repo).CombinedOutput(); err != nil {
		t.Fatalf("svnadmin create: %v: %s", err, out)
	}
	conf := "[general]\nanon-access = none\nauth-access = write\npassword-db = passwd\nrealm = isaplay\n"
	if err := os.WriteFile(filepath.Join(repo, "conf", "svnserve.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "conf", "passwd"), []byte("[users]\nwso2 = "+svnPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("svnserve", "-d", "--foreground", "-r", repo, "--listen-host", "127.0.0.1", "--listen-port", port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Wait until it accepts connections (a condition with a deadline, not a fixed sleep).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("svnserve does not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "svn://" + addr + "/"
}

// home makes a product home with the real carbon.xml.
func home(t *testing.T) (string, []byte) {
	t.Helper()
	h := t.TempDir()
	data, err := os.ReadFile(filepath.Join(wso2ref.Dir(t), "repository/conf/carbon.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"repository/conf", "repository/components/dropins", "repository/components/lib"} {
		if err := os.MkdirAll(filepath.Join(h, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(h, "repository/conf/carbon.xml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return h, data
}

func fakeJar(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("PK\x03\x04 "+name), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newHost(t *testing.T) *engine.Host {
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	h.AddSecret(svnPassword)
	return h
}

func TestManagerConfigApplyRevert(t *testing.T) {
	url := svnserve(t)
	dir, orig := home(t)
	h := newHost(t)
	ctx := context.Background()
	a := engine.NewArgs(Name, map[string]cty.Value{
		"home": cty.StringVal(dir), "role": cty.StringVal("manager"), "svn_url": cty.StringVal(url),
		"svn_user": cty.StringVal("wso2"), "svn_password": cty.StringVal(svnPassword),
		"svnkit_jar": cty.StringVal(fakeJar(t, "svnkit-all-1.8.7.wso2v1.jar")), "trilead_jar": cty.StringVal(fakeJar(t, "trilead-ssh2-1.0.0-build215.jar")),
	})
	plan, err := Module{}.Check(ctx, h.Planning(), a)
	if err != nil {
		t.Fatal(err)
	}
	shown := plan.Summary + plan.Diff + strings.Join(plan.Details, "\n")
	if plan.Action != engine.ActionUpdate || !strings.Contains(plan.Diff, "+        <SvnUrl>"+url+"</SvnUrl>") ||
		!strings.Contains(plan.Diff, "+        <AutoCommit>true</AutoCommit>") || !strings.Contains(shown, "is reachable from an1") || len(plan.Risks) != 1 {
		t.Fatalf("plan:\n%s\n%+v", shown, plan)
	}
	if strings.Contains(shown, "s3cr") || strings.Contains(shown, "&amp;t") {
		t.Fatalf("plan shows the SVN password:\n%s", shown)
	}

	c, err := Module{}.Check(ctx, h, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Module{}).Apply(ctx, h, c); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "repository/conf/carbon.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// Only the live DeploymentSynchronizer changed: the bytes before it and after it are
	// identical, the commented registry-based block included, and no trailing newline appears.
	start := bytes.Index(orig, []byte("<DeploymentSynchronizer>"))
	end := bytes.Index(orig, []byte("</DeploymentSynchronizer>"))
	gotEnd := bytes.Index(got, []byte("</DeploymentSynchronizer>"))
	if !bytes.Equal(got[:start], orig[:start]) || !bytes.Equal(got[gotEnd:], orig[end:]) {
		t.Fatal("bytes outside the DeploymentSynchronizer element changed")
	}
	section := string(got[start:gotEnd])
	for _, want := range []string{"<Enabled>true</Enabled>", "<AutoCommit>true</AutoCommit>", "<SvnUrl>" + url + "</SvnUrl>", "<SvnUser>wso2</SvnUser>",
		"<SvnPassword>s3cr&amp;t&lt;\"pw'</SvnPassword>", "<SvnUrlAppendTenantId>true</SvnUrlAppendTenantId>"} {
		if !strings.Contains(section, want) {
			t.Errorf("carbon.xml lacks %s:\n%s", want, section)
		}
	}
	for _, jar := range []string{"repository/components/dropins/svnkit-all-1.8.7.wso2v1.jar", "repository/components/lib/trilead-ssh2-1.0.0-build215.jar"} {
		if _, err := os.Stat(filepath.Join(dir, jar)); err != nil {
			t.Errorf("%s not installed: %v", jar, err)
		}
	}
	again, err := Module{}.Check(ctx, h, a)
	if err != nil || again.Action != engine.ActionNone {
		t.Fatalf("second check: %+v %v", again, err)
	}

	// Carbon made an OSGi bundle of the trilead jar; undo removes it with everything else.
	wrapper := filepath.Join(dir, "repository/components/dropins/trilead_ssh2_1.0.0_build215_1.0.0.jar")
	if err := os.WriteFile(wrapper, []byte("bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Module{}).CheckRevert(ctx, h, c.Undo); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := (Module{}).Revert(ctx, h, c.Undo); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = os.ReadFile(filepath.Join(dir, "repository/conf/carbon.xml"))
	if !bytes.Equal(got, orig) {
		t.Fatal("revert did not restore carbon.xml byte for byte")
	}
	for _, p := range []string{wrapper, filepath.Join(dir, "repository/components/dropins/svnkit-all-1.8.7.wso2v1.jar"), filepath.Join(dir, "repository/components/lib/trilead-ssh2-1.0.0-build215.jar")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after revert", p)
		}
	}
}

func TestReachabilityAndURLChecks(t *testing.T) {
	url := svnserve(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "svn://" + l.Addr().String() + "/"
	l.Close()
	dir, orig := home(t)
	tests := []struct {
		name    string
		vals    map[string]cty.Value
		wantErr string
	}{
		{"unreachable", map[string]cty.Value{"svn_url": cty.StringVal(closed)}, "is not reachable from an1 (tcp "},
		{"svn+ssh", map[string]cty.Value{"svn_url": cty.StringVal("svn+ssh://svn.example.com/repos")}, "svn+ssh is not supported"},
		{"ftp", map[string]cty.Value{"svn_url": cty.StringVal("ftp://svn.example.com/repos")}, `scheme "ftp" is not http, https or svn`},
		{"bad role", map[string]cty.Value{"svn_url": cty.StringVal(url), "role": cty.StringVal("leader")}, `role must be "manager" or "worker"`},
		{"svn check, wrong password", map[string]cty.Value{"svn_url": cty.StringVal(url), "check": cty.StringVal("svn"), "svn_password": cty.StringVal("wrong")}, "svn info: exit 1"},
		{"svn check, right password", map[string]cty.Value{"svn_url": cty.StringVal(url), "check": cty.StringVal("svn")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]cty.Value{"home": cty.StringVal(dir), "role": cty.StringVal("worker"), "svn_user": cty.StringVal("wso2"), "svn_password": cty.StringVal(svnPassword)}
			for k, v := range tt.vals {
				vals[k] = v
			}
			h := newHost(t)
			h.AddSecret("wrong")
			c, err := Module{}.Check(context.Background(), h.Planning(), engine.NewArgs(Name, vals))
			if tt.wantErr == "" {
				if err != nil || c.Action != engine.ActionUpdate || !strings.Contains(strings.Join(c.Details, "\n"), "checked: svn info") {
					t.Fatalf("%+v %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("want %q, got %v", tt.wantErr, err)
			}
			if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "s3cr") {
				t.Fatalf("error shows a password: %v", err)
			}
		})
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "repository/conf/carbon.xml")); !bytes.Equal(got, orig) {
		t.Fatal("a failed check changed carbon.xml")
	}
}

// TestStandinReadsDepSync: the stand-in node reads what svn_depsync wrote: with the SVNKit jar
// it checks out with SVN Kit; a worker without it falls back to the command-line client.
func TestStandinReadsDepSync(t *testing.T) {
	url := svnserve(t)
	script, err := os.ReadFile(filepath.Join("..", "..", "testdata", "standin", "wso2server.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		role, want, fail string
		svnkit           bool
	}{
		{"manager", `Checked out using SVN Kit`, `CmdLineClientAdapter`, true},
		{"worker", `Checked out using CmdLineClientAdapter`, `SVN Kit`, false},
	} {
		t.Run(tt.role, func(t *testing.T) {
			dir, _ := home(t)
			if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "bin/wso2server.sh"), script, 0o755); err != nil {
				t.Fatal(err)
			}
			h := newHost(t)
			ctx := context.Background()
			vals := map[string]cty.Value{"home": cty.StringVal(dir), "role": cty.StringVal(tt.role), "svn_url": cty.StringVal(url),
				"svn_user": cty.StringVal("wso2"), "svn_password": cty.StringVal(svnPassword)}
			if tt.svnkit {
				vals["svnkit_jar"] = cty.StringVal(fakeJar(t, "svnkit-all-1.8.7.wso2v1.jar"))
			}
			c, err := Module{}.Check(ctx, h, engine.NewArgs(Name, vals))
			if err != nil {
				t.Fatal(err)
			}
			if err := (Module{}).Apply(ctx, h, c); err != nil {
				t.Fatal(err)
			}
			svc := map[string]cty.Value{
				"script": cty.StringVal(filepath.Join(dir, "bin/wso2server.sh")), "pid_file": cty.StringVal(filepath.Join(dir, "wso2carbon.pid")),
				"log_file": cty.StringVal(filepath.Join(dir, "repository/logs/wso2carbon.log")), "wait_timeout": cty.StringVal("30s"),
				"env": cty.MapVal(map[string]cty.Value{"JAVA_HOME": cty.StringVal("/usr/lib/jvm/standin"), "STANDIN_CLUSTER_DIR": cty.StringVal(t.TempDir())}),
			}
			t.Cleanup(func() {
				if c, err := (service.StopModule{}).Check(ctx, h, engine.NewArgs(service.NameStop, svc)); err == nil && c.Action != engine.ActionNone {
					_ = service.StopModule{}.Apply(ctx, h, c)
				}
			})
			sc, err := service.StartModule{}.Check(ctx, h, engine.NewArgs(service.NameStart, svc))
			if err != nil {
				t.Fatal(err)
			}
			if err := (service.StartModule{}).Apply(ctx, h, sc); err != nil {
				t.Fatal(err)
			}
			wc, err := waitlog.Module{}.Check(ctx, h, engine.NewArgs(waitlog.Name, map[string]cty.Value{
				"path": svc["log_file"], "from": sc.Result.GetAttr("log_cursor"), "wait_timeout": cty.StringVal("30s"),
				"patterns":      cty.ListVal([]cty.Value{cty.StringVal(tt.want), cty.StringVal(`Completed initial artifact synchronization for tenant: -1234`)}),
				"fail_patterns": cty.ListVal([]cty.Value{cty.StringVal(tt.fail), cty.StringVal(`Provided SVN URL is malformed`)}),
			}))
			if err != nil {
				t.Fatal(err)
			}
			if err := (waitlog.Module{}).Apply(ctx, h, wc); err != nil {
				t.Fatal(err)
			}
		})
	}
}
