package xmldoc

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Document is a parsed XML document: its decoded text, the tree over it, and how it is stored.
type Document struct {
	// Root is the document node; its children are the prolog, the root element and what follows.
	Root *Node
	// Text is the document as UTF-8 text; every Node offset points into it.
	Text string
	// Encoding is how the document is stored; Bytes writes it back in it.
	Encoding Encoding
	// EOL is the document's line ending: "\r\n" when most lines end so, else "\n".
	EOL string
}

// SyntaxError is a document that is not well-formed XML, with where.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d:%d: %s", e.Line, e.Col, e.Msg) }

// Parse parses a stored document: it detects the encoding from a byte order mark or the XML
// declaration (UTF-8 by default), decodes it, and builds the tree.
func Parse(raw []byte) (*Document, error) {
	enc, err := detectEncoding(raw)
	if err != nil {
		return nil, err
	}
	text, err := enc.decode(raw)
	if err != nil {
		return nil, err
	}
	return parseText(text, enc)
}

// ParseString parses UTF-8 text (the encoding declaration, if any, only decides how Bytes
// writes it).
func ParseString(text string) (*Document, error) {
	enc, err := detectEncoding([]byte(text))
	if err != nil {
		return nil, err
	}
	return parseText(text, enc)
}

// Bytes returns the document in its stored encoding.
func (d *Document) Bytes() ([]byte, error) { return d.Encoding.encode(d.Text) }

// RootElement returns the document element.
func (d *Document) RootElement() *Node {
	for _, c := range d.Root.Children {
		if c.Kind == ElementNode {
			return c
		}
	}
	return nil
}

func parseText(text string, enc Encoding) (*Document, error) {
	p := &parser{s: text}
	root := &Node{Kind: DocumentNode, Start: 0, End: len(text)}
	if err := p.parse(root, nil); err != nil {
		return nil, err
	}
	return &Document{Root: root, Text: text, Encoding: enc, EOL: detectEOL(text)}, nil
}

func detectEOL(s string) string {
	crlf := strings.Count(s, "\r\n")
	lf := strings.Count(s, "\n")
	if crlf > 0 && crlf*2 >= lf {
		return "\r\n"
	}
	return "\n"
}

type parser struct {
	s   string
	pos int
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	if pos > len(p.s) {
		pos = len(p.s)
	}
	line := 1 + strings.Count(p.s[:pos], "\n")
	col := pos - strings.LastIndexByte(p.s[:pos], '\n')
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// parse fills root from the whole text. wrapScope, when set, are namespace bindings the
// content is parsed in (for fragments).
func (p *parser) parse(root *Node, wrapScope map[string]string) error {
	root.decls = wrapScope
	if strings.HasPrefix(p.s, "\uFEFF") {
		p.pos = len("\uFEFF")
	}
	cur := root
	seenRoot := false
	for p.pos < len(p.s) {
		start := p.pos
		if p.s[p.pos] != '<' {
			end := strings.IndexByte(p.s[p.pos:], '<')
			if end < 0 {
				end = len(p.s)
			} else {
				end += p.pos
			}
			raw := p.s[start:end]
			if cur == root && wrapScope == nil && strings.TrimLeft(raw, " \t\r\n") != "" {
				return p.errAt(start, "text outside the root element")
			}
			data, err := p.unescape(raw, start, false)
			if err != nil {
				return err
			}
			if strings.Contains(raw, "]]>") {
				return p.errAt(start+strings.Index(raw, "]]>"), `"]]>" is not allowed in text`)
			}
			p.add(cur, &Node{Kind: TextNode, Start: start, End: end, ValStart: start, ValEnd: end, Data: data})
			p.pos = end
			continue
		}
		rest := p.s[p.pos:]
		switch {
		case strings.HasPrefix(rest, "<?"):
			end := strings.Index(rest[2:], "?>")
			if end < 0 {
				return p.errAt(start, "unterminated processing instruction")
			}
			end += 2
			body := rest[2:end]
			target := body
			if i := strings.IndexAny(body, " \t\r\n"); i >= 0 {
				target = body[:i]
			}
			if !validName(target) {
				return p.errAt(start, "invalid processing instruction target %q", target)
			}
			if strings.EqualFold(target, "xml") && start != 0 && !(start == 3 && strings.HasPrefix(p.s, "\uFEFF")) {
				return p.errAt(start, "the XML declaration must come first")
			}
			p.add(cur, &Node{Kind: ProcInstNode, Start: start, End: start + end + 2, ValStart: start + 2, ValEnd: start + end, Data: target})
			p.pos = start + end + 2
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return p.errAt(start, "unterminated comment")
			}
			body := rest[4 : 4+end]
			if i := strings.Index(body, "--"); i >= 0 || strings.HasSuffix(body, "-") {
				return p.errAt(start, `"--" is not allowed inside a comment`)
			}
			if err := p.checkChars(body, start+4); err != nil {
				return err
			}
			p.add(cur, &Node{Kind: CommentNode, Start: start, End: start + 4 + end + 3, ValStart: start + 4, ValEnd: start + 4 + end, Data: normEOL(body)})
			p.pos = start + 4 + end + 3
		case strings.HasPrefix(rest, "<![CDATA["):
			if cur == root && wrapScope == nil {
				return p.errAt(start, "CDATA outside the root element")
			}
			end := strings.Index(rest[9:], "]]>")
			if end < 0 {
				return p.errAt(start, "unterminated CDATA section")
			}
			body := rest[9 : 9+end]
			if err := p.checkChars(body, start+9); err != nil {
				return err
			}
			p.add(cur, &Node{Kind: CDataNode, Start: start, End: start + 9 + end + 3, ValStart: start + 9, ValEnd: start + 9 + end, Data: normEOL(body)})
			p.pos = start + 9 + end + 3
		case strings.HasPrefix(rest, "<!DOCTYPE"):
			if cur != root || seenRoot {
				return p.errAt(start, "DOCTYPE must come before the root element")
			}
			end, err := p.doctypeEnd(start)
			if err != nil {
				return err
			}
			p.add(cur, &Node{Kind: DoctypeNode, Start: start, End: end, ValStart: start + 2, ValEnd: end - 1})
			p.pos = end
		case strings.HasPrefix(rest, "</"):
			if cur == root {
				return p.errAt(start, "end tag without a start tag")
			}
			q := start + 2
			name, q := p.name(q)
			if name != cur.Name() {
				return p.errAt(start, "end tag </%s> does not match <%s>", name, cur.Name())
			}
			q = p.skipSpace(q)
			if q >= len(p.s) || p.s[q] != '>' {
				return p.errAt(q, "expected '>' to close </%s>", name)
			}
			cur.CloseStart, cur.End = start, q+1
			p.pos = q + 1
			cur = cur.Parent
		default:
			el, err := p.startTag(start, cur)
			if err != nil {
				return err
			}
			if cur == root && wrapScope == nil {
				if seenRoot {
					return p.errAt(start, "a second root element <%s>", el.Name())
				}
				seenRoot = true
			}
			p.add(cur, el)
			p.pos = el.TagEnd
			if !el.SelfClosing {
				cur = el
			}
		}
	}
	if cur != root {
		return p.errAt(len(p.s), "element <%s> is not closed", cur.Name())
	}
	if !seenRoot && wrapScope == nil {
		return p.errAt(len(p.s), "no root element")
	}
	return nil
}

func (p *parser) add(parent, n *Node) {
	n.Parent = parent
	n.index = len(parent.Children)
	parent.Children = append(parent.Children, n)
}

func (p *parser) doctypeEnd(start int) (int, error) {
	depth := 0
	for q := start + 2; q < len(p.s); q++ {
		switch c := p.s[q]; c {
		case '"', '\'':
			e := strings.IndexByte(p.s[q+1:], c)
			if e < 0 {
				return 0, p.errAt(q, "unterminated literal in DOCTYPE")
			}
			q += e + 1
		case '[':
			depth++
		case ']':
			depth--
		case '<':
			if strings.HasPrefix(p.s[q:], "<!--") {
				e := strings.Index(p.s[q+4:], "-->")
				if e < 0 {
					return 0, p.errAt(q, "unterminated comment in DOCTYPE")
				}
				q += 4 + e + 2
			}
		case '>':
			if depth <= 0 {
				return q + 1, nil
			}
		}
	}
	return 0, p.errAt(start, "unterminated DOCTYPE")
}

func (p *parser) skipSpace(q int) int {
	for q < len(p.s) && isSpace(rune(p.s[q])) {
		q++
	}
	return q
}

// name reads an XML name at q; it returns "" when there is none.
func (p *parser) name(q int) (string, int) {
	start := q
	for q < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[q:])
		if q == start && !isNameStart(r) || q > start && !isNameChar(r) {
			break
		}
		q += n
	}
	return p.s[start:q], q
}

func (p *parser) startTag(start int, parent *Node) (*Node, error) {
	qname, q := p.name(start + 1)
	if qname == "" {
		return nil, p.errAt(start, "invalid character after '<'")
	}
	el := &Node{Kind: ElementNode, Start: start}
	el.Prefix, el.Local = splitQName(qname)
	if el.Local == "" || strings.Contains(el.Local, ":") || strings.HasPrefix(qname, ":") {
		return nil, p.errAt(start, "invalid element name %q", qname)
	}
	for {
		ws := q
		q = p.skipSpace(q)
		if q >= len(p.s) {
			return nil, p.errAt(start, "unterminated start tag <%s", qname)
		}
		if p.s[q] == '>' {
			el.TagEnd = q + 1
			break
		}
		if strings.HasPrefix(p.s[q:], "/>") {
			el.TagEnd, el.End, el.CloseStart, el.SelfClosing = q+2, q+2, q+2, true
			break
		}
		if q == ws {
			return nil, p.errAt(q, "expected whitespace before an attribute in <%s>", qname)
		}
		an, r := p.name(q)
		if an == "" {
			return nil, p.errAt(q, "invalid character %q in start tag <%s>", p.s[q], qname)
		}
		a := &Node{Kind: AttributeNode, Start: q, Parent: el, index: len(el.Attrs)}
		a.Prefix, a.Local = splitQName(an)
		if a.Local == "" || strings.Contains(a.Local, ":") || strings.HasPrefix(an, ":") {
			return nil, p.errAt(q, "invalid attribute name %q", an)
		}
		r = p.skipSpace(r)
		if r >= len(p.s) || p.s[r] != '=' {
			return nil, p.errAt(r, "expected '=' after attribute %s", an)
		}
		r = p.skipSpace(r + 1)
		if r >= len(p.s) || (p.s[r] != '"' && p.s[r] != '\'') {
			return nil, p.errAt(r, "expected a quoted value for attribute %s", an)
		}
		a.Quote = p.s[r]
		e := strings.IndexByte(p.s[r+1:], a.Quote)
		if e < 0 {
			return nil, p.errAt(r, "unterminated value of attribute %s", an)
		}
		a.ValStart, a.ValEnd = r+1, r+1+e
		raw := p.s[a.ValStart:a.ValEnd]
		if i := strings.IndexByte(raw, '<'); i >= 0 {
			return nil, p.errAt(a.ValStart+i, "'<' is not allowed in the value of attribute %s", an)
		}
		data, err := p.unescape(raw, a.ValStart, true)
		if err != nil {
			return nil, err
		}
		a.Data = data
		a.End = a.ValEnd + 1
		for _, o := range el.Attrs {
			if o.Name() == an {
				return nil, p.errAt(q, "attribute %s appears twice in <%s>", an, qname)
			}
		}
		el.Attrs = append(el.Attrs, a)
		q = a.End
	}
	// Namespaces: declarations first, then resolve names.
	for _, a := range el.Attrs {
		if a.Prefix == "xmlns" {
			if el.decls == nil {
				el.decls = map[string]string{}
			}
			el.decls[a.Local] = a.Data
		} else if a.Prefix == "" && a.Local == "xmlns" {
			if el.decls == nil {
				el.decls = map[string]string{}
			}
			el.decls[""] = a.Data
		}
	}
	el.Parent = parent
	if uri, ok := el.LookupNamespace(el.Prefix); ok {
		el.Space = uri
	}
	for _, a := range el.Attrs {
		if a.IsNamespaceDecl() {
			a.Space = "http://www.w3.org/2000/xmlns/"
			continue
		}
		if a.Prefix != "" {
			if uri, ok := el.LookupNamespace(a.Prefix); ok {
				a.Space = uri
			}
		}
	}
	return el, nil
}

func splitQName(s string) (prefix, local string) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// unescape resolves character and entity references in text or an attribute value, and
// normalises line ends (and, in attributes, whitespace) as an XML processor does.
func (p *parser) unescape(raw string, off int, attr bool) (string, error) {
	if err := p.checkChars(raw, off); err != nil {
		return "", err
	}
	if !strings.ContainsAny(raw, "&\r") && !(attr && strings.ContainsAny(raw, "\t\n")) {
		return raw, nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\r':
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			if attr {
				b.WriteByte(' ')
			} else {
				b.WriteByte('\n')
			}
		case attr && (c == '\t' || c == '\n'):
			b.WriteByte(' ')
		case c == '&':
			end := strings.IndexByte(raw[i:], ';')
			if end < 0 {
				return "", p.errAt(off+i, "'&' must be written &amp;")
			}
			ref := raw[i+1 : i+end]
			switch ref {
			case "lt":
				b.WriteByte('<')
			case "gt":
				b.WriteByte('>')
			case "amp":
				b.WriteByte('&')
			case "apos":
				b.WriteByte('\'')
			case "quot":
				b.WriteByte('"')
			default:
				if strings.HasPrefix(ref, "#") {
					var v uint64
					var err error
					if strings.HasPrefix(ref, "#x") {
						v, err = strconv.ParseUint(ref[2:], 16, 32)
					} else {
						v, err = strconv.ParseUint(ref[1:], 10, 32)
					}
					if err != nil || !isXMLChar(rune(v)) {
						return "", p.errAt(off+i, "invalid character reference &%s;", ref)
					}
					b.WriteRune(rune(v))
				} else if validName(ref) {
					// An entity declared in a DOCTYPE: kept as written.
					b.WriteString("&" + ref + ";")
				} else {
					return "", p.errAt(off+i, "'&' must be written &amp;")
				}
			}
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func (p *parser) checkChars(s string, off int) error {
	for i, r := range s {
		if !isXMLChar(r) {
			return p.errAt(off+i, "character U+%04X is not allowed in XML", r)
		}
	}
	return nil
}

func normEOL(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

func isNameStart(r rune) bool {
	return r == ':' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
		r >= 0xC0 && r != 0xD7 && r != 0xF7 && r != utf8.RuneError && (unicode.IsLetter(r) || r > 0x2FF && r != 0x37E && r < 0xFFFE && !unicode.IsSpace(r) && !unicode.IsPunct(r) && !unicode.IsSymbol(r))
}

func isNameChar(r rune) bool {
	return isNameStart(r) || r == '-' || r == '.' || r >= '0' && r <= '9' || r == 0xB7 ||
		r >= 0x300 && r <= 0x36F || r == 0x203F || r == 0x2040 || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if i == 0 && !isNameStart(r) || i > 0 && !isNameChar(r) {
			return false
		}
	}
	return true
}
