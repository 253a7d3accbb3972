package pattern2test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/mysqldb/mariadbtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
)

// TestPattern1 applies playbooks/pattern1.hcl (the IS-only cluster, from the same components)
// with start_servers = true to real sshd nodes: the stand-in IS nodes start one after the other
// and the first sees the second join; then the F11 load balancer, a real nginx already running on
// the fourth node (group "lb"), gets its file, tests it (nginx -t), reloads, and the playbook's own
// check reaches an IS node through it. The test then talks to the LB itself: HTTPS on 443 with
// the configured certificate and HTTP on 80 reach the stand-ins, every request of a client lands
// on the same node (ip_hash), an authenticated API call goes through, and when that node stops the
// next request lands on the other. A second apply changes nothing; a rollback stops the nodes,
// removes everything the run made and reloads nginx, which then serves nothing again.
func TestPattern1(t *testing.T) {
	dir := t.TempDir()
	repo := clitest.RepoRoot(t)
	files := filepath.Join(dir, "files")
	if err := BuildFiles(wso2ref.Dir(t), repo, files); err != nil {
		t.Fatal(err)
	}
	db := mariadbtest.Start(t)
	groups := []string{"mysql", "identity", "identity", "lb"}
	c := testcluster.New(t, testcluster.Options{N: len(groups), Dir: filepath.Join(dir, "cluster"),
		Groups: func(i int) []string { return []string{groups[i]} }})
	// The servers need JAVA_HOME (the stand-in checks it is set, as wso2server.sh does).
	inv, err := os.ReadFile(c.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	invText := regexp.MustCompile(`vars    = \{ index = (\d+) \}`).ReplaceAllString(string(inv), `vars    = { index = $1, java_home = "`+standinJava+`" }`)
	// nginx listens on the LB node's own address.
	lbVars := `vars    = { index = 3, java_home = "` + standinJava + `" }`
	invText = strings.Replace(invText, lbVars, strings.TrimSuffix(lbVars, " }")+`, listen = "`+c.Nodes[3].Address+`" }`, 1)
	if !strings.Contains(invText, `listen = "`) {
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
lb_host = %q
mysql_jar = %q
start_servers = true
lb_config = %q
lb_cert = %q
lb_key = %q
lb_nginx_conf = %q
lb_reload = ["nginx", "-c", %[11]q, "-s", "reload"]
`, IdentityHome, db.Host, db.Port, db.AdminUser, domain, lbName, filepath.Join(files, Jars[0]), lbConfig, lbCert, lbKey, lbMain)), 0o644); err != nil {
		t.Fatal(err)
	}
	lb := newLBNode(t, c, 3)
	if _, _, _, err := lb.get(true, "/carbon/admin/login.jsp", "", ""); err == nil {
		t.Fatal("the LB answers before the playbook configured it; the test would prove nothing")
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
	// The LB's inputs are checked before anything changes, and lb_config = null leaves the LB
	// hosts alone (plans with the variables file edited).
	varsText := string(mustRead(t, vars))
	plan := func(from, to string) (string, error) {
		t.Helper()
		edited := filepath.Join(dir, "edited.vars.hcl")
		if err := os.WriteFile(edited, []byte(strings.Replace(varsText, from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		e := &env{Env: &Env{Repo: repo, Dir: dir, DB: db, Inventory: c.Inventory, Vars: edited, Secrets: passwords}, playbook: "playbooks/pattern1.hcl"}
		return e.runErr("plan")
	}
	if out, err := plan(fmt.Sprintf("lb_cert = %q", lbCert), "lb_cert = null"); err == nil ||
		!strings.Contains(out, "group lb has hosts: set lb_host, lb_cert and lb_key") {
		t.Errorf("plan without lb_cert: %v\n%s", err, out)
	}
	if out, err := plan(fmt.Sprintf("lb_config = %q", lbConfig), "lb_config = null"); err != nil || strings.Contains(out, "load balancer /") ||
		!strings.Contains(out, "host n2") {
		t.Errorf("plan with lb_config = null plans the LB (or fails): %v\n%s", err, out)
	}
	before := []map[string]string{}
	for i := range c.Nodes {
		before = append(before, snapshot(t, c.NodeRoot(i)))
	}
	out := run("apply", "--yes")
	for _, want := range []string{
		`(?m)^Applied: \d+ changed, \d+ in sync, 0 known after apply, \d+ skipped, 0 failed, 4 hosts\.$`,
		`n2: start / node / started: changed`,
		`n3: start / node / started: changed`,
		`n2: verify / members joined: changed`,
		`n4: load balancer / nginx / config: changed`,
		`n4: load balancer / nginx / config test: changed`,
		`n4: load balancer / nginx / reload: changed`,
		`n4: load balancer / nginx / through the load balancer: (changed|in_sync)`,
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
	checkLB(t, lb, c)
	again := run("apply", "--yes")
	if !zeroChanges.MatchString(again) {
		t.Errorf("second apply:\n%s", again)
	}
	failover(t, lb, c)
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
	// The file is gone and nginx reloaded without it: nothing listens on 443 any more.
	if err := until(10*time.Second, func() error { return refused(lb.addr + ":443") }); err != nil {
		t.Errorf("after rollback: %v", err)
	}
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

// checkLB checks the LB the playbook configured: the file it wrote (sticky upstreams of both IS
// nodes, the listen address, name and certificate), nginx -t on the node, and requests through it.
func checkLB(t *testing.T, lb *lbNode, c *testcluster.Cluster) {
	t.Helper()
	is := []string{c.Nodes[1].Address, c.Nodes[2].Address}
	conf := string(mustRead(t, filepath.Join(c.NodeRoot(lb.i), strings.TrimPrefix(lbConfig, "/opt/"))))
	for _, want := range []string{
		"upstream wso2is_https {\n    ip_hash;\n    server " + is[0] + ":9443;\n    server " + is[1] + ":9443;\n}\n",
		"upstream wso2is_http {\n    ip_hash;\n    server " + is[0] + ":9763;\n    server " + is[1] + ":9763;\n}\n",
		"    listen " + lb.addr + ":443 ssl;\n    server_name " + lbName + ";\n    ssl_certificate " + lbCert + ";\n    ssl_certificate_key " + lbKey + ";\n",
		"    listen " + lb.addr + ":80;\n",
		"        proxy_pass https://wso2is_https;\n",
		"        proxy_pass http://wso2is_http;\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("%s lacks %q:\n%s", lbConfig, want, conf)
		}
	}
	if out, err := lb.run(t, "nginx -t -c "+lbMain); err != nil {
		t.Errorf("nginx -t on the LB node: %v\n%s", err, out)
	}
	// HTTPS: the certificate verifies for lb_host, a stand-in IS node answers, and every request
	// of this client goes to the same node.
	var node string
	for i := 0; i < 6; i++ {
		status, n, body, err := lb.get(true, "/carbon/admin/login.jsp", "", "")
		if err != nil || status != 200 || !strings.Contains(body, "Management Console") {
			t.Fatalf("GET https://%s/carbon/admin/login.jsp through the LB: %d %v\n%s", lbName, status, err, body)
		}
		if n != is[0] && n != is[1] {
			t.Fatalf("answered by %q, not an IS node %v", n, is)
		}
		if node == "" {
			node = n
		} else if n != node {
			t.Errorf("request %d went to %s, the first to %s: the LB is not sticky", i+1, n, node)
		}
	}
	// An authenticated call passes through (Carbon's analytics API of the stand-in: admin/admin).
	if status, n, body, err := lb.get(true, "/analytics/tables", "admin", "admin"); err != nil || status != 200 || body != "[]" || n != node {
		t.Errorf("GET /analytics/tables through the LB: %d from %q, %q, %v", status, n, body, err)
	}
	if status, _, _, err := lb.get(true, "/analytics/tables", "admin", "wrong"); err != nil || status != 401 {
		t.Errorf("GET /analytics/tables with a wrong password through the LB: %d, %v", status, err)
	}
	// HTTP on 80 reaches the nodes' HTTP connector (9763).
	if status, n, _, err := lb.get(false, "/carbon/admin/login.jsp", "", ""); err != nil || status != 200 || n != node {
		t.Errorf("GET http://%s/carbon/admin/login.jsp through the LB: %d from %q, %v", lbName, status, n, err)
	}
}

// failover stops the IS node the LB sends this client to; the next requests go to the other.
func failover(t *testing.T, lb *lbNode, c *testcluster.Cluster) {
	t.Helper()
	_, node, _, err := lb.get(true, "/carbon/admin/login.jsp", "", "")
	if err != nil {
		t.Fatal(err)
	}
	i, other := 1, c.Nodes[2].Address
	if node == c.Nodes[2].Address {
		i, other = 2, c.Nodes[1].Address
	}
	if out, err := sshRun(c, i, "JAVA_HOME="+standinJava+" sh "+IdentityHome+"/bin/wso2server.sh stop"); err != nil {
		t.Fatalf("stopping %s: %v\n%s", node, err, out)
	}
	err = until(30*time.Second, func() error {
		status, n, _, err := lb.get(true, "/carbon/admin/login.jsp", "", "")
		if err != nil || status != 200 || n != other {
			return fmt.Errorf("%d from %q (%v)", status, n, err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("after %s stopped, the LB does not send this client to %s: %v", node, other, err)
	}
}
