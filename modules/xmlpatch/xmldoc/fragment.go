package xmldoc

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Fragment is parsed XML content (any number of elements, text and comments) as a node whose
// children are the content, read in the namespace bindings of the place it goes to, so that
// unprefixed elements inherit the default namespace there.
type Fragment struct {
	// Node is a document node holding the fragment's content.
	Node *Node
	// Text is the fragment's text; the nodes' offsets point into it.
	Text string
}

// ParseFragment parses XML content as it would be read inside an element with the given
// namespace bindings (prefix, "" for the default, -> URI).
func ParseFragment(text string, scope map[string]string) (*Fragment, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("fragment is not valid UTF-8")
	}
	sc := map[string]string{}
	for k, v := range scope {
		sc[k] = v
	}
	p := &parser{s: text}
	root := &Node{Kind: DocumentNode, End: len(text), frag: true}
	if err := p.parse(root, sc); err != nil {
		return nil, fmt.Errorf("fragment: %w", err)
	}
	return &Fragment{Node: root, Text: text}, nil
}

// Element returns the fragment's only element, or an error when it has none or several or
// holds text outside it.
func (f *Fragment) Element() (*Node, error) {
	var el *Node
	for _, c := range f.Node.Children {
		switch c.Kind {
		case ElementNode:
			if el != nil {
				return nil, fmt.Errorf("fragment has more than one top-level element (<%s> and <%s>)", el.Name(), c.Name())
			}
			el = c
		case TextNode, CDataNode:
			if !isBlank(c.Data) {
				return nil, fmt.Errorf("fragment has text outside its element: %q", strings.TrimSpace(c.Data))
			}
		}
	}
	if el == nil {
		return nil, fmt.Errorf("fragment has no element")
	}
	return el, nil
}

// layoutLines returns the lines of XML content src (read with scope), laid out for insertion
// at one indentation: a fragment written on several lines keeps its own layout, with its
// common indentation removed; a fragment on one line is broken into one element per line,
// nesting by unit. Lines carry no indentation yet.
func layoutLines(src string, scope map[string]string, unit string) ([]string, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	if strings.Contains(strings.TrimSpace(src), "\n") {
		lines := strings.Split(src, "\n")
		for len(lines) > 0 && isBlank(lines[0]) {
			lines = lines[1:]
		}
		for len(lines) > 0 && isBlank(lines[len(lines)-1]) {
			lines = lines[:len(lines)-1]
		}
		common := ""
		first := true
		for _, l := range lines {
			if isBlank(l) {
				continue
			}
			ind := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			if first {
				common, first = ind, false
				continue
			}
			for !strings.HasPrefix(ind, common) {
				common = common[:len(common)-1]
			}
		}
		for i, l := range lines {
			if isBlank(l) {
				lines[i] = ""
			} else {
				lines[i] = strings.TrimRight(l[len(common):], " \t")
			}
		}
		return reunit(lines, unit), nil
	}
	f, err := ParseFragment(src, scope)
	if err != nil {
		return nil, err
	}
	var lines []string
	var emit func(n *Node, depth int)
	emit = func(n *Node, depth int) {
		ind := strings.Repeat(unit, depth)
		if n.Kind == ElementNode && structural(n) {
			lines = append(lines, ind+f.Text[n.Start:n.TagEnd])
			for _, c := range n.Children {
				if !(c.Kind == TextNode && isBlank(c.Data)) {
					emit(c, depth+1)
				}
			}
			lines = append(lines, ind+f.Text[n.CloseStart:n.End])
			return
		}
		lines = append(lines, ind+strings.TrimSpace(f.Text[n.Start:n.End]))
	}
	for _, c := range f.Node.Children {
		if !(c.Kind == TextNode && isBlank(c.Data)) {
			emit(c, 0)
		}
	}
	return lines, nil
}

// reunit re-indents lines written with their own indentation unit (2 spaces, a tab) in unit,
// level for level. The unit is read from lines that start a tag; other lines (attributes
// aligned under their tag, text) keep their offset from the tag line above them. When the
// lines mix tabs and spaces, or a tag line is not indented a whole number of levels, they keep
// their indentation as written.
func reunit(lines []string, unit string) []string {
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " \t")) }
	var c byte
	min := 0
	for _, l := range lines {
		n := indent(l)
		if n == 0 {
			continue
		}
		if strings.Trim(l[:n], l[:1]) != "" || c != 0 && l[0] != c {
			return lines
		}
		c = l[0]
		if strings.HasPrefix(l[n:], "<") && (min == 0 || n < min) {
			min = n
		}
	}
	if min == 0 || strings.Repeat(string(c), min) == unit {
		return lines
	}
	out := make([]string, len(lines))
	lastOld, lastNew := 0, ""
	for i, l := range lines {
		n := indent(l)
		switch {
		case l == "":
		case strings.HasPrefix(l[n:], "<"):
			if n%min != 0 {
				return lines
			}
			lastOld, lastNew = n, strings.Repeat(unit, n/min)
			out[i] = lastNew + l[n:]
		case n >= lastOld:
			out[i] = lastNew + l[lastOld:]
		default:
			out[i] = l
		}
	}
	return out
}

// structural reports whether an element holds child elements and no text but whitespace.
func structural(n *Node) bool {
	hasEl := false
	for _, c := range n.Children {
		switch c.Kind {
		case ElementNode:
			hasEl = true
		case TextNode, CDataNode:
			if !isBlank(c.Data) {
				return false
			}
		}
	}
	return hasEl && !n.SelfClosing
}

func joinLines(lines []string, indent, eol string) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString(eol)
		}
		if l != "" {
			b.WriteString(indent + l)
		}
	}
	return b.String()
}

// replaceContent returns the edit that makes el's content the given lines, one per line at the
// child indentation, with the end tag on its own line at el's indentation.
func (d *Document) replaceContent(el *Node, lines []string) Edit {
	var content string
	if len(lines) > 0 {
		ei, ok := d.indentOf(el)
		ci := d.childIndent(el)
		if !ok {
			ci = ""
		}
		content = d.EOL + joinLines(lines, ci, d.EOL) + d.EOL + ei
	}
	if el.SelfClosing {
		return d.openSelfClosing(el, content)
	}
	return Edit{el.TagEnd, el.CloseStart, content}
}

// ReplaceChildren returns the edits that make el's content equal to the fragment's (compared as
// XML: whitespace between elements and comments do not count). No edits when it already is.
func (d *Document) ReplaceChildren(el *Node, fragment string) ([]Edit, error) {
	if el.Kind != ElementNode {
		return nil, fmt.Errorf("%s is a %s node, not an element", el.Path(), el.Kind)
	}
	f, err := ParseFragment(fragment, el.InScope())
	if err != nil {
		return nil, err
	}
	return d.syncContent(el, f.Node, f)
}

// Ensure returns the edits that make the fragment's element exist: when existing is nil it is
// inserted under parent (after the sibling after, or after parent's last child), indented like
// its siblings and in the file's line ending; otherwise existing is updated in place, attribute
// by attribute and child by child, until it equals the fragment as XML. No edits when it does.
func (d *Document) Ensure(parent, existing, after *Node, fragment string) ([]Edit, error) {
	if existing != nil {
		f, err := ParseFragment(fragment, existing.Parent.InScope())
		if err != nil {
			return nil, err
		}
		fe, err := f.Element()
		if err != nil {
			return nil, err
		}
		return d.syncElement(existing, fe, f)
	}
	if parent == nil || parent.Kind != ElementNode {
		return nil, fmt.Errorf("ensure needs a parent element to insert into")
	}
	scope := parent.InScope()
	f, err := ParseFragment(fragment, scope)
	if err != nil {
		return nil, err
	}
	if _, err := f.Element(); err != nil {
		return nil, err
	}
	lines, err := layoutLines(fragment, scope, d.indentUnit(parent))
	if err != nil {
		return nil, err
	}
	anchor := after
	if anchor != nil && anchor.Parent != parent {
		return nil, fmt.Errorf("%s is not a child of %s", anchor.Path(), parent.Path())
	}
	if anchor == nil {
		for i := len(parent.Children) - 1; i >= 0; i-- {
			c := parent.Children[i]
			if !(c.Kind == TextNode && isBlank(c.Data)) {
				anchor = c
				break
			}
		}
	}
	if anchor == nil {
		return []Edit{d.replaceContent(parent, lines)}, nil
	}
	indent, ok := d.indentOf(anchor)
	if !ok || anchor.Kind != ElementNode {
		indent = d.childIndent(parent)
	}
	pos := d.endOfLine(anchor)
	return []Edit{{pos, pos, d.EOL + joinLines(lines, indent, d.EOL)}}, nil
}

// endOfLine returns where to insert after n: after n, or after comments that trail it on the
// same line (<b/> <!-- about b -->), so that they stay with it.
func (d *Document) endOfLine(n *Node) int {
	pos := n.End
	sib := n.Parent.Children
	for i := n.index + 1; i < len(sib); i++ {
		c := sib[i]
		if c.Kind == TextNode && strings.Trim(c.Data, " \t") == "" {
			continue
		}
		if c.Kind == CommentNode && !strings.Contains(d.Text[pos:c.End], "\n") {
			pos = c.End
			continue
		}
		break
	}
	return pos
}

// syncElement returns the smallest edits that make e equal to f (from fragment text fr).
func (d *Document) syncElement(e, f *Node, fr *Fragment) ([]Edit, error) {
	if e.Local != f.Local || e.Space != f.Space {
		lines, err := layoutLines(fr.Text[f.Start:f.End], f.Parent.InScope(), d.indentUnit(e))
		if err != nil {
			return nil, err
		}
		ind, _ := d.indentOf(e)
		return []Edit{{e.Start, e.End, strings.TrimLeft(joinLines(lines, ind, d.EOL), " \t")}}, nil
	}
	var edits []Edit
	for _, fa := range f.Attrs {
		if fa.IsNamespaceDecl() {
			continue
		}
		ea := e.sameAttr(fa)
		if ea != nil && ea.Data == fa.Data {
			continue
		}
		var ed []Edit
		var err error
		if ea != nil {
			ed, err = d.SetText(ea, fa.Data)
		} else {
			name := fa.Name()
			if fa.Space != "" {
				if p := d.prefixFor(e, fa.Space); p != "" {
					name = p + ":" + fa.Local
				}
			}
			ed, err = d.SetAttr(e, name, fa.Data)
		}
		if err != nil {
			return nil, err
		}
		edits = append(edits, ed...)
	}
	for _, ea := range e.Attrs {
		if !ea.IsNamespaceDecl() && f.sameAttr(ea) == nil {
			ed, _ := d.Remove(ea)
			edits = append(edits, ed...)
		}
	}
	ed, err := d.syncContent(e, f, fr)
	if err != nil {
		return nil, err
	}
	return append(edits, ed...), nil
}

// prefixFor finds a prefix bound to space at e (for an attribute the fragment gives in a
// namespace), or "".
func (d *Document) prefixFor(e *Node, space string) string {
	best := ""
	for p, u := range e.InScope() {
		if u == space && p != "" && (best == "" || p < best) {
			best = p
		}
	}
	return best
}

// syncContent returns the edits that make e's content equal to f's content.
func (d *Document) syncContent(e, f *Node, fr *Fragment) ([]Edit, error) {
	ee, fe := e.Elements(), f.Elements()
	if len(ee) == 0 && len(fe) == 0 {
		if sameText(e.Value(), f.Value()) {
			return nil, nil
		}
		return d.SetText(e, f.Value())
	}
	if len(ee) == len(fe) && sameText(strings.TrimSpace(directText(e)), strings.TrimSpace(directText(f))) {
		same := true
		for i := range ee {
			if ee[i].Local != fe[i].Local || ee[i].Space != fe[i].Space {
				same = false
				break
			}
		}
		if same {
			var edits []Edit
			for i := range ee {
				ed, err := d.syncElement(ee[i], fe[i], fr)
				if err != nil {
					return nil, err
				}
				edits = append(edits, ed...)
			}
			return edits, nil
		}
	}
	inner := ""
	if f.Kind == DocumentNode {
		inner = fr.Text
	} else if !f.SelfClosing {
		inner = fr.Text[f.TagEnd:f.CloseStart]
	}
	lines, err := layoutLines(inner, f.InScope(), d.indentUnit(e))
	if err != nil {
		return nil, err
	}
	if len(fe) == 0 {
		// Text only: written as given, on the element's line.
		if e.SelfClosing {
			return []Edit{d.openSelfClosing(e, inner)}, nil
		}
		return []Edit{{e.TagEnd, e.CloseStart, inner}}, nil
	}
	return []Edit{d.replaceContent(e, lines)}, nil
}

// sameText compares the text of a fragment's leaf with the file's. Text on several lines is
// compared line by line without the indentation around it, since inserting a fragment
// re-indents its lines; text on one line must be equal.
func sameText(a, b string) bool {
	if a == b {
		return true
	}
	if !strings.Contains(a, "\n") && !strings.Contains(b, "\n") {
		return false
	}
	norm := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			out = append(out, strings.TrimSpace(l))
		}
		return strings.Trim(strings.Join(out, "\n"), "\n")
	}
	return norm(a) == norm(b)
}

func directText(n *Node) string {
	var b strings.Builder
	for _, c := range n.Children {
		if c.Kind == TextNode || c.Kind == CDataNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}
