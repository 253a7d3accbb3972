package pattern2test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/mysqldb/mariadbtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
)

// The product homes and the analytics link the pattern-2 variables file names.
const (
	AnalyticsHome = "/opt/wso2/" + AnalyticsDir
	IdentityHome  = "/opt/wso2/" + IdentityDir
	AnalyticsLink = "/opt/wso2/is-analytics"
)

// Secrets are the passwords a pattern-2 run gets from its environment; the database admin's
// comes from the database server.
type Secrets struct {
	AnDB, ISDB, Admin, Svn string
}

// EnvOptions are what a pattern-2 test chooses: its folder, extra sshd_config lines for every
// node, the prefix of the cluster domains and the secrets.
type EnvOptions struct {
	Dir        string
	SSHDConfig string
	// Domain prefixes an_cluster_domain and is_cluster_domain: stand-in nodes of one domain
	// meet in a shared folder, so concurrent tests need their own.
	Domain  string
	Secrets Secrets
}

// Env is a pattern-2 test environment: five sshd nodes (groups mysql, analytics, analytics,
// identity, identity), MariaDB, svnserve and the variables file, with start_servers = false.
type Env struct {
	Repo, Dir, Inventory, Vars string
	Cluster                    *testcluster.Cluster
	DB                         *mariadbtest.Server
	SvnURL                     string
	// An and IS are the addresses of the analytics and identity nodes, in group order.
	An, IS  []string
	Secrets Secrets
}

// NewEnv builds the packs into o.Dir, starts the nodes, MariaDB and svnserve, and writes the
// variables file; everything stops when the test ends.
func NewEnv(t testing.TB, o EnvOptions) *Env {
	t.Helper()
	e := &Env{Repo: clitest.RepoRoot(t), Dir: o.Dir, Secrets: o.Secrets}
	files := filepath.Join(e.Dir, "files")
	if err := BuildFiles(wso2ref.Dir(t), e.Repo, files); err != nil {
		t.Fatal(err)
	}
	e.DB = mariadbtest.Start(t)
	groups := []string{"mysql", "analytics", "analytics", "identity", "identity"}
	e.Cluster = testcluster.New(t, testcluster.Options{N: len(groups), Dir: filepath.Join(e.Dir, "cluster"),
		Groups: func(i int) []string { return []string{groups[i]} }, SSHDConfig: o.SSHDConfig})
	e.Inventory = e.Cluster.Inventory
	for i, g := range groups {
		switch g {
		case "analytics":
			e.An = append(e.An, e.Cluster.Nodes[i].Address)
		case "identity":
			e.IS = append(e.IS, e.Cluster.Nodes[i].Address)
		}
	}
	e.SvnURL = clitest.StartSvn(t, filepath.Join(e.Dir, "svn"), o.Secrets.Svn)
	e.Vars = filepath.Join(e.Dir, "pattern2.vars.hcl")
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
an_cluster_domain = "%[11]s.analytics.domain"
is_cluster_domain = "%[11]s.is.domain"
lb_host           = "is.example.com"
start_servers     = false
`, AnalyticsHome, IdentityHome, e.DB.Host, e.DB.Port, e.DB.AdminUser, filepath.Join(files, Jars[0]), filepath.Join(files, Jars[1]),
		filepath.Join(files, Jars[2]), e.SvnURL, AnalyticsLink, o.Domain)
	if err := os.WriteFile(e.Vars, []byte(vars), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// Command runs bin with args in e.Dir, with its own state folder and every secret in the
// environment (never on the command line, where ps would show it).
func (e *Env) Command(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(),
		"ISAPLAY_STATE_DIR="+filepath.Join(e.Dir, "state"),
		"ISAPLAY_VAR_db_admin_password="+e.DB.AdminPassword,
		"ISAPLAY_VAR_an_db_password="+e.Secrets.AnDB,
		"ISAPLAY_VAR_is_db_password="+e.Secrets.ISDB,
		"ISAPLAY_VAR_admin_password="+e.Secrets.Admin,
		"ISAPLAY_VAR_svn_password="+e.Secrets.Svn,
	)
	return cmd
}
