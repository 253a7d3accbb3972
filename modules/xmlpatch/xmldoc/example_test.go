package xmldoc_test

import (
	"fmt"

	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// Edit a document with an operation list, as xml_patch does: untouched bytes stay as they are.
func ExampleApplyOps() {
	src := "<!-- licence -->\r\n<Server xmlns=\"urn:carbon\">\r\n  <Offset>0</Offset>\r\n  <!--HostName>x</HostName-->\r\n</Server>"
	doc, err := xmldoc.Parse([]byte(src))
	if err != nil {
		panic(err)
	}
	ns := map[string]string{"c": "urn:carbon"}
	doc, _, err = xmldoc.ApplyOps(doc, []xmldoc.Op{
		{Kind: xmldoc.OpSetText, XPath: "/c:Server/c:Offset", Value: "1"},
		{Kind: xmldoc.OpEnsure, XPath: "/c:Server/c:HostName", After: "/c:Server/c:Offset", Fragment: "<HostName>a&amp;b</HostName>"},
	}, ns)
	if err != nil {
		panic(err)
	}
	out, _ := doc.Bytes()
	fmt.Printf("%q\n", out)
	// Output:
	// "<!-- licence -->\r\n<Server xmlns=\"urn:carbon\">\r\n  <Offset>1</Offset>\r\n  <HostName>a&amp;b</HostName>\r\n  <!--HostName>x</HostName-->\r\n</Server>"
}

// Select nodes with XPath 1.0 and build edits by hand.
func ExampleDocument_Select() {
	doc, _ := xmldoc.ParseString(`<c><Connector port="9443"
           secure="true"/></c>`)
	e, _ := xmldoc.Compile("/c/Connector[@port='9443']", nil)
	nodes, _ := doc.Select(e)
	edits, _ := doc.SetAttr(nodes[0], "proxyPort", "443")
	doc, _ = doc.Apply(edits)
	fmt.Println(doc.Text)
	// Output:
	// <c><Connector port="9443"
	//            secure="true"
	//            proxyPort="443"/></c>
}
