// Package xmldoc parses XML into a tree that remembers where every token sits in the original
// text, evaluates XPath 1.0 on it (github.com/antchfx/xpath through the NodeNavigator
// interface), and edits a document by splicing new text into the original: bytes an edit does
// not touch stay byte-identical (comments, attribute order and quoting, multi-line start tags,
// CRLF line endings, the declaration or its absence, the encoding, a missing final newline).
//
// The usual cycle is Parse, Select (or Compile and Document.Select), an edit list built with
// Document.SetText, SetAttr, Remove, ReplaceChildren or Ensure, Document.Apply, then
// Document.Bytes. ApplyOps does all of it for a list of Ops, as the xml_patch module uses it.
package xmldoc

import (
	"strconv"
	"strings"
)

// Kind is the kind of a Node.
type Kind uint8

// The node kinds. XPath sees DocumentNode, ElementNode, AttributeNode, TextNode and CDataNode
// (as text) and CommentNode; declarations, processing instructions and DOCTYPE are kept for
// their bytes only.
const (
	DocumentNode Kind = iota
	ElementNode
	AttributeNode
	TextNode
	CDataNode
	CommentNode
	ProcInstNode
	DoctypeNode
)

var kindNames = [...]string{"document", "element", "attribute", "text", "CDATA", "comment", "processing instruction", "DOCTYPE"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Node is one node of a document with its position in Document.Text. Offsets are byte offsets
// into the decoded (UTF-8) text; Start and End span the whole node.
type Node struct {
	Kind   Kind
	Parent *Node
	// Children are the child nodes of an element or the document, in order (whitespace text
	// included). Attrs are an element's attributes in source order, namespace declarations too.
	Children []*Node
	Attrs    []*Node
	// Prefix and Local are the parts of an element or attribute name; Space is its namespace URI.
	Prefix, Local, Space string
	// Start and End span the node: an element from '<' of its start tag to after the '>' of its
	// end tag; an attribute from its name to after its closing quote.
	Start, End int
	// TagEnd is just after the '>' of an element's start tag; CloseStart is where its end tag
	// begins ("</"), equal to End for a self-closing element.
	TagEnd, CloseStart int
	// SelfClosing is true for an element written <name/>.
	SelfClosing bool
	// ValStart and ValEnd span an attribute value inside its quotes; Quote is the quote used.
	// For text, CDATA, comments and processing instructions they span the content.
	ValStart, ValEnd int
	Quote            byte
	// Data is the decoded value: an attribute's normalised value, a text's characters (entities
	// resolved), a comment's or CDATA section's content, a processing instruction's target.
	Data string

	frag  bool              // a fragment's document node: top-level text is content
	index int               // position in Parent.Children (or Parent.Attrs)
	decls map[string]string // namespace declarations made on this element: prefix ("" = default) -> URI
}

// Name returns the qualified name as written (prefix:local).
func (n *Node) Name() string {
	if n.Prefix == "" {
		return n.Local
	}
	return n.Prefix + ":" + n.Local
}

// IsNamespaceDecl reports whether an attribute is a namespace declaration (xmlns, xmlns:p).
func (n *Node) IsNamespaceDecl() bool {
	return n.Kind == AttributeNode && (n.Prefix == "xmlns" || (n.Prefix == "" && n.Local == "xmlns"))
}

// Value returns the XPath string value: an element's (or the document's) text content, an
// attribute's value, a text's or comment's content.
func (n *Node) Value() string {
	switch n.Kind {
	case ElementNode, DocumentNode:
		var b strings.Builder
		n.appendText(&b)
		return b.String()
	}
	return n.Data
}

func (n *Node) appendText(b *strings.Builder) {
	for _, c := range n.Children {
		switch c.Kind {
		case TextNode, CDataNode:
			if c.Parent.Kind != DocumentNode || c.Parent.frag {
				b.WriteString(c.Data)
			}
		case ElementNode:
			c.appendText(b)
		}
	}
}

// Attr returns the attribute with the given local name and namespace URI, or nil. With an
// empty space only unprefixed attributes match.
func (n *Node) Attr(space, local string) *Node {
	for _, a := range n.Attrs {
		if a.Local == local && a.Space == space && (space != "" || a.Prefix == "") && !a.IsNamespaceDecl() {
			return a
		}
	}
	return nil
}

// sameAttr finds n's attribute that stands for a (same namespace and local name; same prefix
// when the prefix is not declared).
func (n *Node) sameAttr(a *Node) *Node {
	for _, b := range n.Attrs {
		if b.Local == a.Local && b.Space == a.Space && (a.Space != "" || b.Prefix == a.Prefix) && !b.IsNamespaceDecl() {
			return b
		}
	}
	return nil
}

// Elements returns an element's (or the document's) child elements.
func (n *Node) Elements() []*Node {
	var out []*Node
	for _, c := range n.Children {
		if c.Kind == ElementNode {
			out = append(out, c)
		}
	}
	return out
}

// LookupNamespace returns the namespace URI bound to prefix ("" = default) where n is.
func (n *Node) LookupNamespace(prefix string) (string, bool) {
	for e := n; e != nil; e = e.Parent {
		if uri, ok := e.decls[prefix]; ok {
			return uri, true
		}
	}
	switch prefix {
	case "xml":
		return "http://www.w3.org/XML/1998/namespace", true
	case "xmlns":
		return "http://www.w3.org/2000/xmlns/", true
	}
	return "", false
}

// InScope returns every namespace binding in effect at element n, prefix ("" = default) -> URI.
func (n *Node) InScope() map[string]string {
	out := map[string]string{}
	var chain []*Node
	for e := n; e != nil; e = e.Parent {
		chain = append(chain, e)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for p, u := range chain[i].decls {
			out[p] = u
		}
	}
	return out
}

// Path returns a readable location path of n for messages, like /a/b[2]/@c.
func (n *Node) Path() string {
	switch n.Kind {
	case DocumentNode:
		return "/"
	case AttributeNode:
		return n.Parent.Path() + "/@" + n.Name()
	}
	var parts []string
	for e := n; e != nil && e.Kind != DocumentNode; e = e.Parent {
		step := e.Name()
		switch e.Kind {
		case ElementNode:
			same, pos := 0, 0
			for _, s := range e.Parent.Children {
				if s.Kind == ElementNode && s.Name() == e.Name() {
					same++
					if s == e {
						pos = same
					}
				}
			}
			if same > 1 {
				step += "[" + strconv.Itoa(pos) + "]"
			}
		case CommentNode:
			step = "comment()"
		default:
			step = "text()"
		}
		parts = append(parts, step)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString("/" + parts[i])
	}
	return b.String()
}
