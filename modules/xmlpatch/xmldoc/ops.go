package xmldoc

import (
	"fmt"
	"strings"
)

// OpKind names an operation of an edit list; the names are xml_patch's block types.
type OpKind string

// The operations ApplyOps knows.
const (
	OpSetText         OpKind = "set_text"
	OpSetAttr         OpKind = "set_attr"
	OpEnsure          OpKind = "ensure"
	OpReplaceChildren OpKind = "replace_children"
	OpRemove          OpKind = "remove"
	OpAssert          OpKind = "assert"
)

// Op is one operation of an edit list.
type Op struct {
	Kind OpKind
	// XPath selects what the operation works on; for ensure it is the key of the element.
	XPath string
	// Name is the attribute set_attr sets (optional when XPath selects attributes).
	Name string
	// Value is the text or attribute value to set, or the value assert expects.
	Value string
	// Fragment is the XML of ensure's element or of replace_children's new content.
	Fragment string
	// After (ensure, optional) selects the sibling to insert after; Parent (ensure, optional)
	// selects the element to insert into, by default the key XPath without its last step.
	After, Parent string
	// Count is how many nodes XPath must match; 0 means exactly one. Optional allows zero.
	// remove always allows zero (already removed).
	Count    int
	Optional bool
}

// OpResult says what one operation did.
type OpResult struct {
	// Matched is how many nodes the XPath matched; Changed whether the document changed.
	Matched int
	Changed bool
}

// OpError is an operation that cannot be applied, such as an XPath matching the wrong number of
// nodes or a failed assert. Index is the operation's position in the list.
type OpError struct {
	Index int
	Op    Op
	// Matched is the number of nodes matched, when that is the problem.
	Matched int
	Msg     string
	// Mismatch is set when an assert found a different value: Got on Node (nil for a scalar
	// expression).
	Mismatch bool
	Node     *Node
	Got      string
}

func (e *OpError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Op.Kind, e.Op.XPath, e.Msg)
}

// ApplyOps applies ops in order, each to the document the previous one left, and returns the
// final document. namespaces binds the prefixes the XPaths use.
func ApplyOps(d *Document, ops []Op, namespaces map[string]string) (*Document, []OpResult, error) {
	results := make([]OpResult, len(ops))
	for i, op := range ops {
		nd, res, err := applyOp(d, op, namespaces)
		if err != nil {
			if oe, ok := err.(*OpError); ok {
				oe.Index, oe.Op = i, op
				if root := d.RootElement(); oe.Matched == 0 && !oe.Mismatch && root != nil && root.Prefix == "" && root.Space != "" {
					oe.Msg += fmt.Sprintf(" (the document's default namespace is %s: unprefixed steps match nothing there; bind a prefix to it in namespaces and use it on every step)", root.Space)
				}
				return nil, nil, oe
			}
			return nil, nil, &OpError{Index: i, Op: op, Msg: err.Error()}
		}
		results[i] = res
		d = nd
	}
	return d, results, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// countErr checks the number of matches against the op's rule; skip means nothing to do.
func countErr(op Op, n int) (skip bool, err error) {
	want := op.Count
	if want <= 0 {
		want = 1
	}
	if n == 0 && (op.Optional || op.Kind == OpRemove) {
		return true, nil
	}
	if n != want {
		how := "exactly"
		if op.Optional {
			how = "0 or"
		}
		return false, &OpError{Matched: n, Msg: fmt.Sprintf("matched %s, want %s %d", plural(n, "node"), how, want)}
	}
	return false, nil
}

func applyOp(d *Document, op Op, ns map[string]string) (*Document, OpResult, error) {
	var res OpResult
	expr, err := Compile(op.XPath, ns)
	if err != nil {
		return nil, res, err
	}
	if op.Kind == OpAssert {
		got, nodes, isSet, err := d.Eval(expr)
		if err != nil {
			return nil, res, err
		}
		if !isSet {
			if got != op.Value {
				return nil, res, &OpError{Mismatch: true, Msg: fmt.Sprintf("is %q, want %q", got, op.Value), Got: got}
			}
			return d, res, nil
		}
		res.Matched = len(nodes)
		if skip, err := countErr(op, len(nodes)); skip || err != nil {
			return d, res, err
		}
		for _, n := range nodes {
			if v := n.Value(); v != op.Value {
				return nil, res, &OpError{Matched: len(nodes), Mismatch: true, Node: n, Got: v, Msg: fmt.Sprintf("%s is %q, want %q", n.Path(), v, op.Value)}
			}
		}
		return d, res, nil
	}
	nodes, err := d.Select(expr)
	if err != nil {
		return nil, res, err
	}
	res.Matched = len(nodes)
	var edits []Edit
	switch op.Kind {
	case OpEnsure:
		edits, err = ensureOp(d, op, nodes, ns)
		if err != nil {
			return nil, res, err
		}
	case OpSetText, OpSetAttr, OpReplaceChildren, OpRemove:
		if skip, err := countErr(op, len(nodes)); skip || err != nil {
			return d, res, err
		}
		for _, n := range nodes {
			var ed []Edit
			switch op.Kind {
			case OpSetText:
				ed, err = d.SetText(n, op.Value)
			case OpSetAttr:
				ed, err = setAttrOp(d, n, op)
			case OpReplaceChildren:
				ed, err = d.ReplaceChildren(n, op.Fragment)
			case OpRemove:
				ed, err = d.Remove(n)
			}
			if err != nil {
				return nil, res, err
			}
			edits = append(edits, ed...)
		}
	default:
		return nil, res, fmt.Errorf("unknown operation %q", op.Kind)
	}
	if len(edits) == 0 {
		return d, res, nil
	}
	nd, err := d.Apply(edits)
	if err != nil {
		return nil, res, err
	}
	res.Changed = nd.Text != d.Text
	if op.Kind == OpEnsure {
		after, err := nd.Select(expr)
		if err != nil {
			return nil, res, err
		}
		if len(after) != 1 {
			return nil, res, &OpError{Matched: len(after), Msg: fmt.Sprintf("after the edit the key matches %s, not 1: the fragment does not fit the key XPath", plural(len(after), "node"))}
		}
	}
	return nd, res, nil
}

func setAttrOp(d *Document, n *Node, op Op) ([]Edit, error) {
	if n.Kind == AttributeNode {
		if op.Name != "" && op.Name != n.Name() {
			return nil, fmt.Errorf("XPath selects attribute %s but name is %q", n.Name(), op.Name)
		}
		return d.SetText(n, op.Value)
	}
	if op.Name == "" {
		return nil, fmt.Errorf("name is required when the XPath selects elements")
	}
	return d.SetAttr(n, op.Name, op.Value)
}

func ensureOp(d *Document, op Op, nodes []*Node, ns map[string]string) ([]Edit, error) {
	if len(nodes) > 1 {
		return nil, &OpError{Matched: len(nodes), Msg: fmt.Sprintf("the key matches %s; ensure needs a key that matches at most 1", plural(len(nodes), "node"))}
	}
	for _, n := range nodes {
		if n.Kind != ElementNode {
			return nil, fmt.Errorf("the key selects a %s node, not an element", n.Kind)
		}
	}
	if len(nodes) == 1 {
		return d.Ensure(nodes[0].Parent, nodes[0], nil, op.Fragment)
	}
	parentX := op.Parent
	if parentX == "" {
		var err error
		parentX, err = ParentXPath(op.XPath)
		if err != nil {
			return nil, err
		}
	}
	parents, err := d.SelectString(parentX, ns)
	if err != nil {
		return nil, err
	}
	if len(parents) == 0 && op.Optional {
		return nil, nil
	}
	if len(parents) != 1 || parents[0].Kind != ElementNode {
		return nil, &OpError{Matched: len(parents), Msg: fmt.Sprintf("parent %q matched %s, want exactly 1 element", parentX, plural(len(parents), "node"))}
	}
	var after *Node
	if op.After != "" {
		as, err := d.SelectString(op.After, ns)
		if err != nil {
			return nil, err
		}
		if len(as) != 1 || as[0].Kind != ElementNode {
			return nil, &OpError{Matched: len(as), Msg: fmt.Sprintf("after %q matched %s, want exactly 1 element", op.After, plural(len(as), "node"))}
		}
		after = as[0]
	}
	return d.Ensure(parents[0], nil, after, op.Fragment)
}

// ParentXPath returns a location path without its last step ("/a/b[c='x/y']" -> "/a"), for
// ensure's default parent. Paths whose parent it cannot tell (a union, a last step after "//",
// a single relative step) are an error asking for an explicit parent.
func ParentXPath(x string) (string, error) {
	depth := 0
	var quote byte
	last := -1
	for i := 0; i < len(x); i++ {
		c := x[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case depth == 0 && c == '|':
			return "", fmt.Errorf("cannot tell the parent of the union %q; set parent", x)
		case depth == 0 && c == '/':
			last = i
		}
	}
	if last <= 0 || x[last-1] == '/' {
		return "", fmt.Errorf("cannot tell the parent of %q from its steps; set parent", x)
	}
	p := strings.TrimSpace(x[:last])
	if p == "" {
		return "", fmt.Errorf("cannot tell the parent of %q; set parent", x)
	}
	return p, nil
}
