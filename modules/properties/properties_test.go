package properties

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/zclconf/go-cty/cty"
)

func args(p string, set map[string]string, remove []string, format string) *engine.Args {
	v := map[string]cty.Value{"path": cty.StringVal(p)}
	if set != nil {
		m := map[string]cty.Value{}
		for k, s := range set {
			m[k] = cty.StringVal(s)
		}
		v["set"] = cty.MapVal(m)
	}
	if remove != nil {
		l := []cty.Value{}
		for _, r := range remove {
			l = append(l, cty.StringVal(r))
		}
		v["remove"] = cty.ListVal(l)
	}
	if format != "" {
		v["format"] = cty.StringVal(format)
	}
	return engine.NewArgs(Name, v)
}

// TestReference runs properties_set on copies of the real WSO2 files: each case checks the new
// values as Properties.load reads them, how many lines changed (everything else byte-identical),
// the golden diff, idempotency, masking and the exact restore on revert.
func TestReference(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		set     map[string]string
		remove  []string
		format  string
		secrets []string // values that must not appear in the diff
		removed int      // lines removed and added by the change
		added   int
		want    []string // lines the result must contain
		absent  []string // keys that must be gone
	}{
		{
			name: "C8 spark masters", file: "repository/conf/analytics/spark/spark-defaults.conf",
			set: map[string]string{
				"carbon.spark.master":       "local",
				"carbon.spark.master.count": "2",
				"carbon.das.symbolic.link":  "/opt/wso2/is-analytics",
			},
			removed: 2, added: 2,
			want: []string{"\ncarbon.spark.master local\n", "\ncarbon.spark.master.count  2\n", "\ncarbon.das.symbolic.link /opt/wso2/is-analytics\n"},
		},
		{
			name: "C8 tab separator, append and remove", file: "repository/conf/analytics/spark/spark-defaults.conf",
			set:     map[string]string{"spark.akka.timeout": "2000s", "spark.local.dir": "/var/tmp/spark"},
			remove:  []string{"spark.history.ui.port"},
			removed: 2, added: 2,
			want:   []string{"\nspark.akka.timeout\t2000s\n", "\nspark.local.dir /var/tmp/spark\n"},
			absent: []string{"spark.history.ui.port"},
		},
		{
			name: "C8 commented prose is not a default", file: "repository/conf/analytics/spark/spark-defaults.conf",
			set:     map[string]string{"carbon.scheduler.pool": "carbon-pool", "spark.driver.cores": "2"},
			removed: 2, added: 2,
			want: []string{"\ncarbon.scheduler.pool carbon-pool\n", "\nspark.driver.cores 2\n", "\n# carbon.spark.master config has 3 states\n"},
		},
		{
			name: "log4j set and remove", file: "repository/conf/log4j.properties",
			set:    map[string]string{"log4j.logger.org.wso2": "DEBUG", "log4j.logger.org.isaplay": "INFO, CARBON_LOGFILE"},
			remove: []string{"log4j.logger.org.apache.solr"},
			// The file has no final newline: its last line gains one, the appended line has none.
			removed: 3, added: 3,
			want:   []string{"\nlog4j.logger.org.wso2=DEBUG\n", "%m%n\nlog4j.logger.org.isaplay=INFO, CARBON_LOGFILE"},
			absent: []string{"log4j.logger.org.apache.solr"},
		},
		{
			name: "hazelcast properties", file: "reference-configured-k8s-5.6.0.1/is/conf/hazelcast.properties",
			set:     map[string]string{"hazelcast.shutdownhook.enabled": "true", "hazelcast.max.no.heartbeat.seconds": "600"},
			removed: 1, added: 2,
			want: []string{"\nhazelcast.shutdownhook.enabled=true\n", "\nhazelcast.max.no.heartbeat.seconds=600\n"},
		},
		{
			name: "log4j secrets masked", file: "reference-configured-k8s-5.6.0.1/is/conf/log4j.properties",
			set:     map[string]string{"log4j.appender.LOGEVENT.userName": "ops", "log4j.appender.LOGEVENT.password": "n3w-Secret"},
			secrets: []string{"password=admin", "n3w-Secret", "secretAlias:Log4j"},
			removed: 2, added: 2,
			want: []string{"\nlog4j.appender.LOGEVENT.userName=ops\n", "\nlog4j.appender.LOGEVENT.password=n3w-Secret\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, orig := wso2ref.Copy(t, tt.file)
			if err := os.Chmod(p, 0o640); err != nil {
				t.Fatal(err)
			}
			h := modtest.Host(t)
			a := args(p, tt.set, tt.remove, tt.format)
			if d := (Module{}).Validate(a); d.HasErrors() {
				t.Fatal(d)
			}
			plan := modtest.Plan(t, h, Module{}, a)
			if plan.Action != engine.ActionUpdate {
				t.Fatalf("action %s, want update", plan.Action)
			}
			for _, s := range tt.secrets {
				if strings.Contains(plan.Diff, s) {
					t.Errorf("diff shows secret %q:\n%s", s, plan.Diff)
				}
			}
			modtest.Golden(t, strings.ReplaceAll(tt.name, " ", "_"), strings.ReplaceAll(plan.Summary+"\n"+plan.Diff, filepath.Dir(p), "DIR"))

			c := modtest.Apply(t, h, Module{}, a)
			got, _ := os.ReadFile(p)
			if r, ad := modtest.LineDiff(p, orig, got); r != tt.removed || ad != tt.added {
				t.Errorf("changed lines -%d +%d, want -%d +%d", r, ad, tt.removed, tt.added)
			}
			// The plan's diff is what apply did.
			if d := engine.Diff(p, string(orig), string(got)); plan.Diff != d && len(tt.secrets) == 0 {
				t.Errorf("plan diff differs from applied diff:\n%s\n---\n%s", plan.Diff, d)
			}
			for k, v := range tt.set {
				if g, ok := Get(got, k); !ok || g != v {
					t.Errorf("%s = %q (%v), want %q", k, g, ok, v)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("result lacks %q", w)
				}
			}
			for _, k := range tt.absent {
				if _, ok := Get(got, k); ok {
					t.Errorf("key %s still present", k)
				}
			}
			if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
				t.Errorf("mode %04o after apply, want 0640", st.Mode().Perm())
			}
			modtest.InSync(t, h, Module{}, a)
			modtest.Revert(t, h, Module{}, c)
			modtest.FileIs(t, p, orig, 0o640)
		})
	}
}

// TestTraps covers the layouts the reference files do not all have: CRLF, no final newline,
// separators with spaces around them, colons, continuation lines, escapes, Latin-1 bytes.
func TestTraps(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		set    map[string]string
		remove []string
		format Format
		file   string
		want   string
	}{
		{"spaces around equals kept", "a = 1\nb=2\n", map[string]string{"a": "9"}, nil, FormatAuto, "x.properties", "a = 9\nb=2\n"},
		{"colon kept", "a: 1\n", map[string]string{"a": "2"}, nil, FormatAuto, "x.properties", "a: 2\n"},
		{"two spaces kept", "a  1\n", map[string]string{"a": "2"}, nil, FormatAuto, "x.conf", "a  2\n"},
		{"crlf kept and used for append", "a=1\r\nb=2\r\n", map[string]string{"a": "3", "c": "4"}, nil, FormatAuto, "x.properties", "a=3\r\nb=2\r\nc=4\r\n"},
		{"no final newline stays so", "a=1\nb=2", map[string]string{"c": "3"}, nil, FormatAuto, "x.properties", "a=1\nb=2\nc=3"},
		{"no final newline, set last", "a=1\nb=2", map[string]string{"b": "5"}, nil, FormatAuto, "x.properties", "a=1\nb=5"},
		{"dominant separator", "a = 1\nb = 2\nc=3\n", map[string]string{"d": "4"}, nil, FormatAuto, "x.properties", "a = 1\nb = 2\nc=3\nd = 4\n"},
		{"spark format picks whitespace", "a=1\nb\t2\n", map[string]string{"c": "3"}, nil, FormatSpark, "x.conf", "a=1\nb\t2\nc\t3\n"},
		{"properties format picks equals", "a 1\nb=2\n", map[string]string{"c": "3"}, nil, FormatProperties, "x", "a 1\nb=2\nc=3\n"},
		{"empty conf file", "", map[string]string{"a": "1"}, nil, FormatAuto, "spark-defaults.conf", "a 1\n"},
		{"empty properties file", "", map[string]string{"a": "1"}, nil, FormatAuto, "x.properties", "a=1\n"},
		{"continuation replaced whole", "a=1,\\\n  2\nb=3\n", map[string]string{"a": "x"}, nil, FormatAuto, "x.properties", "a=x\nb=3\n"},
		{"continuation equal value untouched", "a=1,\\\n  2\nb=3\n", map[string]string{"a": "1,2", "b": "4"}, nil, FormatAuto, "x.properties", "a=1,\\\n  2\nb=4\n"},
		{"tomcat continuation of another key untouched", "common.loader=\"${catalina.base}/lib\",\\\n    \"${catalina.home}/lib/*.jar\"\nx=1\n",
			map[string]string{"x": "2"}, nil, FormatAuto, "catalina.properties", "common.loader=\"${catalina.base}/lib\",\\\n    \"${catalina.home}/lib/*.jar\"\nx=2\n"},
		{"dangling continuation at end", "a=1\\\n", map[string]string{"b": "2"}, nil, FormatAuto, "x.properties", "a=1\\\n\nb=2\n"},
		{"escaped key matched", "my\\ key=1\n", map[string]string{"my key": "2"}, nil, FormatAuto, "x.properties", "my\\ key=2\n"},
		{"new key escaped", "", map[string]string{"a b=c": "1"}, nil, FormatAuto, "x.properties", "a\\ b\\=c=1\n"},
		{"value escapes", "", map[string]string{"p": ` C:\x=é`}, nil, FormatAuto, "x.properties", "p=\\ C:\\\\x=\\u00E9\n"},
		{"unicode escape compares equal", "p=\\u00e9\n", map[string]string{"p": "é"}, nil, FormatAuto, "x.properties", "p=\\u00e9\n"},
		{"latin1 kept", "a=caf\xe9\nb=1\n", map[string]string{"b": "2"}, nil, FormatAuto, "x.properties", "a=caf\xe9\nb=2\n"},
		{"latin1 value compares", "a=caf\xe9\n", map[string]string{"a": "café"}, nil, FormatAuto, "x.properties", "a=caf\xe9\n"},
		{"uncomment hash equals", "#a=1\nb=2\n", map[string]string{"a": "5"}, nil, FormatAuto, "x.properties", "a=5\nb=2\n"},
		{"uncomment bang", "! a: 1\n", map[string]string{"a": "5"}, nil, FormatAuto, "x.properties", "a: 5\n"},
		{"active wins over comment", "# a 1\na 2\n", map[string]string{"a": "3"}, nil, FormatAuto, "x.conf", "# a 1\na 3\n"},
		{"all duplicates set", "a=1\nb=0\na=2\n", map[string]string{"a": "3"}, nil, FormatAuto, "x.properties", "a=3\nb=0\na=3\n"},
		{"remove all duplicates not comments", "a=1\n#a=0\na=2\nb=1", nil, []string{"a"}, FormatAuto, "x.properties", "#a=0\nb=1"},
		{"remove missing is no-op", "a=1\n", nil, []string{"zz"}, FormatAuto, "x.properties", "a=1\n"},
		{"key only line gets separator", "a\nb=1\n", map[string]string{"a": "on"}, nil, FormatAuto, "x.properties", "a=on\nb=1\n"},
		{"indent kept", "  a = 1\n", map[string]string{"a": "2"}, nil, FormatAuto, "x.properties", "  a = 2\n"},
		{"leading equals in value escaped", "a 1\n", map[string]string{"a": "=x"}, nil, FormatAuto, "x.conf", "a \\=x\n"},
		{"comment continuation is no continuation", "# a\\\nb=1\n", map[string]string{"b": "2"}, nil, FormatAuto, "x.properties", "# a\\\nb=2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Edit([]byte(tt.in), tt.file, tt.set, tt.remove, tt.format)
			if string(got) != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			for k, v := range tt.set {
				if g, ok := Get(got, k); !ok || g != v {
					t.Errorf("read back %s = %q, want %q", k, g, v)
				}
			}
			again, res := Edit(got, tt.file, tt.set, tt.remove, tt.format)
			if res.Changed() || string(again) != string(got) {
				t.Errorf("second edit changes %v: %q", res, again)
			}
		})
	}
}

// TestSecretMasking checks that a secret value, set through a sensitive variable or sitting in
// the file under a secret-named key, is masked in every diff line, continuation lines included.
func TestSecretMasking(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "db.properties")
	in := "db.url=jdbc:mysql://db/x\ndb.password=wso2carbon\n#db.secret=oldsecret\napi.token=abc\\\n   def\ndb.user=u\n"
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	h := modtest.Host(t)
	h.AddSecret("Hunter2-xyz")
	a := args(p, map[string]string{"db.user": "admin", "db.secret": "Hunter2-xyz", "db.url": "jdbc:mysql://db2/x"}, nil, "")
	c := modtest.Plan(t, h, Module{}, a)
	for _, s := range []string{"wso2carbon", "oldsecret", "Hunter2", "abc", "def"} {
		if strings.Contains(c.Diff, s) {
			t.Errorf("diff shows %q:\n%s", s, c.Diff)
		}
	}
	for _, s := range []string{"db.password=" + engine.Mask, "db.secret=" + engine.Mask, "db.user=admin"} {
		if !strings.Contains(c.Diff, s) {
			t.Errorf("diff lacks %q:\n%s", s, c.Diff)
		}
	}
	applied := modtest.Apply(t, h, Module{}, a)
	modtest.InSync(t, h, Module{}, a)
	modtest.Revert(t, h, Module{}, applied)
	modtest.FileIs(t, p, []byte(in), 0o600)
}

// TestRevertRefusesForeignChange: a file changed by someone else after apply is not restored
// over their change.
func TestRevertRefusesForeignChange(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.properties")
	if err := os.WriteFile(p, []byte("a=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := modtest.Host(t)
	a := args(p, map[string]string{"a": "2"}, nil, "")
	c := modtest.Apply(t, h, Module{}, a)
	if err := os.WriteFile(p, []byte("a=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var drift *engine.DriftError
	if err := (Module{}).CheckRevert(context.Background(), h, c.Undo); !errors.As(err, &drift) {
		t.Fatalf("check revert over a foreign change: %v", err)
	}
	// Forced, the revert restores the original.
	modtest.Revert(t, h, Module{}, c)
	modtest.FileIs(t, p, []byte("a=1\n"), 0o644)
}

func TestErrors(t *testing.T) {
	h := modtest.Host(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		args *engine.Args
		want string
	}{
		{"missing file", args(filepath.Join(dir, "nope.properties"), map[string]string{"a": "1"}, nil, ""), "nope.properties: no such file"},
		{"directory", args(dir, map[string]string{"a": "1"}, nil, ""), "is a dir"},
		{"bad format", args(filepath.Join(dir, "x"), map[string]string{"a": "1"}, nil, "yaml"), "format"},
		{"set and remove", args(filepath.Join(dir, "x"), map[string]string{"a": "1"}, []string{"a"}, ""), "both set and remove"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Module{}.Check(context.Background(), h.Planning(), tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
