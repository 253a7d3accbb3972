package adopt

import (
	"context"
	"flag"
	"fmt"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/modules/file"
	"github.com/isaplay/isaplay/modules/jarcopy"
	"github.com/isaplay/isaplay/modules/properties"
	"github.com/isaplay/isaplay/modules/xmlpatch"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The Maven filter tokens the pack build replaces in the source blobs (SOURCES.md,
// filter.properties of analytics-is v5.6.0 and the IS 5.6.0 values).
var (
	axis2Analytics  = map[string]string{"${hotdeployment}": "true", "${hotupdate}": "true", "@product.name@-@product.version@": "WSO2 Identity Server Analytics-5.6.0"}
	axis2IS         = map[string]string{"${hotdeployment}": "true", "${hotupdate}": "true", "@product.name@-@product.version@": "WSO2 Identity Server-5.6.0"}
	carbonAnalytics = map[string]string{"${product.name}": "WSO2 Identity Server Analytics", "${product.key}": "DAS", "${product.version}": "5.6.0",
		"${default.server.role}": "DataAnalyticsServer", "${cep.server.role}": "ComplexEventProcessor"}
	carbonIS = map[string]string{"${product.name}": "WSO2 Identity Server", "${product.key}": "IS", "${product.version}": "5.6.0", "${default.server.role}": "IdentityServer"}
)

// pair is a configured Kubernetes file and its pristine counterpart.
type pair struct {
	configured string            // under reference-configured-k8s-5.6.0.1/
	pristine   string            // under the reference folder
	product    string            // where it lives in the product home
	tokens     map[string]string // Maven tokens to replace in the pristine blob
}

// pairs is every file of reference-configured-k8s-5.6.0.1 with a pristine counterpart. The k8s
// copies use conf/ for repository/conf/ and deployment/ for repository/deployment/; the IS node's
// registry.xml is compared with the kernel one (IS ships the p2-profile one) and its
// user-mgt.xml with the IS test artifact that stands in for the default.
func pairs() []pair {
	var out []pair
	for _, node := range []string{"is-analytics-1", "is-analytics-2"} {
		for _, f := range []struct {
			rel    string
			tokens map[string]string
		}{
			{"axis2/axis2.xml", axis2Analytics}, {"carbon.xml", carbonAnalytics},
			{"datasources/analytics-datasources.xml", nil}, {"datasources/master-datasources.xml", nil},
			{"event-processor.xml", nil}, {"registry.xml", nil}, {"user-mgt.xml", nil},
			{"analytics/spark/spark-defaults.conf", nil},
		} {
			out = append(out, pair{node + "/conf/" + f.rel, "repository/conf/" + f.rel, "repository/conf/" + f.rel, f.tokens})
		}
	}
	ep := "repository/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-"
	out = append(out,
		pair{"is/conf/axis2/axis2.xml", "is-5.6.0/repository/conf/axis2/axis2.xml", "repository/conf/axis2/axis2.xml", axis2IS},
		pair{"is/conf/carbon.xml", "is-5.6.0/repository/conf/carbon.xml", "repository/conf/carbon.xml", carbonIS},
		pair{"is/conf/registry.xml", "is-5.6.0/repository/conf/registry.kernel-4.4.32.xml", "repository/conf/registry.xml", nil},
		pair{"is/conf/user-mgt.xml", "is-5.6.0/test-artifact-default-user-mgt.xml", "repository/conf/user-mgt.xml", nil},
		pair{"is/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-AuthenticationData.xml", "is-5.6.0/" + ep + "AuthenticationData.xml", ep + "AuthenticationData.xml", nil},
		pair{"is/deployment/server/eventpublishers/IsAnalytics-Publisher-wso2event-SessionData.xml", "is-5.6.0/" + ep + "SessionData.xml", ep + "SessionData.xml", nil},
	)
	return out
}

// load reads a pair's files (from the read-only folder) with the tokens replaced in the pristine one.
func (p pair) load(t testing.TB) (pristine, configured []byte) {
	t.Helper()
	ref := wso2ref.Dir(t)
	pr, err := os.ReadFile(filepath.Join(ref, p.pristine))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := os.ReadFile(filepath.Join(ref, "reference-configured-k8s-5.6.0.1", p.configured))
	if err != nil {
		t.Fatal(err)
	}
	s := string(pr)
	for tok, v := range p.tokens {
		if !strings.Contains(s, tok) {
			t.Fatalf("%s: token %s not found", p.pristine, tok)
		}
		s = strings.ReplaceAll(s, tok, v)
	}
	return []byte(s), cf
}

func registry() *engine.Registry {
	r := engine.NewRegistry()
	r.Register(xmlpatch.Name, xmlpatch.Module{})
	r.Register(properties.Name, properties.Module{})
	r.Register(file.Name, file.Module{})
	r.Register(jarcopy.Name, jarcopy.Module{})
	return r
}

// run validates the playbook, applies it on the local host, then plans it again and returns
// that second plan. vars are the variables' values (--var).
func run(t *testing.T, dir string, playbook []byte, vars map[string]string) *engine.Plan {
	t.Helper()
	pbPath := filepath.Join(dir, "adopted.hcl")
	if err := os.WriteFile(pbPath, playbook, 0o644); err != nil {
		t.Fatal(err)
	}
	parser := hclparse.NewParser()
	pb, diags := engine.LoadPlaybook(parser, pbPath, registry())
	if diags.HasErrors() {
		t.Fatalf("generated playbook does not load: %s\n%s", diags, playbook)
	}
	inv, diags := inventory.LoadBytes(parser, []byte(fmt.Sprintf("host \"n1\" {\n  connection = \"local\"\n  groups = [\"app\"]\n  state_dir = %q\n}\n", filepath.Join(dir, "state"))), "hosts.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var flags []string
	for k, v := range vars {
		flags = append(flags, k+"="+v)
	}
	red := engine.NewRedactor()
	vals, diags := engine.ResolveVariables(parser, pb, engine.VarInputs{Env: []string{}, Flags: flags}, red)
	if diags.HasErrors() {
		t.Fatalf("variables: %s", diags)
	}
	cfg := engine.Config{Playbook: pb, Inventory: inv, Registry: registry(), Vars: vals, Redactor: red, RunID: "adopt",
		Conns: engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return local.New(), nil })}
	if diags := engine.Validate(context.Background(), cfg); diags.HasErrors() {
		t.Fatalf("validate: %s", diags)
	}
	applied, err := engine.ApplyRun(context.Background(), cfg)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, e := range applied.Entries {
		if e.Status == engine.StatusFailed {
			t.Fatalf("apply: %s failed: %s", e.Task, e.Error)
		}
	}
	cfg.Conns = engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return local.New(), nil })
	again, err := engine.PlanRun(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second plan: %v", err)
	}
	return again
}

// sameDocument fails unless got and want are equal after canonicalisation: for XML the same
// elements, attributes and text (whitespace and comments aside), for properties the same keys
// and values.
func sameDocument(t *testing.T, name string, got, want []byte) {
	t.Helper()
	switch Kind(name, want) {
	case KindXML:
		gd, err := xmldoc.Parse(got)
		if err != nil {
			t.Fatalf("%s after apply: %v", name, err)
		}
		wd, err := xmldoc.Parse(want)
		if err != nil {
			t.Fatal(err)
		}
		g, w := Canonical(gd.RootElement()), Canonical(wd.RootElement())
		if g != w {
			t.Fatalf("%s: applied document differs from the configured one:\n%s", name, engine.Diff(name, strings.ReplaceAll(w, "><", ">\n<"), strings.ReplaceAll(g, "><", ">\n<")))
		}
	case KindProperties:
		gk, gv := PropValues(got)
		wk, wv := PropValues(want)
		sort.Strings(gk)
		sort.Strings(wk)
		if !reflect.DeepEqual(gk, wk) || !reflect.DeepEqual(gv, wv) {
			t.Fatalf("%s: keys differ after apply:\ngot  %v\nwant %v", name, gv, wv)
		}
	default:
		if string(got) != string(want) {
			t.Fatalf("%s: bytes differ after apply", name)
		}
	}
}

// secretsOf returns the values under secret names in a configured file.
func secretsOf(t *testing.T, name string, data []byte) []string {
	switch Kind(name, data) {
	case KindXML:
		d, err := xmldoc.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return XMLSecrets(d)
	case KindProperties:
		return propSecrets(data)
	}
	return textSecrets(data)
}

// noSecrets fails when a secret value is in the playbook: anywhere when it holds a digit or
// punctuation (wso2carbon, A1b2c3d4), else as a whole value (>admin<, "admin", 'admin'), since
// a plain word such as "password" (an SvnPassword placeholder) is also in names and XPaths.
func noSecrets(t *testing.T, pb []byte, secrets []string) {
	t.Helper()
	text := string(pb)
	for _, s := range secrets {
		plain := strings.Trim(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz") == ""
		if !plain && strings.Contains(text, s) {
			t.Errorf("secret value %q is in the generated playbook", s)
		}
		for _, w := range []string{">" + s + "<", `"` + s + `"`, "'" + s + "'"} {
			if strings.Contains(text, w) {
				t.Errorf("secret value %q is in the generated playbook (%s)", s, w)
			}
		}
	}
}

// TestReferencePairs adopts every configured Kubernetes file onto its pristine counterpart and
// applies the result with the real modules: the document equals the configured one, a second
// plan is in sync, and no secret value is in the playbook.
func TestReferencePairs(t *testing.T) {
	for _, p := range pairs() {
		t.Run(p.configured, func(t *testing.T) {
			pristine, configured := p.load(t)
			res, err := File(p.product, pristine, configured, Options{Home: HomeVar})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Tasks) != 1 {
				t.Fatalf("got %d tasks, want 1", len(res.Tasks))
			}
			dir := t.TempDir()
			home := filepath.Join(dir, "home")
			target := filepath.Join(home, filepath.FromSlash(p.product))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, pristine, 0o644); err != nil {
				t.Fatal(err)
			}
			pb := res.PlayHCL("adopt", "all")
			noSecrets(t, pb, secretsOf(t, p.product, configured))
			vars := map[string]string{HomeVar: home}
			for k, v := range res.Values {
				if k != HomeVar {
					vars[k] = v
				}
			}
			again := run(t, dir, pb, vars)
			got, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			sameDocument(t, p.product, got, configured)
			for _, e := range again.Entries {
				if e.Status != engine.StatusInSync {
					t.Errorf("second plan: %s is %s: %s", e.Task, e.Status, e.Change.Diff)
				}
			}
			t.Logf("%d operations, %d variables, %d notes", len(res.Tasks[0].Blocks)+len(res.Tasks[0].Args)-1, len(res.Variables)-1, len(res.Notes))
		})
	}
}

// TestGolden pins the generated HCL for three files.
func TestGolden(t *testing.T) {
	for _, p := range pairs()[:8] {
		name := filepath.Base(p.product)
		switch name {
		case "axis2.xml", "event-processor.xml", "master-datasources.xml":
		default:
			continue
		}
		t.Run(name, func(t *testing.T) {
			pristine, configured := p.load(t)
			res, err := File(p.product, pristine, configured, Options{Home: HomeVar})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(name, ".xml")+".hcl", res.HCL())
			if name == "event-processor.xml" {
				js, err := res.JSON()
				if err != nil {
					t.Fatal(err)
				}
				golden(t, "event-processor.json", js)
			}
		})
	}
}

// BenchmarkFile adopts the eight paired files of an IS Analytics node.
func BenchmarkFile(b *testing.B) {
	ps := pairs()[:8]
	type in struct {
		name      string
		pri, conf []byte
	}
	var ins []in
	for _, p := range ps {
		pr, cf := p.load(b)
		ins = append(ins, in{p.product, pr, cf})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range ins {
			if _, err := File(f.name, f.pri, f.conf, Options{Home: HomeVar}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Fatalf("%s differs (run with -update to accept):\n%s", p, engine.Diff(p, string(want), string(got)))
	}
}

// copyFile writes data to dst, creating its folder.
func copyFile(t *testing.T, dst string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTree adopts the is-analytics-1 Kubernetes tree onto a pristine IS Analytics home built from
// the reference files (tokens replaced), with a driver jar only the configured tree has, and
// applies the playbook: every configured file ends up equal, a second plan is in sync, and no
// secret is in the playbook.
func TestTree(t *testing.T) {
	dir := t.TempDir()
	pristineHome, configuredHome := filepath.Join(dir, "pristine"), filepath.Join(dir, "configured")
	type placed struct {
		product    string
		configured []byte
	}
	var files []placed
	for _, p := range pairs()[:8] {
		pristine, configured := p.load(t)
		copyFile(t, filepath.Join(pristineHome, filepath.FromSlash(p.product)), pristine)
		copyFile(t, filepath.Join(configuredHome, filepath.FromSlash(strings.TrimPrefix(p.configured, "is-analytics-1/"))), configured)
		files = append(files, placed{p.product, configured})
	}
	// Files only the configured tree has: the node id, a dashboard setting, a driver jar.
	ref := filepath.Join(wso2ref.Dir(t), "reference-configured-k8s-5.6.0.1", "is-analytics-1")
	for _, rel := range []string{"conf/analytics/my-node-id.dat", "deployment/server/jaggeryapps/portal/configs/designer.json"} {
		data, err := os.ReadFile(filepath.Join(ref, rel))
		if err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(configuredHome, rel), data)
		files = append(files, placed{"repository/" + rel, data})
	}
	// A changed script is written whole; the secret it now holds keeps its content out of the
	// playbook (read with file() instead).
	script, err := os.ReadFile(filepath.Join(wso2ref.Dir(t), "bin", "load-spark-env-vars.sh"))
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(pristineHome, "bin", "load-spark-env-vars.sh"), script)
	edited := append(append([]byte{}, script...), "\nexport ANALYTICS_DB_PASSWORD=sp4rk-s3cret\n"...)
	copyFile(t, filepath.Join(configuredHome, "bin", "load-spark-env-vars.sh"), edited)
	files = append(files, placed{"bin/load-spark-env-vars.sh", edited})
	jar := []byte("PK\x03\x04\x00\x00fake driver jar\x00\xff")
	copyFile(t, filepath.Join(configuredHome, "lib", "mysql-connector-java-5.1.47.jar"), jar)
	files = append(files, placed{"repository/components/lib/mysql-connector-java-5.1.47.jar", jar})
	// The product has these folders.
	for _, d := range []string{"repository/deployment/server/jaggeryapps/portal/configs", "repository/components/lib"} {
		if err := os.MkdirAll(filepath.Join(pristineHome, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var maps []Map
	for _, s := range []string{"conf=repository/conf", "deployment=repository/deployment", "lib=repository/components/lib"} {
		m, err := ParseMap(s)
		if err != nil {
			t.Fatal(err)
		}
		maps = append(maps, m)
	}
	res, err := Tree(pristineHome, configuredHome, maps)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, tk := range res.Tasks {
		types[tk.Type]++
	}
	want := map[string]int{"xml_patch": 7, "properties_set": 1, "file": 3, "jar_copy": 1}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("task types %v, want %v", types, want)
	}
	pb := res.PlayHCL("adopt", "all")
	for _, f := range files {
		noSecrets(t, pb, secretsOf(t, f.product, f.configured))
	}
	noSecrets(t, pb, []string{"sp4rk-s3cret"})
	vars := map[string]string{}
	for k, v := range res.Values {
		vars[k] = v
	}
	vars[HomeVar] = pristineHome
	again := run(t, dir, pb, vars)
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(pristineHome, filepath.FromSlash(f.product)))
		if err != nil {
			t.Fatal(err)
		}
		sameDocument(t, f.product, got, f.configured)
	}
	for _, e := range again.Entries {
		if e.Status != engine.StatusInSync {
			t.Errorf("second plan: %s is %s", e.Task, e.Status)
		}
	}
}
