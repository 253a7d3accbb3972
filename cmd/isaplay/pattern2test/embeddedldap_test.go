package pattern2test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/wso2ref"
)

// TestEmbeddedLDAPOff applies playbooks/lib/carbon-jdbc-user-store.hcl (spec F5) to a real sshd
// node holding the IS user-mgt.xml and, at first, no embedded-ldap.xml: asking for the LDAP to be
// switched off fails the plan naming the missing file, before any change; leaving it alone
// (embedded_ldap = null) plans only the user store. With the file in place the apply changes
// exactly the one enable line, a second apply nothing, and a rollback restores every byte.
func TestEmbeddedLDAPOff(t *testing.T) {
	repo := clitest.RepoRoot(t)
	dir := t.TempDir()
	c := testcluster.New(t, testcluster.Options{N: 1, Dir: filepath.Join(dir, "cluster")})
	conf := filepath.Join(c.NodeRoot(0), "is")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	userMgt := mustRead(t, filepath.Join(wso2ref.Dir(t), "is-5.6.0/test-artifact-default-user-mgt.xml"))
	if err := os.WriteFile(filepath.Join(conf, "user-mgt.xml"), userMgt, 0o644); err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(dir, "f5.hcl")
	if err := os.WriteFile(pb, []byte(fmt.Sprintf(`variable "embedded_ldap" {
  type    = string
  default = "/opt/is/embedded-ldap.xml"
}
play "is" {
  hosts = "nodes"
  include "user store" {
    source        = %q
    path          = "/opt/is/user-mgt.xml"
    datasource    = "jdbc/WSO2UserDS"
    embedded_ldap = var.embedded_ldap
  }
}
`, filepath.Join(repo, "playbooks/lib/carbon-jdbc-user-store.hcl"))), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(wantErr bool, args ...string) string {
		t.Helper()
		if args[0] == "plan" || args[0] == "apply" {
			args = append(args, pb, "-i", c.Inventory)
		}
		return isaplayIn(t, dir, wantErr, args...)
	}

	// The pack has no embedded-ldap.xml: a clear plan failure, nothing touched.
	before := snapshot(t, c.NodeRoot(0))
	out := run(true, "apply", "--yes")
	if !strings.Contains(out, "/opt/is/embedded-ldap.xml: file does not exist") || !strings.Contains(out, "embedded ldap off") {
		t.Errorf("the failure does not name the missing file and its task:\n%s", out)
	}
	if d := diffSnapshots(before, snapshot(t, c.NodeRoot(0))); d != "" {
		t.Errorf("a failed plan changed the node:\n%s", d)
	}
	// The explicit opt-out: only the user store is planned.
	off := filepath.Join(dir, "off.vars.hcl")
	if err := os.WriteFile(off, []byte("embedded_ldap = null\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = run(false, "plan", "--var-file", off)
	if strings.Contains(out, "embedded-ldap") || !strings.Contains(out, "user-mgt.xml") {
		t.Errorf("plan with embedded_ldap = null:\n%s", out)
	}

	fixture := mustRead(t, filepath.Join(repo, "testdata/pattern2/is-conf/embedded-ldap.xml"))
	if err := os.WriteFile(filepath.Join(conf, "embedded-ldap.xml"), fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, c.NodeRoot(0))
	run(false, "apply", "--yes")
	got := string(mustRead(t, filepath.Join(conf, "embedded-ldap.xml")))
	want := strings.Replace(string(fixture), `<Property name="enable">true</Property>`, `<Property name="enable">false</Property>`, 1)
	if got != want {
		t.Errorf("embedded-ldap.xml is not the shipped file with only enable switched off:\n%s", engine.Diff("embedded-ldap.xml", want, got))
	}
	if again := run(false, "apply", "--yes"); !zeroChanges.MatchString(again) {
		t.Errorf("second apply:\n%s", again)
	}
	run(false, "rollback", (&env{Env: &Env{Dir: dir}}).lastChangedRun(t), "--yes")
	if d := diffSnapshots(before, snapshot(t, c.NodeRoot(0))); d != "" {
		t.Errorf("after rollback:\n%s", d)
	}
}
