package xmldoc

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Edit replaces Text[Start:End] of a document with New. An insertion has Start == End.
type Edit struct {
	Start, End int
	New        string
}

// Apply splices edits into the document text and parses the result. Edits must not overlap;
// insertions at the same offset keep their order. Everything outside the edits is unchanged.
func (d *Document) Apply(edits []Edit) (*Document, error) {
	if len(edits) == 0 {
		return d, nil
	}
	es := append([]Edit(nil), edits...)
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Start != es[j].Start {
			return es[i].Start < es[j].Start
		}
		return es[i].End < es[j].End
	})
	var b strings.Builder
	last := 0
	for _, e := range es {
		if e.Start < last || e.End < e.Start || e.End > len(d.Text) {
			return nil, fmt.Errorf("edits overlap at line %d (do two XPath matches contain each other?)", d.Line(e.Start))
		}
		b.WriteString(d.Text[last:e.Start])
		b.WriteString(e.New)
		last = e.End
	}
	b.WriteString(d.Text[last:])
	nd, err := parseText(b.String(), d.Encoding)
	if err != nil {
		return nil, fmt.Errorf("the edited document is not well-formed (%w); this is a bug or an invalid fragment", err)
	}
	return nd, nil
}

// Line returns the 1-based line of an offset.
func (d *Document) Line(pos int) int {
	if pos > len(d.Text) {
		pos = len(d.Text)
	}
	return 1 + strings.Count(d.Text[:pos], "\n")
}

// EscapeText escapes s for element content. Characters XML cannot hold are an error.
func EscapeText(s string) (string, error) { return escape(s, 0) }

// EscapeAttr escapes s for an attribute value quoted with quote (' or ").
func EscapeAttr(s string, quote byte) (string, error) { return escape(s, quote) }

func escape(s string, quote byte) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("value is not valid UTF-8")
	}
	var b strings.Builder
	for _, r := range s {
		if !isXMLChar(r) {
			return "", fmt.Errorf("character U+%04X cannot be written in XML", r)
		}
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#13;")
		case quote != 0 && r == '"' && quote == '"':
			b.WriteString("&quot;")
		case quote != 0 && r == '\'' && quote == '\'':
			b.WriteString("&apos;")
		case quote != 0 && r == '\n':
			b.WriteString("&#10;")
		case quote != 0 && r == '\t':
			b.WriteString("&#9;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

func (d *Document) lineStart(pos int) int { return strings.LastIndexByte(d.Text[:pos], '\n') + 1 }

// indentOf returns the whitespace before n on its line, and whether n is the first thing on it.
func (d *Document) indentOf(n *Node) (string, bool) {
	ls := d.lineStart(n.Start)
	pre := d.Text[ls:n.Start]
	if strings.Trim(pre, " \t") != "" {
		return "", false
	}
	return pre, true
}

// indentUnit guesses one level of indentation near el from a parent and child that both start
// their lines; four spaces when nothing tells.
func (d *Document) indentUnit(el *Node) string {
	for e := el; e != nil && e.Kind == ElementNode; e = e.Parent {
		ei, ok := d.indentOf(e)
		if !ok {
			continue
		}
		for _, c := range e.Children {
			if c.Kind != ElementNode && c.Kind != CommentNode {
				continue
			}
			ci, ok := d.indentOf(c)
			if ok && len(ci) > len(ei) && strings.HasPrefix(ci, ei) {
				return ci[len(ei):]
			}
		}
	}
	if root := d.RootElement(); root != nil {
		for _, c := range root.Children {
			if c.Kind == ElementNode {
				if ci, ok := d.indentOf(c); ok && ci != "" {
					return ci
				}
			}
		}
	}
	return "    "
}

// childIndent returns the indentation of el's children: that of a child element (or comment)
// that starts its line, else el's own plus one unit.
func (d *Document) childIndent(el *Node) string {
	for _, kind := range []Kind{ElementNode, CommentNode} {
		for _, c := range el.Children {
			if c.Kind == kind {
				if ci, ok := d.indentOf(c); ok {
					return ci
				}
			}
		}
	}
	ei, _ := d.indentOf(el)
	return ei + d.indentUnit(el)
}

func isBlank(s string) bool { return strings.Trim(s, " \t\r\n") == "" }

// SetText returns the edits that make n's value equal to value: an element's text content, or
// an attribute's value. No edits when it already is. An element with child elements is an error.
func (d *Document) SetText(n *Node, value string) ([]Edit, error) {
	switch n.Kind {
	case AttributeNode:
		if n.Data == value {
			return nil, nil
		}
		esc, err := EscapeAttr(value, n.Quote)
		if err != nil {
			return nil, err
		}
		return []Edit{{n.ValStart, n.ValEnd, esc}}, nil
	case ElementNode:
	default:
		return nil, fmt.Errorf("%s is a %s node; select an element or an attribute", n.Path(), n.Kind)
	}
	if len(n.Elements()) > 0 {
		return nil, fmt.Errorf("element %s has child elements; set_text would drop them (use replace_children)", n.Path())
	}
	if n.Value() == value {
		return nil, nil
	}
	esc, err := EscapeText(value)
	if err != nil {
		return nil, err
	}
	if n.SelfClosing {
		return []Edit{d.openSelfClosing(n, esc)}, nil
	}
	var texts []*Node
	for _, c := range n.Children {
		if c.Kind == TextNode || c.Kind == CDataNode {
			texts = append(texts, c)
		}
	}
	if len(texts) == 0 {
		return []Edit{{n.CloseStart, n.CloseStart, esc}}, nil
	}
	edits := []Edit{{texts[0].Start, texts[0].End, esc}}
	if t := texts[0]; t.Kind == CDataNode && !strings.Contains(value, "]]>") && !strings.Contains(value, "\r") {
		edits[0] = Edit{t.ValStart, t.ValEnd, value}
	}
	for _, t := range texts[1:] {
		edits = append(edits, Edit{t.Start, t.End, ""})
	}
	return edits, nil
}

// openSelfClosing turns <a x="1"/> into <a x="1">content</a>.
func (d *Document) openSelfClosing(n *Node, content string) Edit {
	end := n.End - 2 // at "/>"
	start := end
	for start > n.Start && isSpace(rune(d.Text[start-1])) {
		start--
	}
	return Edit{start, n.End, ">" + content + "</" + n.Name() + ">"}
}

// SetAttr returns the edits that give element el the attribute name (optionally prefixed with
// a prefix bound where el is) with value. A changed value keeps its quote character; a new
// attribute goes after the last one, on its own line with the same indentation when the start
// tag puts attributes on separate lines.
func (d *Document) SetAttr(el *Node, name, value string) ([]Edit, error) {
	if el.Kind != ElementNode {
		return nil, fmt.Errorf("%s is a %s node, not an element", el.Path(), el.Kind)
	}
	prefix, local := splitQName(name)
	if !validName(name) || local == "" || strings.Contains(local, ":") || prefix == "xmlns" || name == "xmlns" {
		return nil, fmt.Errorf("invalid attribute name %q", name)
	}
	space := ""
	if prefix != "" {
		uri, ok := el.LookupNamespace(prefix)
		if !ok {
			return nil, fmt.Errorf("attribute prefix %q is not declared at %s", prefix, el.Path())
		}
		space = uri
	}
	if a := el.Attr(space, local); a != nil {
		return d.SetText(a, value)
	}
	quote := byte('"')
	pos := el.Start + 1 + len(el.Name())
	sep := " "
	if n := len(el.Attrs); n > 0 {
		last := el.Attrs[n-1]
		quote, pos = last.Quote, last.End
		ls := d.lineStart(last.Start)
		if ls > el.Start {
			// The last attribute starts its own line: put the new one on a new line below it.
			if pre := d.Text[ls:last.Start]; strings.Trim(pre, " \t") == "" {
				sep = d.EOL + pre
			}
		}
	}
	esc, err := EscapeAttr(value, quote)
	if err != nil {
		return nil, err
	}
	return []Edit{{pos, pos, sep + name + "=" + string(quote) + esc + string(quote)}}, nil
}

// Remove returns the edit that removes n: an element, comment or text with its line when it
// is alone on it, or an attribute with the whitespace before it.
func (d *Document) Remove(n *Node) ([]Edit, error) {
	switch n.Kind {
	case DocumentNode:
		return nil, fmt.Errorf("cannot remove the document")
	case AttributeNode:
		start := n.Start
		for start > 0 && isSpace(rune(d.Text[start-1])) {
			start--
		}
		return []Edit{{start, n.End, ""}}, nil
	}
	if n.Parent != nil && n.Parent.Kind == DocumentNode && n.Kind == ElementNode {
		return nil, fmt.Errorf("cannot remove the root element")
	}
	ls := d.lineStart(n.Start)
	if strings.Trim(d.Text[ls:n.Start], " \t") == "" {
		rest := d.Text[n.End:]
		le := strings.IndexByte(rest, '\n')
		if le >= 0 && strings.Trim(rest[:le], " \t\r") == "" {
			return []Edit{{ls, n.End + le + 1, ""}}, nil
		}
		if le < 0 && strings.Trim(rest, " \t\r") == "" {
			return []Edit{{ls, len(d.Text), ""}}, nil
		}
	}
	return []Edit{{n.Start, n.End, ""}}, nil
}
