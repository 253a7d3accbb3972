package xmldoc

import (
	"bytes"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t testing.TB, s string) *Document {
	t.Helper()
	d, err := ParseString(s)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return d
}

// TestRoundTripReference: every real file parses and is written back byte for byte.
func TestRoundTripReference(t *testing.T) {
	n := 0
	err := filepath.Walk(wso2ref.Dir(t), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".xml") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		d, err := Parse(raw)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		if b, err := d.Bytes(); err != nil || !bytes.Equal(b, raw) {
			t.Errorf("%s: does not round-trip (%v)", p, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 40 {
		t.Errorf("only %d XML files found", n)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"unclosed", "<a><b></a>", "does not match"},
		{"not closed at end", "<a>", "is not closed"},
		{"bare ampersand", "<a>x & y</a>", "&amp;"},
		{"duplicate attribute", `<a x="1" x="2"/>`, "appears twice"},
		{"text outside root", "x<a/>", "outside the root"},
		{"two roots", "<a/><b/>", "second root"},
		{"double dash in comment", "<a><!-- a -- b --></a>", `"--"`},
		{"no root", "<!-- only -->", "no root"},
		{"lt in attribute", `<a x="<"/>`, "not allowed"},
		{"attributes without space", `<a x="1"y="2"/>`, "whitespace"},
		{"declaration not first", " <?xml version=\"1.0\"?><a/>", "must come first"},
		{"control character", "<a>\x01</a>", "U+0001"},
		{"bad char ref", "<a>&#0;</a>", "character reference"},
		{"unterminated comment", "<a><!-- x</a>", "unterminated comment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseString(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestEncodings(t *testing.T) {
	latin := []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<a b=\"\xe9\">caf\xe9</a>")
	cases := []struct {
		name string
		in   []byte
		want string // error substring; "" = parses and round-trips
	}{
		{"latin1", latin, ""},
		{"utf8 BOM", []byte("\xef\xbb\xbf<a>é</a>\n"), ""},
		{"no declaration is UTF-8", []byte("<a>\xe9</a>"), "invalid UTF-8 at byte 3"},
		{"UTF-16", []byte("\xff\xfe<\x00a\x00/\x00>\x00"), "UTF-16"},
		{"unknown encoding", []byte(`<?xml version="1.0" encoding="x-klingon"?><a/>`), "not supported"},
		{"windows-1252 undefined byte", []byte("<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>\x81</a>"), "do not survive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(tc.in)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := d.Bytes(); !bytes.Equal(b, tc.in) {
				t.Errorf("round trip: %q", b)
			}
		})
	}
	d, _ := Parse(latin)
	if v := d.RootElement().Value(); v != "café" {
		t.Errorf("decoded text %q", v)
	}
	nd, _, err := ApplyOps(d, []Op{{Kind: OpSetText, XPath: "/a", Value: "crème"}, {Kind: OpSetAttr, XPath: "/a", Name: "b", Value: "ü"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := nd.Bytes()
	if want := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<a b=\"\xfc\">cr\xe8me</a>"; string(b) != want {
		t.Errorf("written %q, want %q", b, want)
	}
	nd, _, _ = ApplyOps(d, []Op{{Kind: OpSetText, XPath: "/a", Value: "snow ☃"}}, nil)
	if _, err := nd.Bytes(); err == nil || !strings.Contains(err.Error(), "U+2603") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("unrepresentable character: %v", err)
	}
}

// TestXPath checks the traps: comments are not elements, a default namespace needs a prefix,
// namespace declarations are not attributes, CDATA is text, and more.
func TestXPath(t *testing.T) {
	doc := `<?xml version="1.0"?>
<!-- <root><item id="c">in a comment</item></root> -->
<root xmlns:svns="urn:sv">
  <!--<item id="x">commented</item>-->
  <item id="a"><name>A</name></item>
  <item id='b'><name>B</name><![CDATA[<raw>]]></item>
  <ns xmlns="urn:d"><leaf>L</leaf></ns>
  <p svns:alias="k">text<!-- c -->more</p>
</root>`
	d := mustParse(t, doc)
	ns := map[string]string{"d": "urn:d", "s": "urn:sv"}
	cases := []struct {
		xpath string
		n     int
		value string
	}{
		{"//item", 2, "A"},
		{"//item[@id='x']", 0, ""},
		{"//item[name='B']", 1, "B<raw>"},
		{"/root/item[2]/@id", 1, "b"},
		{"/root/ns/leaf", 0, ""},
		{"/root/d:ns/d:leaf", 1, "L"},
		{"/root/*[local-name()='ns']", 1, "L"},
		{"/root/@*", 0, ""},
		{"/root/p/@s:alias", 1, "k"},
		{"/root/p/text()", 2, "text"},
		{"/root/comment()", 1, "<item id=\"x\">commented</item>"},
		{"//comment()", 3, " <root><item id=\"c\">in a comment</item></root> "},
		{"/root/p", 1, "textmore"},
		{"/root/item[last()]/name", 1, "B"},
		{"/root/item[name='A']/following-sibling::item/@id", 1, "b"},
	}
	for _, tc := range cases {
		nodes, err := d.SelectString(tc.xpath, ns)
		if err != nil {
			t.Errorf("%s: %v", tc.xpath, err)
			continue
		}
		if len(nodes) != tc.n {
			t.Errorf("%s matched %d, want %d", tc.xpath, len(nodes), tc.n)
			continue
		}
		if tc.n > 0 && nodes[0].Value() != tc.value {
			t.Errorf("%s = %q, want %q", tc.xpath, nodes[0].Value(), tc.value)
		}
	}
	e, _ := Compile("count(//item) + 0.5", nil)
	if v, _, isSet, err := d.Eval(e); err != nil || isSet || v != "2.5" {
		t.Errorf("count: %q %v %v", v, isSet, err)
	}
}

func TestParentXPath(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/a/b/c", "/a/b"},
		{"/a/b[c='x/y']", "/a"},
		{"/d:a/d:b[@n=\"1/2\"][2]", "/d:a"},
		{"/a[count(b/c)=1]/b", "/a[count(b/c)=1]"},
		{"//b", ""},
		{"/a//b", ""},
		{"b", ""},
		{"/a | /b", ""},
		{"/root", ""},
	}
	for _, tc := range cases {
		got, err := ParentXPath(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: want an error, got %q", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestEdits checks each edit's bytes on small documents, traps included.
func TestEdits(t *testing.T) {
	cases := []struct {
		name, in string
		ops      []Op
		want     string
	}{
		{"set text escapes", "<a>\n  <url>x</url>\n</a>",
			[]Op{{Kind: OpSetText, XPath: "/a/url", Value: "jdbc:x?a=1&b=<2>"}},
			"<a>\n  <url>jdbc:x?a=1&amp;b=&lt;2&gt;</url>\n</a>"},
		{"set text on empty and self-closing", "<a><b></b><c x='1' /></a>",
			[]Op{{Kind: OpSetText, XPath: "/a/b", Value: "1"}, {Kind: OpSetText, XPath: "/a/c", Value: "2"}},
			"<a><b>1</b><c x='1'>2</c></a>"},
		{"set text keeps a comment", "<a><b><!-- why -->old</b></a>",
			[]Op{{Kind: OpSetText, XPath: "/a/b", Value: "new"}},
			"<a><b><!-- why -->new</b></a>"},
		{"set attr keeps single quotes", "<a x='1'/>",
			[]Op{{Kind: OpSetAttr, XPath: "/a", Name: "x", Value: `it's "2"`}},
			`<a x='it&apos;s "2"'/>`},
		{"new attr on one line", `<a x="1">t</a>`,
			[]Op{{Kind: OpSetAttr, XPath: "/a", Name: "y", Value: "2"}},
			`<a x="1" y="2">t</a>`},
		{"new attr without attrs", `<a/>`,
			[]Op{{Kind: OpSetAttr, XPath: "/a", Name: "y", Value: "a\tb"}},
			`<a y="a&#9;b"/>`},
		{"new attr in a one-per-line tag, CRLF", "<r>\r\n  <C a=\"1\"\r\n     b=\"2\">\r\n  </C>\r\n</r>",
			[]Op{{Kind: OpSetAttr, XPath: "/r/C", Name: "c", Value: "3"}},
			"<r>\r\n  <C a=\"1\"\r\n     b=\"2\"\r\n     c=\"3\">\r\n  </C>\r\n</r>"},
		{"prefixed attribute", `<a xmlns:s="urn:s"><p/></a>`,
			[]Op{{Kind: OpSetAttr, XPath: "/a/p", Name: "s:k", Value: "v"}},
			`<a xmlns:s="urn:s"><p s:k="v"/></a>`},
		{"remove element with its line", "<a>\n  <b/>\n  <c/>\n</a>",
			[]Op{{Kind: OpRemove, XPath: "/a/b"}},
			"<a>\n  <c/>\n</a>"},
		{"remove inline element", "<a><b/><c/></a>",
			[]Op{{Kind: OpRemove, XPath: "/a/b"}},
			"<a><c/></a>"},
		{"remove attribute on its own line", "<a x=\"1\"\n   y=\"2\"/>",
			[]Op{{Kind: OpRemove, XPath: "/a/@y"}},
			"<a x=\"1\"/>"},
		{"remove nothing is fine", "<a/>", []Op{{Kind: OpRemove, XPath: "/a/b"}}, "<a/>"},
		{"ensure into empty element, tabs", "<a>\n\t<list></list>\n</a>",
			[]Op{{Kind: OpEnsure, XPath: "/a/list/i[@k='1']", Fragment: "<i k='1'/>"}},
			"<a>\n\t<list>\n\t\t<i k='1'/>\n\t</list>\n</a>"},
		{"ensure into self-closing element", "<a>\n    <list/>\n</a>",
			[]Op{{Kind: OpEnsure, XPath: "/a/list/i", Fragment: "<i><j>1</j></i>"}},
			"<a>\n    <list>\n        <i>\n            <j>1</j>\n        </i>\n    </list>\n</a>"},
		{"ensure at end after a trailing comment", "<a>\n  <b>1</b>\n  <!-- <b>2</b> -->\n</a>",
			[]Op{{Kind: OpEnsure, XPath: "/a/b[.='2']", Fragment: "<b>2</b>"}},
			"<a>\n  <b>1</b>\n  <!-- <b>2</b> -->\n  <b>2</b>\n</a>"},
		{"ensure after a sibling keeps its trailing comment", "<a>\n  <b>1</b> <!-- one -->\n  <c/>\n</a>",
			[]Op{{Kind: OpEnsure, XPath: "/a/b[.='2']", After: "/a/b", Parent: "/a", Fragment: "<b>2</b>"}},
			"<a>\n  <b>1</b> <!-- one -->\n  <b>2</b>\n  <c/>\n</a>"},
		{"ensure a multi-line fragment into a CRLF file", "<a>\r\n\t<b>1</b>\r\n</a>",
			[]Op{{Kind: OpEnsure, XPath: "/a/c", Fragment: "\n    <c>\n      <d>2</d>\n    </c>\n"}},
			"<a>\r\n\t<b>1</b>\r\n\t<c>\r\n\t\t<d>2</d>\r\n\t</c>\r\n</a>"},
		{"ensure inherits the default namespace", "<s xmlns=\"urn:c\">\n  <v>1</v>\n</s>",
			[]Op{{Kind: OpEnsure, XPath: "/c:s/c:h", After: "/c:s/c:v", Fragment: "<h>x</h>"}},
			"<s xmlns=\"urn:c\">\n  <v>1</v>\n  <h>x</h>\n</s>"},
		{"ensure present and equal is no change", "<a>\n  <b k=\"1\">\n    <c>2</c>\n  </b>\n</a>",
			[]Op{{Kind: OpEnsure, XPath: "/a/b[@k='1']", Fragment: "<b k='1'><c>2</c><!-- note --></b>"}},
			"<a>\n  <b k=\"1\">\n    <c>2</c>\n  </b>\n</a>"},
		{"replace children equal as XML", "<a><m>\n  <x>1</x>\n</m></a>",
			[]Op{{Kind: OpReplaceChildren, XPath: "/a/m", Fragment: "<x>1</x>"}},
			"<a><m>\n  <x>1</x>\n</m></a>"},
		{"replace children with text", "<a><m><x/></m></a>",
			[]Op{{Kind: OpReplaceChildren, XPath: "/a/m", Fragment: "plain &amp; simple"}},
			"<a><m>plain &amp; simple</m></a>"},
		{"count applies to all", "<a><b>1</b><b>2</b></a>",
			[]Op{{Kind: OpSetText, XPath: "/a/b", Value: "0", Count: 2}},
			"<a><b>0</b><b>0</b></a>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := mustParse(t, tc.in)
			nd, _, err := ApplyOps(d, tc.ops, map[string]string{"c": "urn:c"})
			if err != nil {
				t.Fatal(err)
			}
			if nd.Text != tc.want {
				t.Errorf("got\n%q\nwant\n%q", nd.Text, tc.want)
			}
			again, res, err := ApplyOps(nd, tc.ops, map[string]string{"c": "urn:c"})
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if again.Text != nd.Text {
				t.Errorf("second run changed it again: %q", again.Text)
			}
			for i, r := range res {
				if r.Changed {
					t.Errorf("second run: op %d changed the document", i)
				}
			}
		})
	}
}

func TestMaskSecrets(t *testing.T) {
	d := mustParse(t, `<c keystorePass="ks">
  <password>p1</password><Password>
    multi
    line
  </Password>
  <property name="password" encrypted="false">p3</property>
  <SvnPassword></SvnPassword>
  <user token='t'>u</user>
  <Property name="ConnectionPassword" value="v"/>
</c>`)
	got := d.MaskSecrets("M")
	want := `<c keystorePass="M">
  <password>M</password><Password>
    M

  </Password>
  <property name="password" encrypted="false">M</property>
  <SvnPassword></SvnPassword>
  <user token='M'>u</user>
  <Property name="ConnectionPassword" value="M"/>
</c>`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, n := range []string{"password", "SvnPassword", "keystorePass", "client_secret", "accessToken", "dbPwd"} {
		if !SecretName(n) {
			t.Errorf("%s should be secret", n)
		}
	}
	for _, n := range []string{"username", "passive", "Passage", "url"} {
		if SecretName(n) {
			t.Errorf("%s should not be secret", n)
		}
	}
}

func TestReunit(t *testing.T) {
	cases := []struct {
		in   []string
		unit string
		want []string
	}{
		{[]string{"<a>", "  <b>1</b>", "</a>"}, "    ", []string{"<a>", "    <b>1</b>", "</a>"}},
		{[]string{"<a>", "\t<b/>", "</a>"}, "  ", []string{"<a>", "  <b/>", "</a>"}},
		{[]string{"<a>", "  <C x=\"1\"", "     y=\"2\"/>", "</a>"}, "\t", []string{"<a>", "\t<C x=\"1\"", "\t   y=\"2\"/>", "</a>"}},
		{[]string{"<a>", "  <b/>", "\t<c/>", "</a>"}, "    ", []string{"<a>", "  <b/>", "\t<c/>", "</a>"}},
		{[]string{"<a>", "    <b/>", "</a>"}, "    ", []string{"<a>", "    <b/>", "</a>"}},
	}
	for _, tc := range cases {
		got := reunit(append([]string(nil), tc.in...), tc.unit)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("reunit(%q, %q) = %q, want %q", tc.in, tc.unit, got, tc.want)
		}
	}
}
