// Package reviewtest proves the change-ticket review features of issue 9 on the real
// pattern-2 playbook: golden plan output in every format, a canary secret that appears in no
// output, journal, saved plan or remote command, and an offline bundle applied in a network
// namespace whose only route is loopback. It runs the real isaplay binary built by TestMain.
package reviewtest

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isaplay/isaplay/cmd/isaplay/pattern2test"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/mysqldb/mariadbtest"
)

// isaplayBin is the real isaplay binary, built once by TestMain.
var isaplayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "isaplay-reviewtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reviewtest:", err)
		os.Exit(1)
	}
	isaplayBin = filepath.Join(dir, "isaplay")
	build := exec.Command("go", "build", "-o", isaplayBin, "github.com/isaplay/isaplay/cmd/isaplay")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "reviewtest: building isaplay:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	anHome = "/opt/wso2/" + pattern2test.AnalyticsDir
	isHome = "/opt/wso2/" + pattern2test.IdentityDir
	link   = "/opt/wso2/is-analytics"
	// canary is part of every secret the run is given; it must appear nowhere.
	canary = "CANARY7f3a"
)

// Secrets, each containing the canary.
var (
	anDBPass  = canary + "-an-db&<1"
	isDBPass  = canary + "-is-db"
	adminPass = canary + "-admin"
	svnPass   = canary + "-svn"
)

// referenceDir finds the real WSO2 files: $ISAPLAY_WSO2_REFERENCE, else shared/wso2-reference
// beside a directory above the working directory. The test fails without them.
func referenceDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ISAPLAY_WSO2_REFERENCE"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "wso2-reference")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Fatal("WSO2 reference files not found: set ISAPLAY_WSO2_REFERENCE or put them in <repo>/../shared/wso2-reference")
	return ""
}

// repoRoot is the isaplay checkout (the directory holding go.mod).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("go.mod not found above " + wd)
		}
	}
}

// env is the pattern-2 test environment: nodes, database, svnserve and the variables file.
type env struct {
	repo, dir, inventory, vars string
	cluster                    *testcluster.Cluster
	db                         *mariadbtest.Server
	svnURL                     string
}

// setup starts five nodes (with sshdConfig appended to their sshd_config), MariaDB and
// svnserve, and writes the variables file.
func setup(t *testing.T, dir, sshdConfig string) *env {
	t.Helper()
	e := &env{repo: repoRoot(t), dir: dir}
	files := filepath.Join(e.dir, "files")
	if err := pattern2test.BuildFiles(referenceDir(t), e.repo, files); err != nil {
		t.Fatal(err)
	}
	e.db = mariadbtest.Start(t)
	groups := []string{"mysql", "analytics", "analytics", "identity", "identity"}
	e.cluster = testcluster.New(t, testcluster.Options{N: len(groups), Dir: filepath.Join(e.dir, "cluster"),
		Groups: func(i int) []string { return []string{groups[i]} }, SSHDConfig: sshdConfig})
	e.inventory = e.cluster.Inventory
	e.svnURL = startSvn(t, filepath.Join(e.dir, "svn"))
	e.vars = filepath.Join(e.dir, "pattern2.vars.hcl")
	vars := fmt.Sprintf(`an_home           = %q
is_home           = %q
db_host           = %q
db_port           = %d
db_admin_user     = %q
an_db_user        = "wso2an"
is_db_user        = "wso2is"
mysql_jar         = %q
svnkit_jar        = %q
trilead_jar       = %q
svn_url           = %q
svn_user          = "wso2"
an_symlink        = %q
an_cluster_domain = "review.analytics.domain"
is_cluster_domain = "review.is.domain"
lb_host           = "is.example.com"
start_servers     = false
`, anHome, isHome, e.db.Host, e.db.Port, e.db.AdminUser, filepath.Join(files, pattern2test.Jars[0]),
		filepath.Join(files, pattern2test.Jars[1]), filepath.Join(files, pattern2test.Jars[2]), e.svnURL, link)
	if err := os.WriteFile(e.vars, []byte(vars), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// startSvn starts a real svnserve with a repository that needs a password, stopped at the end.
func startSvn(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("svnadmin", "create", filepath.Join(dir, "isan")).CombinedOutput(); err != nil {
		t.Fatalf("svnadmin: %v: %s (make deps installs subversion)", err, out)
	}
	conf := "[general]\nanon-access = none\nauth-access = write\npassword-db = passwd\nrealm = isaplay\n"
	if err := os.WriteFile(filepath.Join(dir, "isan/conf/svnserve.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "isan/conf/passwd"), []byte("[users]\nwso2 = "+svnPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for try := 0; try < 20; try++ {
		port := 20000 + (os.Getpid()*11+try*137)%20000
		cmd := exec.Command("svnserve", "--foreground", "-d", "--listen-host", "127.0.0.1", "--listen-port", fmt.Sprint(port), "-r", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		url := fmt.Sprintf("svn://127.0.0.1:%d/isan/", port)
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case <-done:
				goto next
			default:
			}
			out, _ := exec.Command("svn", "info", "--non-interactive", "--no-auth-cache", "--username", "wso2", "--password", svnPass, url).CombinedOutput()
			if strings.Contains(string(out), "Repository Root") {
				t.Cleanup(func() { cmd.Process.Kill(); <-done })
				return url
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("svnserve on %d not ready: %s", port, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	next:
	}
	t.Fatal("svnserve: no free port")
	return ""
}

// result is one isaplay run's separate stdout and stderr.
type result struct {
	args           []string
	stdout, stderr string
	err            error
}

// exec runs isaplay; plan and apply get the pattern-2 playbook (unless the args name a saved
// plan), inventory and variables. Secrets come from the environment.
func (e *env) exec(args ...string) result {
	full := append([]string{}, args...)
	if args[0] == "plan" || (args[0] == "apply" && !strings.HasSuffix(args[len(args)-1], ".plan")) {
		full = append(full, filepath.Join(e.repo, "playbooks/pattern2.hcl"))
	}
	if args[0] == "plan" || args[0] == "apply" {
		full = append(full, "-i", e.inventory, "--var-file", e.vars)
	}
	cmd := exec.Command(isaplayBin, full...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(),
		"ISAPLAY_STATE_DIR="+filepath.Join(e.dir, "state"),
		"ISAPLAY_VAR_db_admin_password="+e.db.AdminPassword,
		"ISAPLAY_VAR_an_db_password="+anDBPass,
		"ISAPLAY_VAR_is_db_password="+isDBPass,
		"ISAPLAY_VAR_admin_password="+adminPass,
		"ISAPLAY_VAR_svn_password="+svnPass,
	)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	return result{args: full, stdout: so.String(), stderr: se.String(), err: err}
}

// must runs isaplay and fails the test on a non-zero exit.
func (e *env) must(t *testing.T, args ...string) result {
	t.Helper()
	r := e.exec(args...)
	if r.err != nil {
		t.Fatalf("isaplay %s: %v\n%s%s", strings.Join(r.args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

// readTree returns every file under dir concatenated.
func readTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(data)
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return b.String()
}
