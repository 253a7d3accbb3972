package xmlpatch

import (
	"bytes"
	"context"
	"fmt"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// Inventory values of the spec's example cluster. The DB password carries XML specials on
// purpose: it must be escaped in the file and masked in every diff.
const (
	an1, an2   = "10.0.0.11", "10.0.0.12"
	dbHost     = "10.0.0.5"
	dbPort     = "3306"
	anDBUser   = "wso2an"
	anDBPass   = `Pa&ss<w"rd`
	hzPort     = "4000"
	anDomain   = "wso2.is.analytics.domain"
	shippedPwd = "wso2carbon"
)

var carbonNS = map[string]string{"c": "http://wso2.org/projects/carbon/carbon.xml"}

func datasource(name, desc, db string) string {
	return fmt.Sprintf(`<datasource>
    <name>%[1]s</name>
    <description>%[2]s</description>
    <jndiConfig><name>jdbc/%[1]s</name></jndiConfig>
    <definition type="RDBMS">
        <configuration>
            <url>jdbc:mysql://%[3]s:%[4]s/%[5]s?autoReconnect=true&amp;useSSL=false</url>
            <username>%[6]s</username>
            <password>%[7]s</password>
            <driverClassName>com.mysql.jdbc.Driver</driverClassName>
            <maxActive>50</maxActive>
            <maxWait>60000</maxWait>
            <testOnBorrow>true</testOnBorrow>
            <validationQuery>SELECT 1</validationQuery>
            <validationInterval>30000</validationInterval>
        </configuration>
    </definition>
</datasource>`, name, desc, dbHost, dbPort, db, anDBUser, escText(anDBPass))
}

func escText(s string) string {
	e, err := xmldoc.EscapeText(s)
	if err != nil {
		panic(err)
	}
	return e
}

func mysqlURL(db string) string {
	return "jdbc:mysql://" + dbHost + ":" + dbPort + "/" + db + "?autoReconnect=true&useSSL=false"
}

// step is one C-step of the spec run on a copy of the real file.
type step struct {
	name   string
	file   string // relative to the reference folder
	ns     map[string]string
	blocks []*engine.Args
	// want are values by XPath after apply; counts are match counts after apply.
	want   map[string]string
	counts map[string]int
	// plus and minus are the changed lines of the diff; 0/0 means no change.
	plus, minus int
	// crlf: every line of the result must end in CRLF.
	crlf bool
	// golden names the file under testdata/xml/golden holding the expected diff.
	golden string
}

func steps() []step {
	ds := "/datasources-configuration/datasources/datasource"
	ads := func(name, leaf string) string { return ds + "[name='" + name + "']/definition/configuration/" + leaf }
	hz := "/axisconfig/clustering"
	ha := "/eventProcessorConfiguration/mode[@name='HA']"
	var c2 []*engine.Args
	for _, n := range []string{"WSO2_ANALYTICS_EVENT_STORE_DB", "WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB"} {
		c2 = append(c2,
			blk("set_text", "xpath", ads(n, "url"), "value", mysqlURL(n)),
			blk("set_text", "xpath", ads(n, "driverClassName"), "value", "com.mysql.jdbc.Driver"),
			blk("set_text", "xpath", ads(n, "username"), "value", anDBUser),
			blk("set_text", "xpath", ads(n, "password"), "value", anDBPass))
	}
	return []step{
		{
			name: "C1 master-datasources ensure WSO2UM_DB and WSO2REG_DB",
			file: "repository/conf/datasources/master-datasources.xml",
			blocks: []*engine.Args{
				blk("ensure", "xpath", ds+"[name='WSO2UM_DB']", "after", ds+"[name='WSO2_CARBON_DB']",
					"fragment", datasource("WSO2UM_DB", "The datasource used by user manager", "userdb")),
				blk("ensure", "xpath", ds+"[name='WSO2REG_DB']", "after", ds+"[name='WSO2UM_DB']",
					"fragment", datasource("WSO2REG_DB", "The datasource used by the registry", "regdb")),
			},
			want: map[string]string{
				ds + "[name='WSO2UM_DB']/definition/configuration/url":       mysqlURL("userdb"),
				ds + "[name='WSO2REG_DB']/definition/configuration/url":      mysqlURL("regdb"),
				ds + "[name='WSO2REG_DB']/definition/configuration/password": anDBPass,
				ds + "[name='WSO2UM_DB']/jndiConfig/name":                    "jdbc/WSO2UM_DB",
				ds + "[name='WSO2_CARBON_DB']/jndiConfig/name":               "jdbc/WSO2CarbonDB",
				ds + "[2]/name":                     "WSO2UM_DB",
				ds + "[3]/name":                     "WSO2REG_DB",
				"namespace-uri(/*/namespace::svns)": "",
			},
			counts: map[string]int{ds: 3, "/datasources-configuration/datasources/comment()": 2},
			plus:   36,
			golden: "c1-master-datasources.diff",
		},
		{
			name:   "C2 analytics-datasources point both stores at MySQL",
			file:   "repository/conf/datasources/analytics-datasources.xml",
			blocks: c2,
			want: map[string]string{
				ads("WSO2_ANALYTICS_EVENT_STORE_DB", "url"):                         mysqlURL("WSO2_ANALYTICS_EVENT_STORE_DB"),
				ads("WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB", "driverClassName"):    "com.mysql.jdbc.Driver",
				ads("WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB", "password"):           anDBPass,
				ads("WSO2_ANALYTICS_EVENT_STORE_DB", "minEvictableIdleTimeMillis"):  "4000",
				ads("WSO2_ANALYTICS_EVENT_STORE_DB", "defaultTransactionIsolation"): "READ_COMMITTED",
			},
			plus: 8, minus: 8,
		},
		{
			name: "C3 analytics-config asserts only",
			file: "repository/conf/analytics/analytics-config.xml",
			blocks: []*engine.Args{
				blk("assert", "xpath", "/analytics-dataservice-configuration/analytics-record-store[@name='EVENT_STORE']/properties/property[@name='datasource']", "value", "WSO2_ANALYTICS_EVENT_STORE_DB"),
				blk("assert", "xpath", "/analytics-dataservice-configuration/analytics-record-store[@name='EVENT_STORE_WO']/properties/property[@name='datasource']", "value", "WSO2_ANALYTICS_EVENT_STORE_DB"),
				blk("assert", "xpath", "/analytics-dataservice-configuration/analytics-record-store[@name='PROCESSED_DATA_STORE']/properties/property[@name='datasource']", "value", "WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB"),
				blk("assert", "xpath", "count(/analytics-dataservice-configuration/taxonomy-writer-cache)", "value", "2"),
				blk("assert", "xpath", "/analytics-dataservice-configuration/static-quorum/@enabled", "value", "false"),
			},
			counts: map[string]int{"/analytics-dataservice-configuration/taxonomy-writer-cache": 2},
		},
		{
			name:   "C4 user-mgt dataSource",
			file:   "repository/conf/user-mgt.xml",
			blocks: []*engine.Args{blk("set_text", "xpath", "/UserManager/Realm/Configuration/Property[@name='dataSource']", "value", "jdbc/WSO2UM_DB")},
			want:   map[string]string{"//Property[@name='dataSource']": "jdbc/WSO2UM_DB", "/UserManager/Realm/Configuration/AdminUser/Password": "admin"},
			plus:   1, minus: 1,
		},
		{
			name: "C5 registry govregistry mount",
			file: "repository/conf/registry.xml",
			blocks: []*engine.Args{
				blk("ensure", "xpath", "/wso2registry/dbConfig[@name='govregistry']", "after", "/wso2registry/dbConfig[@name='wso2registry']",
					"fragment", "<dbConfig name=\"govregistry\">\n    <dataSource>jdbc/WSO2REG_DB</dataSource>\n</dbConfig>"),
				blk("ensure", "xpath", "/wso2registry/remoteInstance[id='gov']", "after", "/wso2registry/dbConfig[@name='govregistry']",
					"fragment", `<remoteInstance url="https://localhost:9443/registry">
    <id>gov</id>
    <cacheId>`+anDBUser+`@jdbc:mysql://`+dbHost+`:`+dbPort+`/regdb</cacheId>
    <dbConfig>govregistry</dbConfig>
    <readOnly>false</readOnly>
    <enableCache>true</enableCache>
    <registryRoot>/</registryRoot>
</remoteInstance>`),
				blk("ensure", "xpath", "/wso2registry/mount[@path='/_system/governance']", "after", "/wso2registry/remoteInstance[id='gov']",
					"fragment", "<mount path=\"/_system/governance\" overwrite=\"true\"><instanceId>gov</instanceId><targetPath>/_system/governance</targetPath></mount>"),
				blk("ensure", "xpath", "/wso2registry/mount[@path='/_system/config']", "after", "/wso2registry/mount[@path='/_system/governance']",
					"fragment", "<mount path=\"/_system/config\" overwrite=\"true\">\n\t<instanceId>gov</instanceId>\n\t<targetPath>/_system/config</targetPath>\n</mount>"),
			},
			want: map[string]string{
				"/wso2registry/dbConfig[@name='wso2registry']/dataSource":     "jdbc/WSO2CarbonDB",
				"/wso2registry/dbConfig[@name='govregistry']/dataSource":      "jdbc/WSO2REG_DB",
				"/wso2registry/remoteInstance[id='gov']/cacheId":              anDBUser + "@jdbc:mysql://" + dbHost + ":" + dbPort + "/regdb",
				"/wso2registry/mount[@path='/_system/config']/targetPath":     "/_system/config",
				"/wso2registry/mount[@path='/_system/governance']/instanceId": "gov",
				"name(/wso2registry/dbConfig[2]/following-sibling::*[1])":     "remoteInstance",
			},
			counts: map[string]int{"/wso2registry/mount": 2, "/wso2registry/remoteInstance": 1, "/wso2registry/dbConfig": 2},
			plus:   3 + 8 + 4 + 4,
		},
		{
			name: "C6 axis2 clustering (CRLF, two-line start tag)",
			file: "repository/conf/axis2/axis2.xml",
			blocks: []*engine.Args{
				blk("set_attr", "xpath", hz, "name", "enable", "value", "true"),
				blk("set_text", "xpath", hz+"/parameter[@name='membershipScheme']", "value", "wka"),
				blk("set_text", "xpath", hz+"/parameter[@name='domain']", "value", anDomain),
				blk("set_text", "xpath", hz+"/parameter[@name='localMemberHost']", "value", an1),
				blk("set_text", "xpath", hz+"/parameter[@name='localMemberPort']", "value", hzPort),
				blk("replace_children", "xpath", hz+"/members", "fragment",
					"<member><hostName>"+an1+"</hostName><port>"+hzPort+"</port></member><member><hostName>"+an2+"</hostName><port>"+hzPort+"</port></member>"),
			},
			want: map[string]string{
				hz + "/@enable": "true",
				hz + "/@class":  "org.wso2.carbon.core.clustering.hazelcast.HazelcastClusteringAgent",
				hz + "/parameter[@name='AvoidInitiation']":                               "true",
				hz + "/parameter[@name='membershipScheme']":                              "wka",
				hz + "/parameter[@name='domain']":                                        anDomain,
				hz + "/parameter[@name='localMemberHost']":                               an1,
				hz + "/members/member[2]/hostName":                                       an2,
				hz + "/parameter[@name='properties']/property[@name='subDomain']/@value": "worker",
				hz + "/groupManagement/@enable":                                          "false",
			},
			counts: map[string]int{hz + "/members/member": 2},
			// +1 -1 for each of the four changed lines; members: one line changed, four added.
			plus: 9, minus: 5,
			crlf:   true,
			golden: "c6-axis2.diff",
		},
		{
			name: "C7 event-processor: disable Single, enable HA",
			file: "repository/conf/event-processor.xml",
			blocks: []*engine.Args{
				blk("set_attr", "xpath", "/eventProcessorConfiguration/mode[@name='Single']", "name", "enable", "value", "false", "optional", true),
				blk("set_attr", "xpath", ha, "name", "enable", "value", "true"),
				blk("set_attr", "xpath", "/eventProcessorConfiguration/mode[@name='Distributed']", "name", "enable", "value", "false"),
				blk("set_attr", "xpath", ha+"/nodeType/worker/@enable", "value", "true"),
				blk("set_attr", "xpath", ha+"/nodeType/presenter/@enable", "value", "false"),
				blk("set_text", "xpath", ha+"/eventSync/hostName", "value", an1),
				blk("set_text", "xpath", ha+"/eventSync/port", "value", "11224"),
				blk("set_text", "xpath", ha+"/management/hostName", "value", an1),
				blk("set_text", "xpath", ha+"/management/port", "value", "10005"),
				blk("set_attr", "xpath", ha+"/persistence", "name", "enable", "value", "false"),
			},
			want: map[string]string{
				"(/eventProcessorConfiguration/mode[@enable='true'])[1]/@name":          "HA",
				"count(/eventProcessorConfiguration/mode[@enable='true'])":              "1",
				ha + "/eventSync/hostName":                                              an1,
				ha + "/management/hostName":                                             an1,
				ha + "/presentation/hostName":                                           "0.0.0.0",
				ha + "/persistence/@enable":                                             "false",
				"/eventProcessorConfiguration/mode[@name='Single']/persistence/@enable": "false",
			},
			counts: map[string]int{"//hostName": 7, "//persistence": 2},
			plus:   5, minus: 5,
		},
		{
			name: "C7 on 5.4.0 (no Single mode: the optional edit is skipped)",
			file: "variants/is-analytics-5.4.0/repository/conf/event-processor.xml",
			blocks: []*engine.Args{
				blk("set_attr", "xpath", "/eventProcessorConfiguration/mode[@name='Single']", "name", "enable", "value", "false", "optional", true),
				blk("set_attr", "xpath", ha, "name", "enable", "value", "true"),
			},
			want: map[string]string{"(/eventProcessorConfiguration/mode[@enable='true'])[1]/@name": "HA"},
			plus: 1, minus: 1,
		},
		{
			name: "C10 carbon.xml (c: namespace, ISO-8859-1, no final newline)",
			file: "repository/conf/carbon.xml",
			ns:   carbonNS,
			blocks: []*engine.Args{
				blk("assert", "xpath", "/c:Server/c:Ports/c:Offset", "value", "1"),
				blk("set_text", "xpath", "/c:Server/c:DeploymentSynchronizer/c:AutoCommit", "value", "true"),
				blk("ensure", "xpath", "/c:Server/c:HostName", "after", "/c:Server/c:Version", "fragment", "<HostName>is.example.com</HostName>"),
				blk("ensure", "xpath", "/c:Server/c:MgtHostName", "after", "/c:Server/c:HostName", "fragment", "<MgtHostName>is.example.com</MgtHostName>"),
			},
			want: map[string]string{
				"/c:Server/c:DeploymentSynchronizer/c:AutoCommit":         "true",
				"/c:Server/c:HostName":                                    "is.example.com",
				"/c:Server/c:MgtHostName":                                 "is.example.com",
				"local-name(/c:Server/c:Version/following-sibling::*[1])": "HostName",
				"/c:Server/c:Ports/c:Offset":                              "1",
			},
			counts: map[string]int{"/Server/Ports/Offset": 0, "//c:DeploymentSynchronizer": 1},
			plus:   3, minus: 1,
			golden: "c10-carbon.diff",
		},
		{
			name: "F9 catalina-server Connector proxyPort (one attribute per line)",
			file: "is-5.6.0/repository/conf/tomcat/catalina-server.xml",
			blocks: []*engine.Args{
				blk("set_attr", "xpath", "/Server/Service/Connector[@port='9763']", "name", "proxyPort", "value", "80"),
				blk("set_attr", "xpath", "/Server/Service/Connector[@port='9443']", "name", "proxyPort", "value", "443"),
			},
			want: map[string]string{"/Server/Service/Connector[@port='9763']/@proxyPort": "80", "/Server/Service/Connector[@port='9443']/@proxyPort": "443"},
			// The last attribute line ends in "/>": it loses the "/>" to the new line below it.
			plus: 4, minus: 2,
		},
		{
			name: "F10 event publisher (ep: namespace, password property)",
			file: "is-5.6.0/repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-AuthenticationData.xml",
			ns:   map[string]string{"ep": "http://wso2.org/carbon/eventpublisher"},
			blocks: []*engine.Args{
				blk("set_text", "xpath", "/ep:eventPublisher/ep:to/ep:property[@name='receiverURL']", "value", "tcp://"+an1+":7612|tcp://"+an2+":7612"),
				blk("set_text", "xpath", "/ep:eventPublisher/ep:to/ep:property[@name='password'][@encrypted='false']", "value", anDBPass, "optional", true),
			},
			want: map[string]string{
				"/ep:eventPublisher/ep:to/ep:property[@name='receiverURL']": "tcp://" + an1 + ":7612|tcp://" + an2 + ":7612",
				"/ep:eventPublisher/ep:to/ep:property[@name='password']":    anDBPass,
			},
			plus: 2, minus: 2,
		},
	}
}

func TestSteps(t *testing.T) {
	ref := wso2ref.Dir(t)
	for _, st := range steps() {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			src := filepath.Join(ref, st.file)
			orig, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			p := copyFile(t, src, 0o640)
			if err := os.Chown(p, 1234, 2345); err != nil {
				t.Fatal(err)
			}
			h := newHost(t, anDBPass)
			args := task(p, st.ns, st.blocks...)

			plan := check(t, h.Planning(), args)
			if testing.Verbose() {
				t.Logf("%s\n%s", plan.Summary, plan.Diff)
			}
			plus, minus := diffStat(plan.Diff)
			if plus != st.plus || minus != st.minus {
				t.Errorf("diff has +%d -%d lines, want +%d -%d:\n%s", plus, minus, st.plus, st.minus, plan.Diff)
			}
			if st.plus+st.minus == 0 {
				if plan.Action != engine.ActionNone {
					t.Fatalf("action %s, want none", plan.Action)
				}
			} else if plan.Action != engine.ActionUpdate {
				t.Fatalf("action %s, want update", plan.Action)
			}
			if st.golden != "" {
				golden(t, st.golden, stablePath(plan.Diff, p))
			}
			for _, secret := range []string{anDBPass, escText(anDBPass), "Pa&amp;ss"} {
				if strings.Contains(plan.Diff, secret) {
					t.Errorf("diff shows secret %q:\n%s", secret, plan.Diff)
				}
			}
			for _, l := range strings.Split(plan.Diff, "\n") {
				if strings.Contains(l, shippedPwd) && strings.Contains(strings.ToLower(l), "pass") {
					t.Errorf("diff line shows the shipped password: %q", l)
				}
			}
			if plan.Fingerprint != engine.SHA256(orig) {
				t.Errorf("fingerprint %s is not the sha256 of the file", plan.Fingerprint)
			}
			if b, _ := os.ReadFile(p); !bytes.Equal(b, orig) {
				t.Fatal("Check wrote the file")
			}

			c := check(t, h, args)
			if c.Action != engine.ActionNone {
				if err := (Module{}).Apply(ctx, h, c); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Effects) == 1 && !bytes.Equal(plan.Effects[0].Data, got) {
				t.Error("the planned effect differs from the written bytes")
			}
			doc, err := xmldoc.Parse(got)
			if err != nil {
				t.Fatalf("result does not parse: %v", err)
			}
			for x, want := range st.want {
				e, err := xmldoc.Compile(x, st.ns)
				if err != nil {
					t.Fatal(err)
				}
				v, nodes, isSet, err := doc.Eval(e)
				if err != nil {
					t.Fatal(err)
				}
				if isSet && len(nodes) != 1 && !strings.HasPrefix(x, "namespace-uri") {
					t.Errorf("%s matched %d nodes, want 1", x, len(nodes))
				}
				if v != want {
					t.Errorf("%s = %q, want %q", x, v, want)
				}
			}
			for x, want := range st.counts {
				nodes, err := doc.SelectString(x, st.ns)
				if err != nil {
					t.Fatal(err)
				}
				if len(nodes) != want {
					t.Errorf("%s matched %d nodes, want %d", x, len(nodes), want)
				}
			}
			checkPreserved(t, orig, got, st.crlf)
			checkOwner(t, p)

			if again := check(t, h.Planning(), args); again.Action != engine.ActionNone {
				t.Errorf("second Check: %s, want none:\n%s", again.Action, again.Diff)
			}

			if c.Action != engine.ActionNone {
				if err := (Module{}).Revert(ctx, h, c.Undo); err != nil {
					t.Fatalf("Revert: %v", err)
				}
				if err := (Module{}).Revert(ctx, h, c.Undo); err != nil {
					t.Fatalf("second Revert: %v", err)
				}
			}
			back, _ := os.ReadFile(p)
			if !bytes.Equal(back, orig) {
				t.Error("Revert did not restore the original bytes")
			}
			checkOwner(t, p)
		})
	}
}

// checkPreserved checks what every edit must keep: the declaration (or its absence), the
// encoding, the final newline (or its absence) and, for CRLF files, CRLF on every line.
func checkPreserved(t *testing.T, orig, got []byte, crlf bool) {
	t.Helper()
	firstLine := func(b []byte) string { return string(b[:bytes.IndexByte(b, '\n')+1]) }
	if firstLine(orig) != firstLine(got) {
		t.Errorf("first line changed: %q -> %q", firstLine(orig), firstLine(got))
	}
	if orig[len(orig)-1] != got[len(got)-1] {
		t.Errorf("last byte changed: %q -> %q", orig[len(orig)-1], got[len(got)-1])
	}
	if crlf {
		if n, lf := bytes.Count(got, []byte("\r\n")), bytes.Count(got, []byte("\n")); n != lf {
			t.Errorf("%d of %d lines end in CRLF", n, lf)
		}
	} else if bytes.Contains(got, []byte("\r")) {
		t.Error("CR appeared in an LF file")
	}
	if bytes.Contains(got, []byte(`xmlns=""`)) || bytes.Contains(got, []byte("ns0:")) {
		t.Error("an inserted element got a namespace declaration or prefix")
	}
	if bytes.Count(orig, []byte("xmlns")) != bytes.Count(got, []byte("xmlns")) {
		t.Error("namespace declarations changed")
	}
}

// checkOwner checks that the file kept the mode and owner the test gave it.
func checkOwner(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o640 || st.Uid != 1234 || st.Gid != 2345 {
		t.Errorf("mode %v owner %d:%d, want 0640 1234:2345", fi.Mode().Perm(), st.Uid, st.Gid)
	}
}
