package adopt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
)

// TestCases adopts small files and applies the result with the real modules: the document
// equals the configured one, a second plan is in sync, and the HCL holds what each case names.
func TestCases(t *testing.T) {
	for _, tc := range []struct {
		name, file           string
		pristine, configured string
		want, not            []string // substrings of the generated HCL, and ones it must not have
		notes                int
	}{
		{
			name: "attribute added changed removed", file: "a.xml",
			pristine:   "<a>\n  <b x=\"1\" y=\"2\"/>\n</a>\n",
			configured: "<a>\n  <b x=\"3\" z=\"4\"/>\n</a>\n",
			want:       []string{`name  = "x"`, `value = "3"`, `name  = "z"`, `remove { xpath = "/a/b/@y" }`},
		},
		{
			name: "whitespace inside text is no difference", file: "a.xml",
			pristine:   "<a>\n  <b>one two</b>\n</a>\n",
			configured: "<a>\n  <b>\n    one\n    two\n  </b>\n</a>\n",
			want:       nil, not: []string{"task"},
		},
		{
			name: "comment only differences are notes", file: "a.xml",
			pristine:   "<a>\n  <!-- old -->\n  <b>1</b>\n</a>\n",
			configured: "<a>\n  <!-- new -->\n  <b>1</b>\n</a>\n",
			want:       []string{`# Differences not patched`, `1 removed ("old")`, `1 added ("new")`}, not: []string{"task"}, notes: 1,
		},
		{
			name: "positional index only without a key", file: "a.xml",
			pristine:   "<a>\n  <r>x</r>\n  <r>y</r>\n</a>\n",
			configured: "<a>\n  <r>x</r>\n  <r>z</r>\n</a>\n",
			want:       []string{`xpath = "/a/r[2]"`},
		},
		{
			name: "key by name child with an apostrophe", file: "ds.xml",
			pristine:   "<ds>\n  <d><name>A</name><url>u1</url></d>\n  <d><name>it's</name><url>u2</url></d>\n</ds>\n",
			configured: "<ds>\n  <d><name>A</name><url>u1</url></d>\n  <d><name>it's</name><url>u3</url></d>\n</ds>\n",
			want:       []string{`xpath = "/ds/d[name=\"it's\"]/url"`},
		},
		{
			name: "key by id child, inserted after its sibling", file: "r.xml",
			pristine:   "<r>\n  <i><id>one</id></i>\n  <last/>\n</r>\n",
			configured: "<r>\n  <i><id>one</id></i>\n  <i><id>two</id></i>\n  <last/>\n</r>\n",
			want:       []string{`xpath    = "/r/i[id='two']"`, `after    = "/r/i[id='one']"`},
		},
		{
			name: "key by distinctive attribute", file: "m.xml",
			pristine:   "<m>\n  <mount path=\"/a\"><t>1</t></mount>\n  <mount path=\"/b\"><t>2</t></mount>\n</m>\n",
			configured: "<m>\n  <mount path=\"/a\"><t>1</t></mount>\n</m>\n",
			want:       []string{`remove { xpath = "/m/mount[@path='/b']" }`},
		},
		{
			name: "default namespace gets prefix c", file: "carbon.xml",
			pristine:   "<Server xmlns=\"http://wso2.org/projects/carbon/carbon.xml\">\n  <Name>n</Name>\n  <Ports><Offset>0</Offset></Ports>\n</Server>\n",
			configured: "<Server xmlns=\"http://wso2.org/projects/carbon/carbon.xml\">\n  <Name>n</Name>\n  <HostName>h</HostName>\n  <Ports><Offset>1</Offset></Ports>\n</Server>\n",
			want:       []string{`"c" = "http://wso2.org/projects/carbon/carbon.xml"`, `xpath = "/c:Server/c:Ports/c:Offset"`, `xpath    = "/c:Server/c:HostName"`, `after    = "/c:Server/c:Name"`},
		},
		{
			name: "a new first child replaces the content", file: "a.xml",
			pristine:   "<a>\n  <b>\n    <y>1</y>\n  </b>\n</a>\n",
			configured: "<a>\n  <b>\n    <x>0</x>\n    <y>1</y>\n  </b>\n</a>\n",
			want:       []string{`replace_children`, `xpath    = "/a/b"`},
		},
		{
			name: "reordered children replace the content", file: "a.xml",
			pristine:   "<a>\n  <b>\n    <x>0</x>\n    <y>1</y>\n  </b>\n</a>\n",
			configured: "<a>\n  <b>\n    <y>1</y>\n    <x>0</x>\n  </b>\n</a>\n",
			want:       []string{`replace_children`},
		},
		{
			name: "every element of a name without key removed at once", file: "a.xml",
			pristine:   "<a>\n  <l>\n    <r>1</r>\n    <r>2</r>\n    <k/>\n  </l>\n</a>\n",
			configured: "<a>\n  <l>\n    <k/>\n  </l>\n</a>\n",
			want:       []string{"xpath = \"/a/l/r\"", "count = 2"},
		},
		{
			name: "a positional group that grows replaces the content", file: "a.xml",
			pristine:   "<a>\n  <l>\n    <r>1</r>\n  </l>\n</a>\n",
			configured: "<a>\n  <l>\n    <r>1</r>\n    <r>2</r>\n  </l>\n</a>\n",
			want:       []string{`replace_children`},
		},
		{
			name: "other default namespace", file: "x.xml",
			pristine:   "<x xmlns=\"urn:x\"><v>1</v></x>\n",
			configured: "<x xmlns=\"urn:x\"><v>2</v></x>\n",
			want:       []string{`"ns1" = "urn:x"`, `"/ns1:x/ns1:v"`},
		},
		{
			name: "secrets become sensitive variables, in values and fragments", file: "ds.xml",
			pristine:   "<ds>\n  <d><name>A</name><password>old-secret</password></d>\n  <p name=\"password\">x1</p>\n</ds>\n",
			configured: "<ds>\n  <d><name>A</name><password>n3w-s3cret</password></d>\n  <p name=\"password\">x2y2</p>\n  <d><name>B</name><user>s3cr3t-b</user><password>s3cr3t-b</password></d>\n  <k apiKey=\"k3y-v4lue\"/>\n</ds>\n",
			want: []string{`value = var.a_password`, `sensitive   = true`, `<password>${var.b_password}</password>`,
				`<user>${var.b_user}</user>`, `value = var.ds_password`, `apiKey=\"${var.`},
			not: []string{"n3w-s3cret", "x2y2", "s3cr3t-b", "k3y-v4lue"},
		},
		{
			name: "template sequences are escaped", file: "t.xml",
			pristine:   "<t><h>x</h><e/></t>\n",
			configured: "<t><h>${hostName}:%{x}</h><e>\n  <f>${carbon.home}</f>\n  <g>2</g>\n</e></t>\n",
			want:       []string{`"$${hostName}:%%{x}"`, `<f>$${carbon.home}</f>`},
		},
		{
			name: "comments inside an inserted element", file: "r.xml",
			pristine:   "<r>\n  <a name=\"1\"/>\n</r>\n",
			configured: "<r>\n  <a name=\"1\"/>\n  <a name=\"2\">\n    <!-- why -->\n    <v>2</v>\n  </a>\n</r>\n",
			want:       []string{`<!-- why -->`, `xpath    = "/r/a[@name='2']"`},
		},
		{
			name: "namespaced attribute changed and removed", file: "s.xml",
			pristine:   "<s xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"a\">\n  <e xsi:type=\"t\"/>\n</s>\n",
			configured: "<s xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"b\">\n  <e/>\n</s>\n",
			want:       []string{`name  = "xsi:schemaLocation"`, `remove { xpath = "/s/e/@xsi:type" }`, `"xsi" = "http://www.w3.org/2001/XMLSchema-instance"`},
		},
		{
			name: "text becomes children", file: "t.xml",
			pristine:   "<t>\n  <a>text</a>\n</t>\n",
			configured: "<t>\n  <a><b>1</b></a>\n</t>\n",
			want:       []string{`replace_children`},
		},
		{
			name: "properties set, uncomment, remove, secret", file: "spark-defaults.conf",
			pristine:   "# comment\ncarbon.spark.master.count  1\n#carbon.das.symbolic.link /opt\nold.key  1\n",
			configured: "# comment\ncarbon.spark.master.count  2\ncarbon.das.symbolic.link /opt/is\nssl.trustStorePassword  ch4ng3it\nnew.url  jdbc:x:ch4ng3it@h\n",
			want: []string{`"carbon.spark.master.count" = "2"`, `"carbon.das.symbolic.link"  = "/opt/is"`, `remove = ["old.key"]`,
				`"ssl.trustStorePassword"    = var.spark_defaults_ssl_trust_store_password`, `"new.url"                   = var.spark_defaults_new_url`},
			not: []string{"ch4ng3it"},
		},
		{
			name: "properties with CRLF and continuation", file: "log4j.properties",
			pristine:   "a=1\r\nb = long \\\r\n  value\r\n",
			configured: "a=1\r\nb = other\r\nc: 3\r\n",
			want:       []string{`"b" = "other"`, `"c" = "3"`},
		},
		{
			name: "key=value file without extension", file: "env",
			pristine:   "JAVA_OPTS=-Xmx1g\n",
			configured: "JAVA_OPTS=-Xmx4g\n",
			want:       []string{`"JAVA_OPTS" = "-Xmx4g"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := File(tc.file, []byte(tc.pristine), []byte(tc.configured), Options{Home: HomeVar})
			if err != nil {
				t.Fatal(err)
			}
			hcl := string(res.HCL())
			for _, w := range tc.want {
				if !strings.Contains(hcl, w) {
					t.Errorf("HCL lacks %s:\n%s", w, hcl)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(hcl, w) {
					t.Errorf("HCL has %s:\n%s", w, hcl)
				}
			}
			if len(res.Notes) != tc.notes {
				t.Errorf("notes %q, want %d", res.Notes, tc.notes)
			}
			if js, err := res.JSON(); err != nil || !json.Valid(js) {
				t.Errorf("JSON: %v", err)
			}
			dir := t.TempDir()
			home := filepath.Join(dir, "home")
			target := filepath.Join(home, tc.file)
			copyFile(t, target, []byte(tc.pristine))
			if len(res.Tasks) == 0 {
				return
			}
			vars := map[string]string{}
			for k, v := range res.Values {
				vars[k] = v
			}
			vars[HomeVar] = home
			again := run(t, dir, res.PlayHCL("adopt", "all"), vars)
			got, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			sameDocument(t, tc.file, got, []byte(tc.configured))
			for _, e := range again.Entries {
				if e.Status != engine.StatusInSync {
					t.Errorf("second plan: %s is %s", e.Task, e.Status)
				}
			}
		})
	}
}

func TestTextSecrets(t *testing.T) {
	got := textSecrets([]byte(`{"username":"admin", "password":"s3cret", "grantType": "password refresh_token"}` + "\nDB_PASSWORD=hunter22\nexport TOKEN='abc.def'\nNAME=x\n"))
	want := []string{"s3cret", "hunter22", "abc.def"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("textSecrets = %q, want %q", got, want)
	}
}

// TestSecretName pins which names hold secrets.
func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "ConnectionPassword": true, "keystorePass": true, "client_secret": true, "accessToken": true,
		"apiKey": true, "private.key": true, "aws_secret_key": true, "Credentials": true,
		"ServerKey": false, "key": false, "KeyAlias": false, "PasswordJavaRegEx": false, "PasswordDigest": false,
		"PasswordHashMethod": false, "TokenStoreClassName": false, "name": false, "username": false,
	} {
		if got := SecretName(name); got != want {
			t.Errorf("SecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestIdent(t *testing.T) {
	for in, want := range map[string]string{
		"WSO2_USER_DB_password": "wso2_user_db_password", "spark-defaults_ssl.trustStorePassword": "spark_defaults_ssl_trust_store_password",
		"123": "v_123", "IsAnalytics-Publisher": "is_analytics_publisher",
	} {
		if got := ident(in); got != want {
			t.Errorf("ident(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       FileKind
	}{
		{"a.xml", "<a/>", KindXML},
		{"noext", "  <?xml version=\"1.0\"?><a/>", KindXML},
		{"spark-defaults.conf", "a 1\n", KindProperties},
		{"log4j.properties", "a=1\n", KindProperties},
		{"env", "# c\nJAVA_HOME=/opt/java\n", KindProperties},
		{"wso2server.sh", "#!/bin/sh\nexport A=1\n", KindOther},
		{"my-node-id.dat", "node-1\n", KindOther},
		{"designer.json", "{\"a\": 1}", KindOther},
		{"driver.jar", "PK text only", KindBinary},
		{"blob", "a\x00b", KindBinary},
		{"latin1", "caf\xe9", KindBinary},
	} {
		if got := Kind(tc.name, []byte(tc.data)); got != tc.want {
			t.Errorf("Kind(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
}
