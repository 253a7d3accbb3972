package xmlpatch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

var exNS = map[string]string{"x": "http://example.org/carbon"}

// golden compares got with testdata/xml/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join(repoTestdata(t), "golden", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", name, engine.Diff(name, string(want), string(got)))
	}
}

// stablePath replaces the temporary path in a diff so goldens do not depend on it.
func stablePath(diff, p string) []byte {
	return []byte(strings.ReplaceAll(diff, p, filepath.Base(p)))
}

// TestFixtures runs edits on the repository's own fixtures, which carry the traps of the real
// files, and compares both the written bytes and the diff with golden files.
func TestFixtures(t *testing.T) {
	cases := []struct {
		name, file string
		ns         map[string]string
		blocks     []*engine.Args
		want       map[string]string
	}{
		{
			name: "latin1-crlf",
			file: "latin1-crlf.xml",
			ns:   exNS,
			blocks: []*engine.Args{
				blk("set_text", "xpath", "/x:Server/x:Name", "value", "Café Señor"),
				blk("ensure", "xpath", "/x:Server/x:HostName", "after", "/x:Server/x:Version", "fragment", "<HostName>h.example.org</HostName>"),
				blk("set_attr", "xpath", "/x:Server/x:Connector", "name", "proxyPort", "value", "443"),
				blk("set_text", "xpath", "/x:Server/x:Empty", "value", "a&b"),
				blk("set_text", "xpath", "/x:Server/x:DeploymentSynchronizer/x:SvnPassword", "value", "n3w-s3cret"),
				blk("set_text", "xpath", "/x:Server/x:Script", "value", "x > y"),
				blk("set_attr", "xpath", "/x:Server/x:Connector/@port", "value", "9444"),
			},
			want: map[string]string{
				"/x:Server/x:Name":            "Café Señor",
				"/x:Server/x:HostName":        "h.example.org",
				"/x:Server/x:Empty":           "a&b",
				"/x:Server/x:Script":          "x > y",
				"/x:Server/x:Connector/@port": "9444",
				"count(/x:Server/x:HostName)": "1",
				"count(/x:Server/*[local-name()='HostName' and namespace-uri()=''])": "0",
			},
		},
		{
			name: "nodecl-lf",
			file: "nodecl-lf.xml",
			blocks: []*engine.Args{
				blk("set_attr", "xpath", "/config/mode[@name='Single']", "name", "enable", "value", "false"),
				blk("set_attr", "xpath", "/config/mode[@name='HA']/@enable", "value", "true"),
				blk("set_text", "xpath", "/config/caches/cache/size", "value", "64", "count", 2),
				blk("remove", "xpath", "/config/obsolete2"),
				blk("remove", "xpath", "/config/obsolete"),
				blk("replace_children", "xpath", "/config/members", "fragment", "<member><host>10.0.0.1</host></member><member><host>10.0.0.2</host></member>"),
				blk("ensure", "xpath", "/config/datasources/datasource[name='B']", "fragment", "<datasource>\n  <name>B</name>\n  <password>wso2carbon</password>\n</datasource>"),
				blk("set_attr", "xpath", "/config/caches/cache[@name='a']", "name", "quote", "value", `it's "q"`),
			},
			want: map[string]string{
				"(/config/mode[@enable='true'])[1]/@name":   "HA",
				"count(/config/caches/cache)":               "2",
				"count(/config/obsolete|/config/obsolete2)": "0",
				"/config/caches/cache/size":                 "64",
				"/config/caches/cache/@quote":               `it's "q"`,
				"/config/members/member[2]/host":            "10.0.0.2",
				"/config/datasources/datasource[2]/name":    "B",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src := filepath.Join(repoTestdata(t), tc.file)
			orig, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			p := copyFile(t, src, 0o600)
			h := newHost(t)
			args := task(p, tc.ns, tc.blocks...)
			c := check(t, h, args)
			for _, l := range strings.Split(c.Diff, "\n") {
				if strings.Contains(l, "wso2carbon") || strings.Contains(l, "n3w-s3cret") {
					t.Errorf("diff line shows a password: %q", l)
				}
			}
			golden(t, tc.name+".diff", stablePath(c.Diff, p))
			if err := (Module{}).Apply(ctx, h, c); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			golden(t, tc.name+".out", got)
			doc, err := xmldoc.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			for x, want := range tc.want {
				e, err := xmldoc.Compile(x, tc.ns)
				if err != nil {
					t.Fatal(err)
				}
				if v, _, _, _ := doc.Eval(e); v != want {
					t.Errorf("%s = %q, want %q", x, v, want)
				}
			}
			if again := check(t, h, args); again.Action != engine.ActionNone {
				t.Errorf("second Check: %s:\n%s", again.Action, again.Diff)
			}
			if err := (Module{}).Revert(ctx, h, c.Undo); err != nil {
				t.Fatal(err)
			}
			if back, _ := os.ReadFile(p); !bytes.Equal(back, orig) {
				t.Error("Revert did not restore the original bytes")
			}
		})
	}
}

// TestWriteOncePassword: the event publisher password is set only while Carbon has not
// encrypted it (spec F10 drift trap); once encrypted="true" the task is in sync, and the
// ciphertext is masked in every diff line.
func TestWriteOncePassword(t *testing.T) {
	ns := map[string]string{"ep": "http://wso2.org/carbon/eventpublisher"}
	to := "/ep:eventPublisher/ep:to/ep:property"
	blocks := []*engine.Args{
		blk("set_text", "xpath", to+"[@name='receiverURL']", "value", "tcp://"+an1+":7612|tcp://"+an2+":7612"),
		blk("set_text", "xpath", to+"[@name='password'][@encrypted='false']", "value", "n3w", "optional", true),
	}
	p := copyFile(t, filepath.Join(repoTestdata(t), "publisher-encrypted.xml"), 0o644)
	h := newHost(t)
	c := check(t, h, task(p, ns, blocks...))
	if plus, minus := diffStat(c.Diff); plus != 1 || minus != 1 {
		t.Errorf("+%d -%d, want only the receiverURL line:\n%s", plus, minus, c.Diff)
	}
	if err := (Module{}).Apply(context.Background(), h, c); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Contains(got, []byte(`<property encrypted="true" name="password">kuv2Mub`)) || bytes.Contains(got, []byte("n3w")) {
		t.Errorf("the encrypted password was touched:\n%s", got)
	}
	// A later change next to it shows the ciphertext line as context: masked.
	c = check(t, h, task(p, ns, blk("set_text", "xpath", to+"[@name='username']", "value", "analytics")))
	if strings.Contains(c.Diff, "kuv2Mub") || !strings.Contains(c.Diff, `name="password">(sensitive)</property>`) {
		t.Errorf("ciphertext not masked:\n%s", c.Diff)
	}
}
