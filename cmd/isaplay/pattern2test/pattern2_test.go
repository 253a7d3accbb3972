package pattern2test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/engine/journal"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// isaplayBin is the real isaplay binary, built once by TestMain.
var isaplayBin string

func TestMain(m *testing.M) { clitest.Main(m, &isaplayBin) }

// Canary secrets: none may appear in any plan, apply output or journal.
const (
	anDBPass  = "canary-an-db-Pw&<1"
	isDBPass  = "canary-is-db-Pw2"
	adminPass = "canary-admin-Pw3"
	svnPass   = "canary-svn-Pw4"
)

// passwords are the secrets every run of this package gets.
var passwords = Secrets{AnDB: anDBPass, ISDB: isDBPass, Admin: adminPass, Svn: svnPass}

// env is the pattern-2 test environment and the playbook it applies.
type env struct {
	*Env
	// playbook is relative to Repo; default playbooks/pattern2.hcl.
	playbook string
}

func setup(t *testing.T) *env {
	t.Helper()
	return &env{Env: NewEnv(t, EnvOptions{Dir: t.TempDir(), Domain: fmt.Sprintf("p2test%d", os.Getpid()), Secrets: passwords})}
}

// run runs isaplay with the pattern-2 playbook, inventory and variables; secrets come from the
// environment. It returns the combined output and fails the test on a non-zero exit.
func (e *env) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.runErr(args...)
	if err != nil {
		t.Fatalf("isaplay %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (e *env) runErr(args ...string) (string, error) {
	return e.runEnv(nil, args...)
}

// runEnv runs isaplay as runErr does, with extra environment variables (they win over the
// defaults: the last value of a key is the one used).
func (e *env) runEnv(extra []string, args ...string) (string, error) {
	full := args
	if args[0] == "plan" || args[0] == "apply" {
		pb := e.playbook
		if pb == "" {
			pb = "playbooks/pattern2.hcl"
		}
		full = append(append([]string{}, args...), filepath.Join(e.Repo, pb), "-i", e.Inventory, "--var-file", e.Vars)
	}
	cmd := e.Command(isaplayBin, full...)
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// secrets are every password the run knows.
func (e *env) secrets() []string {
	return []string{anDBPass, isDBPass, adminPass, svnPass, e.DB.AdminPassword, xmlEscape(anDBPass)}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func (e *env) noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range e.secrets() {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the password %q", what, s)
		}
	}
}

// TestPattern2 applies playbooks/pattern2.hcl (start_servers = false) to five real sshd nodes with
// the real WSO2 files, then checks every value the spec sets per node, that nothing else
// changed, the databases, an idempotent second apply, and a byte-exact rollback.
func TestPattern2(t *testing.T) {
	e := setup(t)
	before := map[int]map[string]string{}
	for i := range e.Cluster.Nodes {
		before[i] = snapshot(t, e.Cluster.NodeRoot(i))
	}
	admin := e.DB.Admin(t)
	dbsBefore := queryList(t, admin, "SELECT schema_name FROM information_schema.schemata ORDER BY 1")
	usersBefore := queryList(t, admin, "SELECT CONCAT(user, '@', host) FROM mysql.user ORDER BY 1")

	plan := e.run(t, "plan")
	e.noSecrets(t, "plan", plan)
	if !regexp.MustCompile(`(?m)^Plan: \d+ to change, .* 0 failed, 5 hosts\.$`).MatchString(plan) {
		t.Fatalf("plan summary:\n%s", plan)
	}
	e.noSecrets(t, "markdown plan", e.run(t, "plan", "--format", "markdown"))
	e.noSecrets(t, "json plan", e.run(t, "plan", "--format", "json"))

	start := time.Now()
	apply := e.run(t, "apply", "--yes")
	wall := time.Since(start)
	t.Logf("pattern 2 apply (A-D and F, start_servers = false, 5 nodes): %v", wall.Round(time.Millisecond))
	e.noSecrets(t, "apply", apply)
	if !regexp.MustCompile(`(?m)^Applied: \d+ changed, \d+ in sync, 0 known after apply, \d+ skipped, 0 failed, 5 hosts\.$`).MatchString(apply) {
		t.Fatalf("apply summary:\n%s", apply)
	}

	t.Run("analytics values", func(t *testing.T) { e.checkAnalytics(t) })
	t.Run("identity values", func(t *testing.T) { e.checkIdentity(t) })
	t.Run("nothing else changed", func(t *testing.T) { e.checkUnchanged(t) })
	t.Run("databases", func(t *testing.T) { e.checkDatabases(t, admin) })

	again := e.run(t, "apply", "--yes")
	if !zeroChanges.MatchString(again) {
		t.Errorf("second apply changed something:\n%s", again)
	}
	e.noSecrets(t, "second apply", again)
	journalText := readTree(t, filepath.Join(e.Dir, "state"))
	e.noSecrets(t, "journal", journalText)

	// Roll back the first apply: every node's /opt and the database server are as before.
	rb := e.run(t, "rollback", e.lastChangedRun(t), "--yes")
	e.noSecrets(t, "rollback", rb)
	for i := range e.Cluster.Nodes {
		after := snapshot(t, e.Cluster.NodeRoot(i))
		if d := diffSnapshots(before[i], after); d != "" {
			t.Errorf("%s after rollback differs from before the apply:\n%s", e.Cluster.Nodes[i].Name, d)
		}
	}
	if got := queryList(t, admin, "SELECT schema_name FROM information_schema.schemata ORDER BY 1"); strings.Join(got, ",") != strings.Join(dbsBefore, ",") {
		t.Errorf("databases after rollback %v, before %v", got, dbsBefore)
	}
	if got := queryList(t, admin, "SELECT CONCAT(user, '@', host) FROM mysql.user ORDER BY 1"); strings.Join(got, ",") != strings.Join(usersBefore, ",") {
		t.Errorf("users after rollback %v, before %v", got, usersBefore)
	}
}

// lastChangedRun is the id of the newest journaled run that changed something (the later
// applies of a test change nothing, so it is the first apply).
func (e *env) lastChangedRun(t *testing.T) string {
	t.Helper()
	runs, err := journal.List(filepath.Join(e.Dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, r := range runs {
		if len(r.Changes) > 0 {
			id = r.Meta.RunID
		}
	}
	if id == "" {
		t.Fatal("no run with changes in the journal")
	}
	return id
}

// zeroChanges is the summary of an apply that changed nothing: no changes planned, or only
// checks known at apply time that all found the hosts in sync.
var zeroChanges = regexp.MustCompile(`(?m)^(No changes\. Every host is in sync\.|Applied: 0 changed, \d+ in sync, 0 known after apply, \d+ skipped, 0 failed, \d+ hosts\.)$`)

// nodeFile reads a file of the node with address ip (its /opt as the controller sees it).
func (e *env) nodeFile(t *testing.T, ip, path string) []byte {
	t.Helper()
	for i, n := range e.Cluster.Nodes {
		if n.Address == ip {
			b, err := os.ReadFile(filepath.Join(e.Cluster.NodeRoot(i), strings.TrimPrefix(path, "/opt/")))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no node %s", ip)
	return nil
}

// xpathCheck asserts the string values of what an XPath selects in a node's file.
type xpathCheck struct {
	file, xpath string
	want        []string
}

func (e *env) checkXPaths(t *testing.T, ip string, ns map[string]string, checks []xpathCheck) {
	t.Helper()
	docs := map[string]*xmldoc.Document{}
	for _, c := range checks {
		d := docs[c.file]
		if d == nil {
			var err error
			if d, err = xmldoc.Parse(e.nodeFile(t, ip, c.file)); err != nil {
				t.Fatalf("%s on %s: %v", c.file, ip, err)
			}
			docs[c.file] = d
		}
		nodes, err := d.SelectString(c.xpath, ns)
		if err != nil {
			t.Fatalf("%s: %v", c.xpath, err)
		}
		var got []string
		for _, n := range nodes {
			got = append(got, strings.TrimSpace(n.Value()))
		}
		if strings.Join(got, "\x00") != strings.Join(c.want, "\x00") {
			t.Errorf("%s: %s %s = %q, want %q", ip, filepath.Base(c.file), c.xpath, got, c.want)
		}
	}
}

func (e *env) jdbc(db string) string {
	return fmt.Sprintf("jdbc:mysql://%s:%d/%s?autoReconnect=true&useSSL=false", e.DB.Host, e.DB.Port, db)
}

func (e *env) checkAnalytics(t *testing.T) {
	conf := AnalyticsHome + "/repository/conf/"
	ds := conf + "datasources/master-datasources.xml"
	ads := conf + "datasources/analytics-datasources.xml"
	ep := conf + "event-processor.xml"
	ax := conf + "axis2/axis2.xml"
	reg := conf + "registry.xml"
	um := conf + "user-mgt.xml"
	carbon := conf + "carbon.xml"
	c := map[string]string{"c": "http://wso2.org/projects/carbon/carbon.xml"}
	for i, ip := range e.An {
		mds := "/datasources-configuration/datasources/datasource"
		checks := []xpathCheck{
			// C1
			{ds, mds + "/name", []string{"WSO2_CARBON_DB", "WSO2UM_DB", "WSO2REG_DB"}},
			{ds, mds + "[name='WSO2_CARBON_DB']/definition/configuration/url", []string{"jdbc:h2:./repository/database/WSO2CARBON_DB;DB_CLOSE_ON_EXIT=FALSE;LOCK_TIMEOUT=60000"}},
			{ds, mds + "[name='WSO2UM_DB']/jndiConfig/name", []string{"jdbc/WSO2UM_DB"}},
			{ds, mds + "[name='WSO2UM_DB']/definition/configuration/url", []string{e.jdbc("userdb")}},
			{ds, mds + "[name='WSO2UM_DB']/definition/configuration/username", []string{"wso2an"}},
			{ds, mds + "[name='WSO2UM_DB']/definition/configuration/password", []string{anDBPass}},
			{ds, mds + "[name='WSO2UM_DB']/definition/configuration/driverClassName", []string{"com.mysql.jdbc.Driver"}},
			{ds, mds + "[name='WSO2UM_DB']/definition/configuration/validationInterval", []string{"30000"}},
			{ds, mds + "[name='WSO2REG_DB']/jndiConfig/name", []string{"jdbc/WSO2REG_DB"}},
			{ds, mds + "[name='WSO2REG_DB']/definition/configuration/url", []string{e.jdbc("regdb")}},
			{ds, mds + "[name='WSO2REG_DB']/definition/configuration/password", []string{anDBPass}},
			// C4
			{um, "/UserManager/Realm/Configuration/Property[@name='dataSource']", []string{"jdbc/WSO2UM_DB"}},
			{um, "/UserManager/Realm/Configuration/AdminUser/UserName", []string{"admin"}},
			{um, "/UserManager/Realm/Configuration/AdminUser/Password", []string{adminPass}},
			// C5
			{reg, "/wso2registry/dbConfig[@name='wso2registry']/dataSource", []string{"jdbc/WSO2CarbonDB"}},
			{reg, "/wso2registry/dbConfig[@name='govregistry']/dataSource", []string{"jdbc/WSO2REG_DB"}},
			{reg, "/wso2registry/remoteInstance[id='gov']/cacheId", []string{fmt.Sprintf("wso2an@jdbc:mysql://%s:%d/regdb", e.DB.Host, e.DB.Port)}},
			{reg, "/wso2registry/remoteInstance[id='gov']/dbConfig", []string{"govregistry"}},
			{reg, "/wso2registry/mount/@path", []string{"/_system/governance", "/_system/config"}},
			{reg, "/wso2registry/mount[@path='/_system/config']/targetPath", []string{"/_system/config"}},
			{reg, "/wso2registry/mount[@path='/_system/governance']/instanceId", []string{"gov"}},
			// C6
			{ax, "/axisconfig/clustering/@enable", []string{"true"}},
			{ax, "/axisconfig/clustering/@class", []string{"org.wso2.carbon.core.clustering.hazelcast.HazelcastClusteringAgent"}},
			{ax, "/axisconfig/clustering/parameter[@name='membershipScheme']", []string{"wka"}},
			{ax, "/axisconfig/clustering/parameter[@name='domain']", []string{fmt.Sprintf("p2test%d.analytics.domain", os.Getpid())}},
			{ax, "/axisconfig/clustering/parameter[@name='localMemberHost']", []string{ip}},
			{ax, "/axisconfig/clustering/parameter[@name='localMemberPort']", []string{"4000"}},
			{ax, "/axisconfig/clustering/parameter[@name='AvoidInitiation']", []string{"true"}},
			{ax, "/axisconfig/clustering/members/member/hostName", e.An},
			{ax, "/axisconfig/clustering/members/member/port", []string{"4000", "4000"}},
			// C7
			{ep, "/eventProcessorConfiguration/mode/@enable", []string{"false", "true", "false"}},
			{ep, "/eventProcessorConfiguration/mode[@name='HA']/@enable", []string{"true"}},
			{ep, "/eventProcessorConfiguration/mode[@name='HA']/nodeType/worker/@enable", []string{"true"}},
			{ep, "/eventProcessorConfiguration/mode[@name='HA']/nodeType/presenter/@enable", []string{"false"}},
			{ep, "/eventProcessorConfiguration/mode[@name='HA']/eventSync/hostName", []string{ip}},
			{ep, "/eventProcessorConfiguration/mode[@name='HA']/eventSync/port", []string{"11224"}},
			{ep, "/eventProcessorConfiguration/mode[@name='HA']/management/hostName", []string{ip}},
			{ep, "/eventProcessorConfiguration/mode[@name='HA']/management/port", []string{"10005"}},
			{ep, "/eventProcessorConfiguration/mode[@name='HA']/persistence/@enable", []string{"false"}},
		}
		for _, name := range []string{"WSO2_ANALYTICS_EVENT_STORE_DB", "WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB"} {
			cfg := "/datasources-configuration/datasources/datasource[name='" + name + "']/definition/configuration/"
			checks = append(checks,
				xpathCheck{ads, cfg + "url", []string{e.jdbc(name)}},
				xpathCheck{ads, cfg + "driverClassName", []string{"com.mysql.jdbc.Driver"}},
				xpathCheck{ads, cfg + "username", []string{"wso2an"}},
				xpathCheck{ads, cfg + "password", []string{anDBPass}},
				xpathCheck{ads, cfg + "maxActive", []string{"50"}},
				xpathCheck{ads, cfg + "defaultTransactionIsolation", []string{"READ_COMMITTED"}})
		}
		e.checkXPaths(t, ip, nil, checks)
		// C10, D3: the first node is the deployment synchronizer manager.
		dsx := "/c:Server/c:DeploymentSynchronizer/c:"
		e.checkXPaths(t, ip, c, []xpathCheck{
			{carbon, "/c:Server/c:Ports/c:Offset", []string{"1"}},
			{carbon, dsx + "Enabled", []string{"true"}},
			{carbon, dsx + "AutoCommit", []string{fmt.Sprint(i == 0)}},
			{carbon, dsx + "AutoCheckout", []string{"true"}},
			{carbon, dsx + "RepositoryType", []string{"svn"}},
			{carbon, dsx + "SvnUrl", []string{e.SvnURL}},
			{carbon, dsx + "SvnUser", []string{"wso2"}},
			{carbon, dsx + "SvnPassword", []string{svnPass}},
			{carbon, dsx + "SvnUrlAppendTenantId", []string{"true"}},
		})
		// C8, C9
		spark := string(e.nodeFile(t, ip, conf+"analytics/spark/spark-defaults.conf"))
		for _, line := range []string{"carbon.spark.master local", "carbon.spark.master.count 2", "carbon.das.symbolic.link " + AnalyticsLink} {
			if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(line)+`$`).MatchString(strings.Join(strings.Fields(spark), " ")+"\n") &&
				!regexp.MustCompile(`(?m)^`+strings.ReplaceAll(regexp.QuoteMeta(line), " ", `\s+`)+`\s*$`).MatchString(spark) {
				t.Errorf("%s: spark-defaults.conf lacks %q", ip, line)
			}
		}
		env := string(e.nodeFile(t, ip, AnalyticsHome+"/bin/load-spark-env-vars.sh"))
		if !strings.HasSuffix(env, "\nexport SPARK_LOCAL_IP="+ip+"\n") && !strings.HasSuffix(env, "\nexport SPARK_LOCAL_IP="+ip) {
			t.Errorf("%s: load-spark-env-vars.sh ends %q", ip, env[max(0, len(env)-80):])
		}
		// B2, B3, D1, D2
		root := e.rootOf(t, ip)
		if target, err := os.Readlink(filepath.Join(root, "wso2/is-analytics")); err != nil || target != AnalyticsHome {
			t.Errorf("%s: %s -> %q (%v)", ip, AnalyticsLink, target, err)
		}
		for _, jar := range []string{"repository/components/lib/" + Jars[0], "repository/components/dropins/" + Jars[1], "repository/components/lib/" + Jars[2]} {
			b := e.nodeFile(t, ip, AnalyticsHome+"/"+jar)
			if string(b) != "stand-in for "+filepath.Base(jar)+"\n" {
				t.Errorf("%s: %s = %q", ip, jar, b)
			}
		}
	}
}

func (e *env) rootOf(t *testing.T, ip string) string {
	for i, n := range e.Cluster.Nodes {
		if n.Address == ip {
			return e.Cluster.NodeRoot(i)
		}
	}
	t.Fatalf("no node %s", ip)
	return ""
}

func (e *env) checkIdentity(t *testing.T) {
	conf := IdentityHome + "/repository/conf/"
	c := map[string]string{"c": "http://wso2.org/projects/carbon/carbon.xml"}
	ep := map[string]string{"ep": "http://wso2.org/carbon/eventpublisher"}
	receivers := "tcp://" + e.An[0] + ":7612|tcp://" + e.An[1] + ":7612"
	mds := "/datasources-configuration/datasources/datasource"
	for _, ip := range e.IS {
		e.checkXPaths(t, ip, nil, []xpathCheck{
			{conf + "datasources/master-datasources.xml", mds + "/name", []string{"WSO2_CARBON_DB", "WSO2_USER_DB", "WSO2_CONFIG_REG_DB", "WSO2_IDENTITY_DB", "WSO2_CONSENT_DB"}},
			{conf + "datasources/master-datasources.xml", mds + "[name='WSO2_USER_DB']/definition/configuration/url", []string{e.jdbc("WSO2_UM_DB")}},
			{conf + "datasources/master-datasources.xml", mds + "[name='WSO2_IDENTITY_DB']/definition/configuration/defaultAutoCommit", []string{"false"}},
			{conf + "datasources/master-datasources.xml", mds + "[name='WSO2_CONSENT_DB']/jndiConfig/name", []string{"jdbc/WSO2ConsentDS"}},
			{conf + "user-mgt.xml", "/UserManager/Realm/UserStoreManager/@class", []string{"org.wso2.carbon.user.core.jdbc.JDBCUserStoreManager"}},
			{conf + "user-mgt.xml", "/UserManager/Realm/Configuration/Property[@name='dataSource']", []string{"jdbc/WSO2UserDS"}},
			{conf + "registry.xml", "/wso2registry/mount[@path='/_system/config']/targetPath", []string{"/_system/config/is"}},
			{conf + "registry.xml", "/wso2registry/mount[@path='/_system/governance']/targetPath", []string{"/_system/governance/is"}},
			{conf + "axis2/axis2.xml", "/axisconfig/clustering/parameter[@name='domain']", []string{fmt.Sprintf("p2test%d.is.domain", os.Getpid())}},
			{conf + "axis2/axis2.xml", "/axisconfig/clustering/parameter[@name='localMemberHost']", []string{ip}},
			{conf + "axis2/axis2.xml", "/axisconfig/clustering/members/member/hostName", e.IS},
			{conf + "tomcat/catalina-server.xml", "/Server/Service/Connector[@port='9763']/@proxyPort", []string{"80"}},
			{conf + "tomcat/catalina-server.xml", "/Server/Service/Connector[@port='9443']/@proxyPort", []string{"443"}},
			// F5: the embedded LDAP is off; the KDC's look-alike "enabled" and the port tokens stay.
			{conf + "identity/embedded-ldap.xml", "/EmbeddedLDAPConfig/EmbeddedLDAP/Property[@name='enable']", []string{"false"}},
			{conf + "identity/embedded-ldap.xml", "/EmbeddedLDAPConfig/KDCServer/Property[@name='enabled']", []string{"false"}},
			{conf + "identity/embedded-ldap.xml", "//Property[@name='port']", []string{"${Ports.EmbeddedLDAP.LDAPServerPort}", "${Ports.EmbeddedLDAP.KDCServerPort}"}},
		})
		e.checkXPaths(t, ip, c, []xpathCheck{
			{conf + "carbon.xml", "/c:Server/c:HostName", []string{"is.example.com"}},
			{conf + "carbon.xml", "/c:Server/c:MgtHostName", []string{"is.example.com"}},
			{conf + "carbon.xml", "/c:Server/c:Ports/c:Offset", []string{"0"}},
			{conf + "identity/identity.xml", "/c:Server/c:JDBCPersistenceManager/c:DataSource/c:Name", []string{"jdbc/WSO2IdentityDS"}},
		})
		// Removing the LDAP store keeps the comments around it.
		if um := string(e.nodeFile(t, ip, conf+"user-mgt.xml")); !strings.Contains(um, "\t\t<!--  This is the default configuration -->\n") ||
			strings.Contains(um, "ldap.ReadWriteLDAPUserStoreManager\">") {
			t.Errorf("%s: user-mgt.xml lost a comment or kept the LDAP store", ip)
		}
		for _, p := range []string{"AuthenticationData", "SessionData"} {
			f := IdentityHome + "/repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-" + p + ".xml"
			e.checkXPaths(t, ip, ep, []xpathCheck{
				{f, "/ep:eventPublisher/ep:to/ep:property[@name='receiverURL']", []string{receivers}},
				{f, "/ep:eventPublisher/ep:to/ep:property[@name='username']", []string{"admin"}},
				{f, "/ep:eventPublisher/ep:to/ep:property[@name='password'][@encrypted='false']", []string{adminPass}},
			})
		}
	}
}

// changedLines are how many lines each edited file has removed and added against the pack's
// copy: exactly the spec's edits. Every other file of the pack must be byte-identical.
var changedLines = map[string][2]int{
	// analytics
	AnalyticsDir + "/repository/conf/datasources/master-datasources.xml":    {0, 40}, // C1: two datasources of 20 lines
	AnalyticsDir + "/repository/conf/datasources/analytics-datasources.xml": {8, 8},  // C2: url, driver, user, password x2
	AnalyticsDir + "/repository/conf/user-mgt.xml":                          {2, 2},  // C4: dataSource, admin password
	AnalyticsDir + "/repository/conf/registry.xml":                          {0, 19}, // C5: dbConfig, remoteInstance, 2 mounts
	AnalyticsDir + "/repository/conf/axis2/axis2.xml":                       {5, 9},  // C6: enable, scheme, domain, host, members
	AnalyticsDir + "/repository/conf/event-processor.xml":                   {5, 5},  // C7: Single, HA, 2 hostNames, persistence
	AnalyticsDir + "/repository/conf/analytics/spark/spark-defaults.conf":   {2, 2},  // C8: count, symbolic link
	AnalyticsDir + "/bin/load-spark-env-vars.sh":                            {1, 2},  // C9: newline added to the last line
	AnalyticsDir + "/repository/conf/carbon.xml":                            {5, 5},  // D3 (the worker keeps AutoCommit false: 4)
	// identity
	IdentityDir + "/repository/conf/datasources/master-datasources.xml":                                                  {0, 81},  // F3: four datasources
	IdentityDir + "/repository/conf/user-mgt.xml":                                                                        {33, 13}, // F5: LDAP store out, JDBC store in (the diff aligns their common lines)
	IdentityDir + "/repository/conf/identity/embedded-ldap.xml":                                                          {1, 1},   // F5: EmbeddedLDAP enable true -> false
	IdentityDir + "/repository/conf/registry.xml":                                                                        {0, 19},  // F6
	IdentityDir + "/repository/conf/axis2/axis2.xml":                                                                     {5, 9},   // F7
	IdentityDir + "/repository/conf/carbon.xml":                                                                          {0, 2},   // F8: HostName, MgtHostName
	IdentityDir + "/repository/conf/tomcat/catalina-server.xml":                                                          {2, 4},   // F9: a proxyPort line per connector
	IdentityDir + "/repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-AuthenticationData.xml": {2, 2},   // F10
	IdentityDir + "/repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-SessionData.xml":        {2, 2},
}

func (e *env) checkUnchanged(t *testing.T) {
	ref := wso2ref.Dir(t)
	standin := filepath.Join(e.Repo, "testdata/standin/wso2server.sh")
	an, err := AnalyticsFiles(ref, standin)
	if err != nil {
		t.Fatal(err)
	}
	is := IdentityFiles(ref, standin, filepath.Join(e.Repo, "testdata/pattern2/is-dbscripts"), filepath.Join(e.Repo, "testdata/pattern2/is-conf"))
	check := func(ip, top string, files []PackFile, first bool) {
		for _, f := range files {
			rel := top + "/" + f.Path
			want, err := os.ReadFile(f.Src)
			if err != nil {
				t.Fatal(err)
			}
			got := e.nodeFile(t, ip, "/opt/wso2/"+rel)
			exp, edited := changedLines[rel]
			if rel == AnalyticsDir+"/repository/conf/carbon.xml" && !first {
				exp = [2]int{4, 4}
			}
			if !edited {
				if sha(got) != sha(want) {
					t.Errorf("%s: %s changed:\n%s", ip, rel, engine.Diff(rel, string(want), string(got)))
				}
				continue
			}
			minus, plus := countDiff(engine.Diff(rel, string(want), string(got)))
			if minus != exp[0] || plus != exp[1] {
				t.Errorf("%s: %s: -%d +%d lines, want -%d +%d:\n%s", ip, rel, minus, plus, exp[0], exp[1], engine.Diff(rel, string(want), string(got)))
			}
		}
	}
	for i, ip := range e.An {
		check(ip, AnalyticsDir, an, i == 0)
	}
	for i, ip := range e.IS {
		check(ip, IdentityDir, is, i == 0)
	}
}

func countDiff(d string) (minus, plus int) {
	for _, l := range strings.Split(d, "\n") {
		switch {
		case strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"):
		case strings.HasPrefix(l, "-"):
			minus++
		case strings.HasPrefix(l, "+"):
			plus++
		}
	}
	return minus, plus
}

func (e *env) checkDatabases(t *testing.T, admin *sql.DB) {
	for _, db := range []string{"userdb", "regdb", "WSO2_UM_DB", "WSO2_REG_DB"} {
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?", db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 40 {
			t.Errorf("%s has %d tables, want the 40 of the Carbon schema", db, n)
		}
	}
	for _, db := range []string{"WSO2_ANALYTICS_EVENT_STORE_DB", "WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB", "WSO2_IDENTITY_DB"} {
		if got := queryList(t, admin, "SELECT schema_name FROM information_schema.schemata WHERE schema_name = '"+db+"'"); len(got) != 1 {
			t.Errorf("database %s missing", db)
		}
	}
	for _, db := range []string{"userdb", "regdb", "WSO2_UM_DB", "WSO2_REG_DB", "WSO2_IDENTITY_DB"} {
		cs := queryList(t, admin, "SELECT default_character_set_name FROM information_schema.schemata WHERE schema_name = '"+db+"'")
		if len(cs) != 1 || cs[0] != "latin1" {
			t.Errorf("%s charset %v, want latin1", db, cs)
		}
	}
	grants := func(user string, ips, dbs []string) {
		for _, ip := range ips {
			got := strings.Join(queryList(t, admin, fmt.Sprintf("SHOW GRANTS FOR '%s'@'%s'", user, ip)), "\n")
			for _, db := range dbs {
				if !strings.Contains(got, "GRANT ALL PRIVILEGES ON `"+db+"`.* TO `"+user+"`@`"+ip+"`") {
					t.Errorf("%s@%s lacks ALL on %s:\n%s", user, ip, db, got)
				}
			}
		}
	}
	grants("wso2an", e.An, []string{"userdb", "regdb", "WSO2_ANALYTICS_EVENT_STORE_DB", "WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB"})
	grants("wso2is", e.IS, []string{"WSO2_UM_DB", "WSO2_REG_DB", "WSO2_IDENTITY_DB"})
	// The accounts hold the password given (it is never printed).
	for _, ip := range e.An {
		var ok int
		if err := admin.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE user = 'wso2an' AND host = ? AND authentication_string = CONCAT('*', UPPER(SHA1(UNHEX(SHA1(?)))))", ip, anDBPass).Scan(&ok); err != nil || ok != 1 {
			t.Errorf("wso2an@%s: password hash does not match (%d, %v)", ip, ok, err)
		}
	}
}

func queryList(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// snapshot records every entry under root: type, mode, owner and content hash or link target.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + sha(b)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffSnapshots(a, b map[string]string) string {
	var lines []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			lines = append(lines, "missing "+k)
		} else if w != v {
			lines = append(lines, fmt.Sprintf("changed %s: %s -> %s", k, v, w))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			lines = append(lines, "extra "+k)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// readTree returns every file under dir concatenated (the journal and saved state).
func readTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

// TestPattern2Start applies pattern2.hcl with start_servers = true: the stand-in analytics
// nodes start one after the other (the first becomes CEP HA active and depsync manager, the
// second passive after the first is up), then the IS nodes; the playbook's own checks (E5, E6,
// G1-G3 from the logs, G1, G2, G4 and G6 over HTTP, G5, G7) must pass. The G6 checks alone
// (--tags g6) pass again, and fail at once with a wrong admin password: the SOAP query gets 401
// and Carbon's "Access Denied" fault, and neither password is shown. A second apply changes
// nothing and a rollback stops every node and removes what the run made.
func TestPattern2Start(t *testing.T) {
	e := setup(t)
	e.startServers(t, "")
	before := map[int]map[string]string{}
	for i := range e.Cluster.Nodes {
		before[i] = snapshot(t, e.Cluster.NodeRoot(i))
	}
	out := e.run(t, "apply", "--yes")
	e.noSecrets(t, "apply", out)
	for _, want := range []string{
		`(?m)^Applied: \d+ changed, \d+ in sync, 0 known after apply, \d+ skipped, 0 failed, 5 hosts\.$`,
		`(?m)^n2: start analytics / node / started: changed`,
		`(?m)^n3: start analytics / node / started: changed`,
		`(?m)^n2: verify analytics / members joined: changed`,
		`(?m)^n2: verify analytics / node ids differ: in_sync`,
		`(?m)^n2: verify analytics / one active member: in_sync`,
		`(?m)^n2: verify analytics / spark cluster: in_sync`,
		`(?m)^n4: verify identity / members joined: changed`,
		`(?m)^n2: verify analytics / analytics console query: in_sync`,
		`(?m)^n3: verify analytics / analytics console query: in_sync`,
		`(?m)^n2: verify analytics / analytics api: in_sync`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apply output lacks %s:\n%s", want, out)
		}
	}
	t.Run("G6 alone", func(t *testing.T) {
		out := e.run(t, "apply", "--yes", "--tags", "g6")
		e.noSecrets(t, "apply --tags g6", out)
		for _, want := range []string{
			`(?m)^Applied: 0 changed, 4 in sync, 0 known after apply, 0 skipped, 0 failed, 2 hosts\.$`,
			`(?m)^n3: verify analytics / analytics console query: in_sync`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("apply --tags g6 output lacks %s:\n%s", want, out)
			}
		}
		// A wrong admin password: the SOAP check (the first G6 task) fails on its first
		// answer, Carbon's 401 with the Access Denied fault, without waiting out wait_timeout.
		const wrong = "canary-wrong-admin-Pw5"
		start := time.Now()
		out, err := e.runEnv([]string{"ISAPLAY_VAR_admin_password=" + wrong}, "apply", "--yes", "--tags", "g6")
		var why []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "http_check ") || strings.HasPrefix(strings.TrimSpace(l), "body: ") {
				why = append(why, strings.TrimSpace(l))
			}
		}
		t.Logf("apply --tags g6 with a wrong password failed after %v:\n%s", time.Since(start).Round(time.Millisecond), strings.Join(why, "\n"))
		if err == nil {
			t.Fatalf("apply with a wrong admin password passed:\n%s", out)
		}
		for _, want := range []string{
			`analytics console query`,
			`failed after 1 attempt: status 401, want 200 \(a fail_status: not retried\)`,
			`<faultstring>Access Denied\. Authentication failed - Invalid credentials provided\.</faultstring>`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("the failed apply lacks %s:\n%s", want, out)
			}
		}
		if strings.Contains(out, "analytics api: in_sync") {
			t.Errorf("the REST check ran after the SOAP check failed:\n%s", out)
		}
		if strings.Contains(out, wrong) {
			t.Errorf("the failed apply shows the wrong password:\n%s", out)
		}
		e.noSecrets(t, "failed apply --tags g6", out)
	})
	an1 := string(e.nodeFile(t, e.An[0], AnalyticsHome+"/repository/logs/wso2carbon.log"))
	an2 := string(e.nodeFile(t, e.An[1], AnalyticsHome+"/repository/logs/wso2carbon.log"))
	for _, c := range []struct{ log, want string }{
		{an1, "Became CEP HA Active Member"}, {an2, "Became CEP HA Passive Member"},
		{an1, "Directory creation by deployment synchronizer"}, {an2, "Checked out using SVN Kit"},
		{an1, "Started Spark CLIENT"},
	} {
		if !strings.Contains(c.log, c.want) {
			t.Errorf("log lacks %q", c.want)
		}
	}
	if again := e.run(t, "apply", "--yes"); !zeroChanges.MatchString(again) {
		t.Errorf("second apply:\n%s", again)
	}
	e.run(t, "rollback", e.lastChangedRun(t), "--yes")
	for i := range e.Cluster.Nodes {
		if d := diffSnapshots(before[i], snapshot(t, e.Cluster.NodeRoot(i))); d != "" {
			t.Errorf("%s after rollback:\n%s", e.Cluster.Nodes[i].Name, d)
		}
	}
}

// startServers gives every node a java_home and sets start_servers = true (with a short
// spark_churn_wait) and the extra variable lines.
func (e *env) startServers(t *testing.T, extra string) {
	t.Helper()
	inv, err := os.ReadFile(e.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	withJava := regexp.MustCompile(`vars    = \{ index = (\d+) \}`).ReplaceAllString(string(inv), `vars    = { index = $1, java_home = "/usr/lib/jvm/default-java" }`)
	if err := os.WriteFile(e.Inventory, []byte(withJava), 0o644); err != nil {
		t.Fatal(err)
	}
	vars, err := os.ReadFile(e.Vars)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.Vars, []byte(strings.Replace(string(vars), "start_servers     = false", "start_servers     = true\nspark_churn_wait  = \"1s\"\n"+extra, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPattern2OptionalOff applies pattern2.hcl with every optional input left null (no IS
// nodes, no deployment synchronizer, no symlink): those parts are skipped cleanly, the IS nodes
// are not touched, and the analytics nodes get no depsync and no link.
func TestPattern2OptionalOff(t *testing.T) {
	e := setup(t)
	vars, err := os.ReadFile(e.Vars)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(vars), "\n") {
		name := strings.TrimSpace(strings.SplitN(line, "=", 2)[0])
		switch name {
		case "is_home", "is_db_user", "svnkit_jar", "trilead_jar", "svn_url", "svn_user", "an_symlink", "is_cluster_domain", "lb_host":
			continue
		}
		kept = append(kept, line)
	}
	if err := os.WriteFile(e.Vars, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.run(t, "apply", "--yes")
	if !regexp.MustCompile(`(?m)^Applied: \d+ changed, \d+ in sync, 0 known after apply, \d+ skipped, 0 failed, \d hosts\.$`).MatchString(out) {
		t.Fatalf("apply:\n%s", out)
	}
	for _, ip := range e.IS {
		if ents, _ := os.ReadDir(e.rootOf(t, ip)); len(ents) != 0 {
			t.Errorf("IS node %s was touched: %v", ip, ents)
		}
	}
	c := map[string]string{"c": "http://wso2.org/projects/carbon/carbon.xml"}
	for _, ip := range e.An {
		e.checkXPaths(t, ip, c, []xpathCheck{
			{AnalyticsHome + "/repository/conf/carbon.xml", "/c:Server/c:DeploymentSynchronizer/c:Enabled", []string{"false"}},
			{AnalyticsHome + "/repository/conf/carbon.xml", "/c:Server/c:DeploymentSynchronizer/c:SvnUrl", []string{"http://svnrepo.example.com/repos/"}},
		})
		if _, err := os.Lstat(filepath.Join(e.rootOf(t, ip), "wso2/is-analytics")); err == nil {
			t.Errorf("%s: the symlink was made", ip)
		}
		spark := string(e.nodeFile(t, ip, AnalyticsHome+"/repository/conf/analytics/spark/spark-defaults.conf"))
		if !strings.Contains(spark, "\n# carbon.das.symbolic.link ") {
			t.Errorf("%s: carbon.das.symbolic.link is no longer commented", ip)
		}
	}
	if again := e.run(t, "apply", "--yes"); !zeroChanges.MatchString(again) {
		t.Errorf("second apply:\n%s", again)
	}
}
