package xmldoc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/ianaindex"
)

// stdParses reports whether encoding/xml reads the whole document without error.
func stdParses(b []byte) bool {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		enc, err := ianaindex.IANA.Encoding(label)
		if err != nil || enc == nil {
			return nil, errors.New("unsupported charset")
		}
		return enc.NewDecoder().Reader(in), nil
	}
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// FuzzEdit parses arbitrary input and applies every kind of edit with an arbitrary value. It
// must never panic; a parsed document must be written back byte for byte; and when the input
// is XML that encoding/xml reads, so is the output.
func FuzzEdit(f *testing.F) {
	for _, s := range []string{
		"<a/>", "<a><b>1</b><b>2</b></a>", "<a x='1'\n   y=\"2\">t<!-- c --></a>",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\r\n<a>\xe9</a>",
		"<s xmlns=\"urn:c\"><v>1</v></s>", "<a><![CDATA[x]]></a>",
		"<!DOCTYPE a [<!ENTITY e \"v\">]><a>&e;</a>",
	} {
		f.Add([]byte(s), "v&<\"'")
	}
	f.Add([]byte("<a>\n</a>"), "\x95") // a value that is not UTF-8 (found by fuzzing)
	for _, p := range []string{"../../../testdata/xml/latin1-crlf.xml", "../../../testdata/xml/nodecl-lf.xml"} {
		if b, err := os.ReadFile(filepath.Clean(p)); err == nil {
			f.Add(b, "10.0.0.1")
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, value string) {
		d, err := Parse(in)
		if err != nil {
			return
		}
		if b, err := d.Bytes(); err != nil || !bytes.Equal(b, in) {
			t.Fatalf("does not round-trip: %v", err)
		}
		frag := "<fz-new k=\"1\"><v>" + strings.NewReplacer("&", "&amp;", "<", "&lt;").Replace(value) + "</v></fz-new>"
		ops := []Op{
			{Kind: OpSetText, XPath: "(//*[not(*)])[1]", Value: value, Optional: true},
			{Kind: OpSetAttr, XPath: "/*", Name: "fz", Value: value},
			{Kind: OpSetAttr, XPath: "(//@*)[1]", Value: value, Optional: true},
			{Kind: OpEnsure, XPath: "/*/fz-new", Parent: "/*", Fragment: frag, Optional: true},
			{Kind: OpReplaceChildren, XPath: "(/*/*[*])[1]", Fragment: "<x>" + frag + "</x>", Optional: true},
			{Kind: OpRemove, XPath: "(/*//*)[last()]"},
			{Kind: OpAssert, XPath: "count(/*)", Value: "1"},
		}
		for i := range ops {
			nd, _, err := ApplyOps(d, ops[:i+1], nil)
			if err != nil {
				continue
			}
			out, err := nd.Bytes()
			if err != nil {
				continue // a value the encoding cannot hold: reported, not written
			}
			if _, err := Parse(out); err != nil {
				t.Fatalf("op %d: output does not parse again: %v\n%q", i, err, out)
			}
			if stdParses(in) && !stdParses(out) {
				t.Fatalf("op %d: encoding/xml reads the input but not the output:\n%q\n%q", i, in, out)
			}
		}
	})
}

// FuzzFragment inserts and syncs arbitrary fragments (single- and multi-line, comments,
// namespaces): no panic, the output parses again, and stays readable by encoding/xml when the
// document and the fragment (wrapped in an element) were.
func FuzzFragment(f *testing.F) {
	f.Add("<a>\n  <b k=\"1\"><c>1</c></b>\n</a>", "<b k=\"1\"><c>2</c><d/></b>")
	f.Add("<s xmlns=\"urn:c\">\r\n\t<v/>\r\n</s>", "<b k=\"1\">\n  <!-- c -->\n  <c>x</c>\n</b>")
	f.Add("<a><m/></a>", "<b k=\"1\" xmlns:p=\"urn:p\" p:x=\"y\"><![CDATA[z]]></b>")
	f.Fuzz(func(t *testing.T, doc, frag string) {
		d, err := ParseString(doc)
		if err != nil {
			return
		}
		for _, ops := range [][]Op{
			{{Kind: OpEnsure, XPath: "/*/b[@k='1']", Parent: "/*", Fragment: frag}},
			{{Kind: OpEnsure, XPath: "/*/*[1]", Parent: "/*", Fragment: frag}},
			{{Kind: OpReplaceChildren, XPath: "/*", Fragment: frag}},
			{{Kind: OpReplaceChildren, XPath: "(/*/*)[1]", Fragment: frag, Optional: true}},
		} {
			nd, _, err := ApplyOps(d, ops, nil)
			if err != nil {
				continue
			}
			if _, err := ParseString(nd.Text); err != nil {
				t.Fatalf("output does not parse again: %v\n%q", err, nd.Text)
			}
			if stdParses([]byte(doc)) && stdParses([]byte("<w>"+frag+"</w>")) && !stdParses([]byte(nd.Text)) {
				t.Fatalf("encoding/xml reads the input and fragment but not the output:\n%q\n%q\n%q", doc, frag, nd.Text)
			}
			if again, _, err := ApplyOps(nd, ops, nil); err == nil && again.Text != nd.Text && ops[0].XPath != "/*/*[1]" {
				t.Fatalf("not idempotent:\n%q\n%q", nd.Text, again.Text)
			}
		}
	})
}
