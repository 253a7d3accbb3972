// Package reviewtest proves the change-ticket review features of issue 9 on the real
// pattern-2 playbook: golden plan output in every format, a canary secret that appears in no
// output, journal, saved plan or remote command, and an offline bundle applied in a network
// namespace whose only route is loopback. It runs the real isaplay binary built by TestMain.
package reviewtest

import (
	"fmt"
	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/cmd/isaplay/pattern2test"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/mysqldb/mariadbtest"
)

// isaplayBin is the real isaplay binary, built once by TestMain.
var isaplayBin string

func TestMain(m *testing.M) { clitest.Main(m, &isaplayBin) }

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
	e := &env{repo: clitest.RepoRoot(t), dir: dir}
	files := filepath.Join(e.dir, "files")
	if err := pattern2test.BuildFiles(wso2ref.Dir(t), e.repo, files); err != nil {
		t.Fatal(err)
	}
	e.db = mariadbtest.Start(t)
	groups := []string{"mysql", "analytics", "analytics", "identity", "identity"}
	e.cluster = testcluster.New(t, testcluster.Options{N: len(groups), Dir: filepath.Join(e.dir, "cluster"),
		Groups: func(i int) []string { return []string{groups[i]} }, SSHDConfig: sshdConfig})
	e.inventory = e.cluster.Inventory
	e.svnURL = clitest.StartSvn(t, filepath.Join(e.dir, "svn"), svnPass)
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
