package pattern2test

import (
	"fmt"
	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/mysqldb/mariadbtest"
)

// TestPattern1 applies playbooks/pattern1.hcl (the IS-only cluster, from the same components)
// with start_servers = true: the stand-in IS nodes start one after the other and the first sees
// the second join. A second apply changes nothing; a rollback stops the nodes and removes
// everything the run made.
func TestPattern1(t *testing.T) {
	dir := t.TempDir()
	repo := clitest.RepoRoot(t)
	files := filepath.Join(dir, "files")
	if err := BuildFiles(wso2ref.Dir(t), repo, files); err != nil {
		t.Fatal(err)
	}
	db := mariadbtest.Start(t)
	groups := []string{"mysql", "identity", "identity"}
	c := testcluster.New(t, testcluster.Options{N: len(groups), Dir: filepath.Join(dir, "cluster"),
		Groups: func(i int) []string { return []string{groups[i]} }})
	// The servers need JAVA_HOME (the stand-in checks it is set, as wso2server.sh does).
	inv, err := os.ReadFile(c.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	invText := regexp.MustCompile(`vars    = \{ index = (\d+) \}`).ReplaceAllString(string(inv), `vars    = { index = $1, java_home = "/usr/lib/jvm/default-java" }`)
	if invText == string(inv) {
		t.Fatalf("inventory without host vars:\n%s", inv)
	}
	if err := os.WriteFile(c.Inventory, []byte(invText), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := filepath.Join(dir, "pattern1.vars.hcl")
	// A cluster domain of this test only: stand-in nodes of one domain meet in a shared folder.
	domain := fmt.Sprintf("p1test%d.is.domain", os.Getpid())
	if err := os.WriteFile(vars, []byte(fmt.Sprintf(`is_home = %q
db_host = %q
db_port = %d
db_admin_user = %q
is_db_user = "wso2is"
is_cluster_domain = %q
lb_host = "is.example.com"
mysql_jar = %q
start_servers = true
`, IdentityHome, db.Host, db.Port, db.AdminUser, domain, filepath.Join(files, Jars[0]))), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		e := &env{Env: &Env{Repo: repo, Dir: dir, DB: db, Inventory: c.Inventory, Vars: vars, Secrets: passwords}, playbook: "playbooks/pattern1.hcl"}
		out, err := e.runErr(args...)
		if err != nil {
			t.Fatalf("isaplay %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if strings.Contains(out, isDBPass) || strings.Contains(out, db.AdminPassword) {
			t.Errorf("isaplay %s shows a password", args[0])
		}
		return out
	}
	before := []map[string]string{}
	for i := range c.Nodes {
		before = append(before, snapshot(t, c.NodeRoot(i)))
	}
	out := run("apply", "--yes")
	for _, want := range []string{
		`(?m)^Applied: \d+ changed, \d+ in sync, 0 known after apply, \d+ skipped, 0 failed, 3 hosts\.$`,
		`n2: start / node / started: changed`,
		`n3: start / node / started: changed`,
		`n2: verify / members joined: changed`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apply output lacks %s:\n%s", want, out)
		}
	}
	// is1 started first: is2's start came after is1's readiness line.
	log1 := string(mustRead(t, filepath.Join(c.NodeRoot(1), "wso2", IdentityDir, "repository/logs/wso2carbon.log")))
	if !strings.Contains(log1, "Member joined") || !strings.Contains(log1, "Elected this member") {
		t.Errorf("is1 was not the first member or did not see is2 join:\n%s", log1)
	}
	again := run("apply", "--yes")
	if !zeroChanges.MatchString(again) {
		t.Errorf("second apply:\n%s", again)
	}
	// Undo the first run (the last one changed nothing): nodes stopped, trees as before.
	runs := run("runs")
	first := ""
	for _, line := range strings.Split(runs, "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[0] != "RUN" && f[5] != "0" {
			first = f[0]
		}
	}
	if first == "" {
		t.Fatalf("no run with changes:\n%s", runs)
	}
	run("rollback", first, "--yes")
	for i := range c.Nodes {
		if d := diffSnapshots(before[i], snapshot(t, c.NodeRoot(i))); d != "" {
			t.Errorf("%s after rollback:\n%s", c.Nodes[i].Name, d)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
