package xmldoc

import (
	"fmt"
	"math"
	"strconv"

	"github.com/antchfx/xpath"
)

// defaultPrefix is what Prefix reports for an element in a default (unprefixed) namespace, so
// that an unprefixed XPath name test, which means "no namespace" in XPath 1.0, does not match
// it. Such elements are selected with a prefix bound to their namespace URI.
const defaultPrefix = "#default"

// Compile compiles an XPath 1.0 expression with the given prefix bindings. A prefix that is not
// bound is a compile error.
func Compile(expr string, namespaces map[string]string) (*xpath.Expr, error) {
	ns := map[string]string{}
	for k, v := range namespaces {
		ns[k] = v
	}
	e, err := xpath.CompileWithNS(expr, ns)
	if err != nil {
		return nil, fmt.Errorf("XPath %q: %w", expr, err)
	}
	return e, nil
}

// Select returns the nodes (elements, attributes, text or comments) expr selects, in
// document order. An expression that is not a node-set is an error.
func (d *Document) Select(expr *xpath.Expr) (nodes []*Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			nodes, err = nil, fmt.Errorf("XPath %q: %v", expr.String(), r)
		}
	}()
	res := expr.Evaluate(d.Navigator())
	it, ok := res.(*xpath.NodeIterator)
	if !ok {
		return nil, fmt.Errorf("XPath %q gives a %T, not a node-set", expr.String(), res)
	}
	seen := map[*Node]bool{}
	for it.MoveNext() {
		n := it.Current().(*Navigator).Node()
		if !seen[n] {
			seen[n] = true
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}

// Eval evaluates expr and returns its value as a string (XPath string()), with the nodes when
// it is a node-set. A number prints as XPath prints it (2, not 2.0).
func (d *Document) Eval(expr *xpath.Expr) (value string, nodes []*Node, isNodeSet bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("XPath %q: %v", expr.String(), r)
		}
	}()
	switch v := expr.Evaluate(d.Navigator()).(type) {
	case *xpath.NodeIterator:
		nodes, err = d.Select(expr)
		if err != nil {
			return "", nil, true, err
		}
		if len(nodes) > 0 {
			value = nodes[0].Value()
		}
		return value, nodes, true, nil
	case string:
		return v, nil, false, nil
	case bool:
		return strconv.FormatBool(v), nil, false, nil
	case float64:
		switch {
		case math.IsNaN(v):
			return "NaN", nil, false, nil
		case math.IsInf(v, 1):
			return "Infinity", nil, false, nil
		case math.IsInf(v, -1):
			return "-Infinity", nil, false, nil
		case v == math.Trunc(v) && math.Abs(v) < 1e15:
			return strconv.FormatInt(int64(v), 10), nil, false, nil
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil, false, nil
	default:
		return fmt.Sprint(v), nil, false, nil
	}
}

// SelectString compiles expr with the namespaces and selects with it.
func (d *Document) SelectString(expr string, namespaces map[string]string) ([]*Node, error) {
	e, err := Compile(expr, namespaces)
	if err != nil {
		return nil, err
	}
	return d.Select(e)
}

// Navigator returns an xpath.NodeNavigator positioned on the document node.
func (d *Document) Navigator() *Navigator { return &Navigator{root: d.Root, cur: d.Root} }

// Navigator implements xpath.NodeNavigator over a Document. XPath sees elements, attributes
// (not namespace declarations), text (CDATA sections included) and comments; elements written
// inside comments are comment text and never match. Whitespace outside the root element,
// processing instructions and DOCTYPE are not visible.
type Navigator struct {
	root, cur *Node
}

// Node returns the node the navigator is on.
func (n *Navigator) Node() *Node { return n.cur }

func visible(c *Node) bool {
	switch c.Kind {
	case ElementNode, CommentNode:
		return true
	case TextNode, CDataNode:
		return c.Parent == nil || c.Parent.Kind != DocumentNode
	}
	return false
}

// NodeType implements xpath.NodeNavigator.
func (n *Navigator) NodeType() xpath.NodeType {
	switch n.cur.Kind {
	case DocumentNode:
		return xpath.RootNode
	case ElementNode:
		return xpath.ElementNode
	case AttributeNode:
		return xpath.AttributeNode
	case CommentNode:
		return xpath.CommentNode
	}
	return xpath.TextNode
}

// LocalName implements xpath.NodeNavigator.
func (n *Navigator) LocalName() string { return n.cur.Local }

// Prefix implements xpath.NodeNavigator. An element in a default namespace reports a prefix
// no XPath can spell, so unprefixed steps do not match it (XPath 1.0 semantics).
func (n *Navigator) Prefix() string {
	if n.cur.Kind == ElementNode && n.cur.Prefix == "" && n.cur.Space != "" {
		return defaultPrefix
	}
	return n.cur.Prefix
}

// NamespaceURL returns the namespace URI of the node; antchfx/xpath uses it to match prefixed
// name tests.
func (n *Navigator) NamespaceURL() string { return n.cur.Space }

// Value implements xpath.NodeNavigator.
func (n *Navigator) Value() string { return n.cur.Value() }

// Copy implements xpath.NodeNavigator.
func (n *Navigator) Copy() xpath.NodeNavigator { c := *n; return &c }

// MoveToRoot implements xpath.NodeNavigator.
func (n *Navigator) MoveToRoot() { n.cur = n.root }

// MoveToParent implements xpath.NodeNavigator.
func (n *Navigator) MoveToParent() bool {
	if n.cur.Parent == nil {
		return false
	}
	n.cur = n.cur.Parent
	return true
}

// MoveToNextAttribute implements xpath.NodeNavigator.
func (n *Navigator) MoveToNextAttribute() bool {
	var el *Node
	start := 0
	switch n.cur.Kind {
	case ElementNode:
		el = n.cur
	case AttributeNode:
		el, start = n.cur.Parent, n.cur.index+1
	default:
		return false
	}
	for i := start; i < len(el.Attrs); i++ {
		if !el.Attrs[i].IsNamespaceDecl() {
			n.cur = el.Attrs[i]
			return true
		}
	}
	return false
}

// MoveToChild implements xpath.NodeNavigator.
func (n *Navigator) MoveToChild() bool {
	if n.cur.Kind != ElementNode && n.cur.Kind != DocumentNode {
		return false
	}
	for _, c := range n.cur.Children {
		if visible(c) {
			n.cur = c
			return true
		}
	}
	return false
}

// MoveToFirst implements xpath.NodeNavigator.
func (n *Navigator) MoveToFirst() bool {
	if n.cur.Kind == AttributeNode || n.cur.Parent == nil {
		return false
	}
	for _, c := range n.cur.Parent.Children {
		if visible(c) {
			n.cur = c
			return true
		}
	}
	return false
}

// MoveToNext implements xpath.NodeNavigator.
func (n *Navigator) MoveToNext() bool {
	if n.cur.Kind == AttributeNode || n.cur.Parent == nil {
		return false
	}
	sib := n.cur.Parent.Children
	for i := n.cur.index + 1; i < len(sib); i++ {
		if visible(sib[i]) {
			n.cur = sib[i]
			return true
		}
	}
	return false
}

// MoveToPrevious implements xpath.NodeNavigator.
func (n *Navigator) MoveToPrevious() bool {
	if n.cur.Kind == AttributeNode || n.cur.Parent == nil {
		return false
	}
	sib := n.cur.Parent.Children
	for i := n.cur.index - 1; i >= 0; i-- {
		if visible(sib[i]) {
			n.cur = sib[i]
			return true
		}
	}
	return false
}

// MoveTo implements xpath.NodeNavigator.
func (n *Navigator) MoveTo(other xpath.NodeNavigator) bool {
	o, ok := other.(*Navigator)
	if !ok || o.root != n.root {
		return false
	}
	n.cur = o.cur
	return true
}
