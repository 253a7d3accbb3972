package xmlpatch

import (
	"context"
	"encoding/xml"
	"errors"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
	"github.com/zclconf/go-cty/cty"
)

// TestErrors: a wrong match count, a failed assert or a bad fragment fails the plan with an
// error naming the file, the XPath and how many nodes matched; assert never prints a secret.
func TestErrors(t *testing.T) {
	ref := wso2ref.Dir(t)
	conf := func(f string) string { return filepath.Join(ref, "repository/conf", f) }
	ds := "/datasources-configuration/datasources/datasource"
	cases := []struct {
		name, file string
		ns         map[string]string
		block      *engine.Args
		want       []string
		notWant    []string
	}{
		{"unprefixed XPath on a default namespace", conf("carbon.xml"), carbonNS,
			blk("set_text", "xpath", "/Server/Ports/Offset", "value", "2"),
			[]string{"carbon.xml", `"/Server/Ports/Offset"`, "matched 0 nodes, want exactly 1", "default namespace is http://wso2.org/projects/carbon/carbon.xml"}, nil},
		{"look-alike inside a comment", conf("carbon.xml"), carbonNS,
			blk("set_text", "xpath", "/c:Server/c:HostName", "value", "h"),
			[]string{"matched 0 nodes"}, nil},
		{"commented datasource never matches", conf("datasources/master-datasources.xml"), nil,
			blk("set_text", "xpath", ds+"[name='SAMPLE_DATA_SOURCE']/description", "value", "x"),
			[]string{"matched 0 nodes"}, nil},
		{"commented remoteInstance never matches", conf("registry.xml"), nil,
			blk("remove", "xpath", "/wso2registry/remoteInstance", "count", 1),
			nil, nil}, // remove of nothing is in sync: checked below as no error
		{"two taxonomy-writer-cache siblings", conf("analytics/analytics-config.xml"), nil,
			blk("set_attr", "xpath", "/analytics-dataservice-configuration/taxonomy-writer-cache", "name", "x", "value", "1"),
			[]string{"analytics-config.xml", "taxonomy-writer-cache", "matched 2 nodes, want exactly 1"}, nil},
		{"seven hostName under .//", conf("event-processor.xml"), nil,
			blk("set_text", "xpath", "//hostName", "value", an1, "count", 3),
			[]string{"matched 7 nodes, want exactly 3"}, nil},
		{"optional does not excuse too many", conf("event-processor.xml"), nil,
			blk("set_text", "xpath", "//persistence/@enable", "value", "false", "optional", true),
			[]string{"matched 2 nodes, want 0 or 1"}, nil},
		{"assert fails with both values", conf("carbon.xml"), carbonNS,
			blk("assert", "xpath", "/c:Server/c:Ports/c:Offset", "value", "0"),
			[]string{`assert "/c:Server/c:Ports/c:Offset"`, `/Server/Ports/Offset is "1", want "0"`}, nil},
		{"assert on a password masks both values", conf("datasources/master-datasources.xml"), nil,
			blk("assert", "xpath", ds+"[name='WSO2_CARBON_DB']/definition/configuration/password", "value", "guess"),
			[]string{"(sensitive)"}, []string{shippedPwd, "guess"}},
		{"ensure fragment that misses its key", conf("datasources/master-datasources.xml"), nil,
			blk("ensure", "xpath", ds+"[name='WSO2UM_DB']", "fragment", "<datasource><name>OTHER</name></datasource>"),
			[]string{"the key matches 0 nodes, not 1"}, nil},
		{"ensure with an after outside the parent", conf("datasources/master-datasources.xml"), nil,
			blk("ensure", "xpath", ds+"[name='X']", "after", "/datasources-configuration/providers", "fragment", "<datasource><name>X</name></datasource>"),
			[]string{"is not a child of"}, nil},
		{"set_text on an element with children", conf("axis2/axis2.xml"), nil,
			blk("set_text", "xpath", "/axisconfig/clustering/members", "value", "x"),
			[]string{"has child elements"}, nil},
		{"undeclared prefix", conf("carbon.xml"), nil,
			blk("set_text", "xpath", "/c:Server", "value", "x"),
			[]string{"prefix c not defined"}, nil},
		{"value not representable in ISO-8859-1", conf("carbon.xml"), carbonNS,
			blk("set_text", "xpath", "/c:Server/c:Name", "value", "Serveur €"),
			[]string{"carbon.xml", "U+20AC", "cannot be written in ISO-8859-1"}, nil},
		{"value with a control character", conf("user-mgt.xml"), nil,
			blk("set_text", "xpath", "//Property[@name='dataSource']", "value", "a\x01b"),
			[]string{"U+0001"}, nil},
		{"missing file", conf("nonexistent.xml"), nil,
			blk("set_text", "xpath", "/a", "value", "x"),
			[]string{"nonexistent.xml", "does not exist"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t)
			_, err := Module{}.Check(context.Background(), h.Planning(), task(tc.file, tc.ns, tc.block))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q shows %q", err, w)
				}
			}
		})
	}
}

// hclTask decodes the nested blocks of a task written in HCL into Args, in source order, the
// way the engine hands them to modules (literal values only).
func hclTask(t *testing.T, path, src string) *engine.Args {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var blocks []*engine.Args
	for _, b := range f.Body.(*hclsyntax.Body).Blocks[0].Body.Blocks {
		vals := map[string]cty.Value{}
		for name, a := range b.Body.Attributes {
			v, d := a.Expr.Value(nil)
			if d.HasErrors() {
				t.Fatal(d)
			}
			vals[name] = v
		}
		blocks = append(blocks, engine.NewArgs(b.Type, vals))
	}
	return engine.NewArgs(Name, map[string]cty.Value{"path": cty.StringVal(path)}, blocks...)
}

// TestSourceOrderAcrossTypes: operations apply in the order written, across block types; each
// sees what the previous one left.
func TestSourceOrderAcrossTypes(t *testing.T) {
	p := copyFile(t, filepath.Join(wso2ref.Dir(t), "repository/conf/datasources/master-datasources.xml"), 0o644)
	ds := "/datasources-configuration/datasources/datasource"
	src := `task "xml_patch" "order" {
  set_text {
    xpath = "` + ds + `[name='WSO2_CARBON_DB']/description"
    value = "first"
  }
  assert {
    xpath = "` + ds + `[name='WSO2_CARBON_DB']/description"
    value = "first"
  }
  ensure {
    xpath    = "` + ds + `[name='NEW']"
    fragment = "<datasource><name>NEW</name><description>d</description></datasource>"
  }
  set_attr {
    xpath = "` + ds + `[name='NEW']"
    name  = "state"
    value = "inserted"
  }
  set_text {
    xpath = "` + ds + `[name='WSO2_CARBON_DB']/description"
    value = "second"
  }
  remove {
    xpath = "` + ds + `[name='NEW']/description"
  }
  assert {
    xpath = "count(` + ds + `)"
    value = "2"
  }
}`
	args := hclTask(t, p, src)
	var types []string
	for _, b := range args.Blocks() {
		types = append(types, b.Type)
	}
	if got := strings.Join(types, ","); got != "set_text,assert,ensure,set_attr,set_text,remove,assert" {
		t.Fatalf("blocks not in source order: %s", got)
	}
	h := newHost(t)
	c := check(t, h, args)
	if err := (Module{}).Apply(context.Background(), h, c); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	doc, err := xmldoc.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range map[string]string{
		ds + "[name='WSO2_CARBON_DB']/description":  "second",
		ds + "[name='NEW']/@state":                  "inserted",
		"count(" + ds + "[name='NEW']/description)": "0",
	} {
		e, _ := xmldoc.Compile(x, nil)
		if v, _, _, _ := doc.Eval(e); v != want {
			t.Errorf("%s = %q, want %q", x, v, want)
		}
	}
	if again := check(t, h, args); again.Action != engine.ActionNone {
		t.Errorf("second Check: %s\n%s", again.Action, again.Diff)
	}
}

// TestEnsureUpdatesInPlace: re-running ensure with changed values edits only the changed lines
// of the existing element and never duplicates it.
func TestEnsureUpdatesInPlace(t *testing.T) {
	p := copyFile(t, filepath.Join(wso2ref.Dir(t), "repository/conf/datasources/master-datasources.xml"), 0o644)
	ds := "/datasources-configuration/datasources/datasource"
	h := newHost(t)
	ensure := func(frag string) *engine.Args {
		return task(p, nil, blk("ensure", "xpath", ds+"[name='WSO2UM_DB']", "after", ds+"[name='WSO2_CARBON_DB']", "fragment", frag))
	}
	first := datasource("WSO2UM_DB", "The datasource used by user manager", "userdb")
	c := check(t, h, ensure(first))
	if err := (Module{}).Apply(context.Background(), h, c); err != nil {
		t.Fatal(err)
	}
	// New password and a new URL, same shape: two lines change, nothing is duplicated.
	second := strings.Replace(strings.Replace(first, escText(anDBPass), "n3w&amp;pw", 1), "/userdb?", "/userdb2?", 1)
	c = check(t, h, ensure(second))
	if plus, minus := diffStat(c.Diff); plus != 2 || minus != 2 {
		t.Errorf("update in place: +%d -%d, want +2 -2:\n%s", plus, minus, c.Diff)
	}
	if strings.Contains(c.Diff, "n3w") {
		t.Errorf("diff shows the new password:\n%s", c.Diff)
	}
	if err := (Module{}).Apply(context.Background(), h, c); err != nil {
		t.Fatal(err)
	}
	// A different shape (an element fewer, an attribute more) is rewritten to equal the fragment.
	third := `<datasource kind="mysql"><name>WSO2UM_DB</name><description>short</description></datasource>`
	c = check(t, h, ensure(third))
	if err := (Module{}).Apply(context.Background(), h, c); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	doc, _ := xmldoc.Parse(raw)
	for x, want := range map[string]string{
		"count(" + ds + "[name='WSO2UM_DB'])":               "1",
		"count(" + ds + "[name='WSO2UM_DB']/*)":             "2",
		ds + "[name='WSO2UM_DB']/@kind":                     "mysql",
		ds + "[name='WSO2UM_DB']/description":               "short",
		"count(" + ds + ")":                                 "2",
		"local-name(" + ds + "[2]/preceding-sibling::*[1])": "datasource",
	} {
		e, _ := xmldoc.Compile(x, nil)
		if v, _, _, _ := doc.Eval(e); v != want {
			t.Errorf("%s = %q, want %q", x, v, want)
		}
	}
	if again := check(t, h, ensure(third)); again.Action != engine.ActionNone {
		t.Errorf("second Check: %s\n%s", again.Action, again.Diff)
	}
}

// TestDOMRoundTripIsNotEnough shows why xml_patch splices instead of re-serialising: reading
// axis2.xml with encoding/xml and writing the same tokens back changes hundreds of lines
// (self-closing tags expanded, CRLF in comments and attribute layout lost, quotes normalised),
// while xmldoc writes it back byte for byte.
func TestDOMRoundTripIsNotEnough(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(wso2ref.Dir(t), "repository/conf/axis2/axis2.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	dec := xml.NewDecoder(strings.NewReader(string(raw)))
	enc := xml.NewEncoder(&out)
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.EncodeToken(xml.CopyToken(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	_, minus := diffStat(engine.Diff("axis2.xml", string(raw), out.String()))
	t.Logf("encoding/xml round trip changes %d of %d lines of axis2.xml", minus, strings.Count(string(raw), "\n"))
	if minus < 100 {
		t.Errorf("encoding/xml changed only %d lines; the premise of this test no longer holds", minus)
	}
	doc, err := xmldoc.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := doc.Bytes(); string(b) != string(raw) {
		t.Error("xmldoc does not round-trip axis2.xml")
	}
}

// TestSchemaAndExample: the schema is valid, and its example is the task block: it
// parses, uses only declared arguments and blocks, and its XPaths and fragments validate.
func TestSchemaAndExample(t *testing.T) {
	s := Module{}.Schema()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig([]byte(s.Example), "example.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	if len(body.Blocks) != 1 || body.Blocks[0].Type != "task" || body.Blocks[0].Labels[0] != Name {
		t.Fatalf("example is not one task %q block", Name)
	}
	task := body.Blocks[0].Body
	declared := map[string]bool{}
	for _, a := range append(append([]engine.Attr{}, engine.CommonAttrs...), s.Attrs...) {
		declared[a.Name] = true
	}
	for name := range task.Attributes {
		if !declared[name] {
			t.Errorf("example uses undeclared argument %q", name)
		}
	}
	var blocks []*engine.Args
	for _, b := range task.Blocks {
		bs, ok := s.Block(b.Type)
		if !ok {
			t.Fatalf("example uses undeclared block %q", b.Type)
		}
		attrs := map[string]bool{}
		for _, a := range bs.Attrs {
			attrs[a.Name] = true
			if _, ok := b.Body.Attributes[a.Name]; a.Required && !ok {
				t.Errorf("block %s misses required %q", b.Type, a.Name)
			}
		}
		vals := map[string]cty.Value{}
		for name, a := range b.Body.Attributes {
			if !attrs[name] {
				t.Errorf("block %s: undeclared argument %q", b.Type, name)
			}
			if v, d := a.Expr.Value(nil); !d.HasErrors() {
				vals[name] = v
			} else {
				vals[name] = cty.UnknownVal(cty.String) // templatefile(): known at run time
			}
		}
		blocks = append(blocks, engine.NewArgs(b.Type, vals))
	}
	ns := cty.MapVal(map[string]cty.Value{"c": cty.StringVal(carbonNS["c"])})
	args := engine.NewArgs(Name, map[string]cty.Value{"path": cty.UnknownVal(cty.String), "namespaces": ns}, blocks...)
	if d := (Module{}).Validate(args); d.HasErrors() {
		t.Errorf("example does not validate: %v", d)
	}
}

// TestValidate: XPaths compile at validate time with the task's prefixes; errors sit at the
// argument at fault.
func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		ns    map[string]string
		block *engine.Args
		want  string // summary; "" means valid
	}{
		{"good", carbonNS, blk("set_text", "xpath", "/c:Server/c:Ports/c:Offset", "value", "1"), ""},
		{"syntax", nil, blk("set_text", "xpath", "/a/b[@name='x'", "value", "1"), "Invalid XPath"},
		{"unbound prefix", nil, blk("set_text", "xpath", "/c:Server", "value", "1"), "Invalid XPath"},
		{"bad after", nil, blk("ensure", "xpath", "/a/b[c='1']", "after", "/a/[", "fragment", "<b><c>1</c></b>"), "Invalid XPath"},
		{"ensure without a parent to tell", nil, blk("ensure", "xpath", "//b[c='1']", "fragment", "<b><c>1</c></b>"), "Cannot tell where to insert"},
		{"ensure with explicit parent", nil, blk("ensure", "xpath", "//b[c='1']", "parent", "/a", "fragment", "<b><c>1</c></b>"), ""},
		{"fragment not well-formed", nil, blk("replace_children", "xpath", "/a", "fragment", "<b>"), "Invalid XML fragment"},
		{"ensure fragment with two elements", nil, blk("ensure", "xpath", "/a/b", "fragment", "<b/><b/>"), "Invalid XML fragment"},
		{"count zero", nil, blk("set_text", "xpath", "/a", "value", "1", "count", 0), "Invalid count"},
		{"set_attr without a name", nil, blk("set_attr", "xpath", "/a/b", "value", "1"), "Missing attribute name"},
		{"set_attr on an attribute", nil, blk("set_attr", "xpath", "/a/b/@c", "value", "1"), ""},
		{"attribute name", nil, blk("set_attr", "xpath", "/a", "name", "a b", "value", "1"), "Invalid attribute name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Module{}.Validate(task("/f.xml", tc.ns, tc.block))
			if tc.want == "" {
				if d.HasErrors() {
					t.Fatalf("unexpected: %v", d)
				}
				return
			}
			if len(d) != 1 || d[0].Summary != tc.want {
				t.Fatalf("diagnostics %v, want one %q", d, tc.want)
			}
		})
	}
}
