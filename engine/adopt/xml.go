package adopt

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// carbonNS is the Carbon configuration namespace (carbon.xml); its prefix is always c.
const carbonNS = "http://wso2.org/projects/carbon/carbon.xml"

// xmlDiffer walks a pristine and a configured document side by side and collects operations.
type xmlDiffer struct {
	p, c     *xmldoc.Document
	prefixes map[string]string // namespace URI -> generated prefix
	vs       *varSet
	label    string
	blocks   []Block
	notes    []string
}

// xmlTask adds the xml_patch task turning pristine into configured.
func xmlTask(res *Result, vs *varSet, pristine, configured []byte, opts Options) error {
	pd, err := xmldoc.Parse(pristine)
	if err != nil {
		return fmt.Errorf("%s: pristine: %w", opts.Name, err)
	}
	cd, err := xmldoc.Parse(configured)
	if err != nil {
		return fmt.Errorf("%s: configured: %w", opts.Name, err)
	}
	pr, cr := pd.RootElement(), cd.RootElement()
	if pr == nil || cr == nil {
		return fmt.Errorf("%s: no root element", opts.Name)
	}
	d := &xmlDiffer{p: pd, c: cd, prefixes: map[string]string{}, vs: vs, label: opts.Label}
	vs.learn(XMLSecrets(cd))
	if pr.Space != cr.Space || pr.Local != cr.Local {
		return fmt.Errorf("%s: root elements differ (<%s> and <%s>): adopt it as a whole file", opts.Name, pr.Name(), cr.Name())
	}
	d.element(pr, cr, "/"+d.qname(cr))
	var notes []string
	if pd.EOL != cd.EOL {
		notes = append(notes, fmt.Sprintf("line endings differ (%s in the pristine file, %s in the configured one): not patched; xml_patch keeps the file's own", eolName(pd.EOL), eolName(cd.EOL)))
	}
	notes = append(notes, d.notes...)
	for _, n := range notes {
		res.Notes = append(res.Notes, opts.Name+": "+n)
	}
	if len(d.blocks) == 0 {
		for _, n := range notes {
			res.loose = append(res.loose, opts.Name+": "+n)
		}
		return nil
	}
	t := &Task{Type: "xml_patch", Name: opts.Name, Comments: notes}
	t.Args = append(t.Args, Arg{Name: "path", Expr: opts.Path})
	if len(d.prefixes) > 0 {
		ns := Arg{Name: "namespaces", IsMap: true}
		for uri, p := range d.prefixes {
			ns.Map = append(ns.Map, KV{Key: p, Value: Lit(uri)})
		}
		sort.Slice(ns.Map, func(i, j int) bool { return ns.Map[i].Key < ns.Map[j].Key })
		t.Args = append(t.Args, ns)
	}
	t.Blocks = d.blocks
	res.Tasks = append(res.Tasks, t)
	return nil
}

func eolName(s string) string {
	if s == "\r\n" {
		return "CRLF"
	}
	return "LF"
}

// prefix returns the XPath prefix for a namespace URI: c for Carbon's, else the prefix the
// configured file uses, else ns1, ns2...
func (d *xmlDiffer) prefix(uri string, hint string) string {
	if p, ok := d.prefixes[uri]; ok {
		return p
	}
	taken := map[string]bool{}
	for _, p := range d.prefixes {
		taken[p] = true
	}
	p := hint
	if uri == carbonNS {
		p = "c"
	}
	if p == "" || taken[p] || p == "xml" || p == "xmlns" {
		for i := 1; ; i++ {
			p = fmt.Sprintf("ns%d", i)
			if !taken[p] {
				break
			}
		}
	}
	d.prefixes[uri] = p
	return p
}

// qname is an element's or attribute's name as the generated XPaths write it.
func (d *xmlDiffer) qname(n *xmldoc.Node) string {
	if n.Space == "" {
		return n.Local
	}
	return d.prefix(n.Space, n.Prefix) + ":" + n.Local
}

// key says how the elements of one name under one parent are told apart.
type key struct {
	kind  int // keyNone (the name is unique), keyAttr, keyChild, keyPos
	local string
}

const (
	keyNone = iota
	keyAttr
	keyChild
	keyPos
)

// value returns n's key value and whether it has one.
func (k key) value(n *xmldoc.Node) (string, bool) {
	switch k.kind {
	case keyAttr:
		if a := n.Attr("", k.local); a != nil {
			return a.Data, true
		}
	case keyChild:
		var found *xmldoc.Node
		for _, c := range n.Elements() {
			if c.Local == k.local && c.Space == n.Space {
				if found != nil {
					return "", false
				}
				found = c
			}
		}
		if found != nil && len(found.Elements()) == 0 {
			v := strings.TrimSpace(found.Value())
			return v, v != ""
		}
	}
	return "", false
}

// chooseKey picks the key of a group of same-named siblings: the name alone when there is at
// most one on each side, else @name, a name child, an id child, @path, @id, @key, @class, any
// other attribute, each only when every element has it and its values are unique on each side;
// else the position.
func chooseKey(p, c []*xmldoc.Node) key {
	if len(p) <= 1 && len(c) <= 1 {
		return key{kind: keyNone}
	}
	cands := []key{{keyAttr, "name"}, {keyChild, "name"}, {keyChild, "id"}, {keyAttr, "path"}, {keyAttr, "id"}, {keyAttr, "key"}, {keyAttr, "class"}}
	seen := map[string]bool{"name": true, "path": true, "id": true, "key": true, "class": true}
	var others []string
	for _, side := range [][]*xmldoc.Node{p, c} {
		for _, n := range side {
			for _, a := range n.Attrs {
				if a.Space == "" && !a.IsNamespaceDecl() && !seen[a.Local] {
					seen[a.Local] = true
					others = append(others, a.Local)
				}
			}
		}
	}
	sort.Strings(others)
	for _, o := range others {
		cands = append(cands, key{keyAttr, o})
	}
	for _, k := range cands {
		if k.unique(p) && k.unique(c) {
			return k
		}
	}
	return key{kind: keyPos}
}

func (k key) unique(ns []*xmldoc.Node) bool {
	seen := map[string]bool{}
	for _, n := range ns {
		v, ok := k.value(n)
		if !ok || seen[v] {
			return false
		}
		seen[v] = true
	}
	return true
}

// literal writes s as an XPath string literal.
func literal(s string) string {
	switch {
	case !strings.Contains(s, "'"):
		return "'" + s + "'"
	case !strings.Contains(s, `"`):
		return `"` + s + `"`
	}
	parts := strings.Split(s, "'")
	for i, p := range parts {
		parts[i] = "'" + p + "'"
	}
	return "concat(" + strings.Join(parts, `, "'", `) + ")"
}

// step is the location step selecting n among its siblings with key k; pos is its 1-based
// position among same-named siblings (for keyPos).
func (d *xmlDiffer) step(n *xmldoc.Node, k key, pos int) string {
	s := d.qname(n)
	switch k.kind {
	case keyAttr:
		v, _ := k.value(n)
		return s + "[@" + k.local + "=" + literal(v) + "]"
	case keyChild:
		v, _ := k.value(n)
		child := k.local
		if n.Space != "" {
			child = d.prefix(n.Space, n.Prefix) + ":" + child
		}
		return s + "[" + child + "=" + literal(v) + "]"
	case keyPos:
		return fmt.Sprintf("%s[%d]", s, pos)
	}
	return s
}

// normText collapses runs of whitespace and trims: whitespace-only differences inside text are
// not differences.
func normText(s string) string { return strings.Join(strings.Fields(s), " ") }

// directText is the text directly inside n (comments skipped), normalised.
func directText(n *xmldoc.Node) string {
	var b strings.Builder
	for _, c := range n.Children {
		if c.Kind == xmldoc.TextNode || c.Kind == xmldoc.CDataNode {
			b.WriteString(c.Data)
			b.WriteByte(' ')
		}
	}
	return normText(b.String())
}

// comments returns the normalised comments directly inside n.
func comments(n *xmldoc.Node) []string {
	var out []string
	for _, c := range n.Children {
		if c.Kind == xmldoc.CommentNode {
			out = append(out, normText(c.Data))
		}
	}
	return out
}

// Canonical returns an element tree as a string for comparison: names with namespace URIs,
// attributes sorted, text normalised, comments, processing instructions and namespace
// declarations left out.
func Canonical(n *xmldoc.Node) string {
	var b strings.Builder
	canon(&b, n)
	return b.String()
}

func canon(b *strings.Builder, n *xmldoc.Node) {
	b.WriteString("<{" + n.Space + "}" + n.Local)
	var attrs []string
	for _, a := range n.Attrs {
		if !a.IsNamespaceDecl() {
			attrs = append(attrs, fmt.Sprintf(" {%s}%s=%q", a.Space, a.Local, a.Data))
		}
	}
	sort.Strings(attrs)
	b.WriteString(strings.Join(attrs, ""))
	b.WriteString(">")
	var text strings.Builder
	flush := func() {
		if t := normText(text.String()); t != "" {
			fmt.Fprintf(b, "%q", t)
		}
		text.Reset()
	}
	for _, c := range n.Children {
		switch c.Kind {
		case xmldoc.TextNode, xmldoc.CDataNode:
			text.WriteString(c.Data)
			text.WriteByte(' ')
		case xmldoc.ElementNode:
			flush()
			canon(b, c)
		}
	}
	flush()
	b.WriteString("</>")
}

// XMLSecrets returns the values a document holds under secret names: the text of secret
// elements and the values of secret attributes.
func XMLSecrets(d *xmldoc.Document) []string {
	var out []string
	var walk func(n *xmldoc.Node)
	walk = func(n *xmldoc.Node) {
		for _, a := range n.Attrs {
			if !a.IsNamespaceDecl() && secretAttr(n, a) && secretValue(a.Data) {
				out = append(out, a.Data)
			}
		}
		if es := n.Elements(); len(es) == 0 && secretElement(n) {
			if v := strings.TrimSpace(n.Value()); secretValue(v) {
				out = append(out, v)
			}
		}
		for _, c := range n.Elements() {
			walk(c)
		}
	}
	if r := d.RootElement(); r != nil {
		walk(r)
	}
	return out
}

// secretElement reports whether an element's text is a secret: its name says so, or its
// name or key attribute names a secret (<Property name="Password">).
func secretElement(n *xmldoc.Node) bool {
	if SecretName(n.Local) {
		return true
	}
	for _, k := range []string{"name", "key", "id"} {
		if a := n.Attr("", k); a != nil && SecretName(a.Data) {
			return true
		}
	}
	return false
}

// secretAttr reports whether attribute a of element el holds a secret.
func secretAttr(el, a *xmldoc.Node) bool {
	if SecretName(a.Local) {
		return true
	}
	return a.Local == "value" && a.Space == "" && secretElement(el)
}

// context names the nearest keyed ancestor-or-self of n (its name attribute or name child),
// for variable names.
func (d *xmlDiffer) context(n *xmldoc.Node) string {
	for e := n; e != nil && e.Kind == xmldoc.ElementNode; e = e.Parent {
		for _, k := range []key{{keyAttr, "name"}, {keyChild, "name"}, {keyChild, "id"}, {keyAttr, "id"}} {
			if v, ok := k.value(e); ok && e != n {
				return v
			}
		}
	}
	return d.label
}

// secretVar declares the sensitive variable for the secret value of n (an element, or an
// attribute) at XPath where, and returns its name.
func (d *xmlDiffer) secretVar(n *xmldoc.Node, where, value string) string {
	what := n.Local
	el := n
	if n.Kind == xmldoc.AttributeNode {
		el = n.Parent
		if n.Local == "value" {
			what = el.Local
		}
	}
	if a := el.Attr("", "name"); a != nil && SecretName(a.Data) {
		what = a.Data
	}
	base := d.context(el) + "_" + what
	return d.vs.add(base, value, fmt.Sprintf("%s in %s (%s)", what, d.label, where), true)
}

// plainExpr returns an expression for a value (of n, at XPath where) that is not itself a
// secret: a literal, unless a secret's value appears in it, in which case it becomes a variable
// too (not written in the playbook).
func (d *xmlDiffer) plainExpr(n *xmldoc.Node, where, value string) Expr {
	if d.vs.leaks(value) {
		base := d.context(n) + "_" + n.Local
		name := d.vs.add(base, value, fmt.Sprintf("%s in %s (%s): contains a secret's value, so it is not written in the playbook", n.Local, d.label, where), false)
		return Ref(name)
	}
	return Lit(value)
}

// valueExpr is the expression for an element's text or an attribute's value, at XPath where.
func (d *xmlDiffer) valueExpr(n *xmldoc.Node, where, value string, secret bool) Expr {
	if secret && secretValue(value) {
		return Ref(d.secretVar(n, where, value))
	}
	return d.plainExpr(n, where, value)
}

// element diffs matched elements p and c at XPath x.
func (d *xmlDiffer) element(p, c *xmldoc.Node, x string) {
	// Attributes.
	for _, ca := range c.Attrs {
		if ca.IsNamespaceDecl() {
			continue
		}
		pa := findAttr(p, ca)
		if pa != nil && pa.Data == ca.Data {
			continue
		}
		d.blocks = append(d.blocks, Block{Type: "set_attr", Args: []Arg{
			{Name: "xpath", Expr: Lit(x)}, {Name: "name", Expr: Lit(ca.Name())},
			{Name: "value", Expr: d.valueExpr(ca, x+"/@"+ca.Name(), ca.Data, secretAttr(c, ca))},
		}})
	}
	for _, pa := range p.Attrs {
		if pa.IsNamespaceDecl() || findAttr(c, pa) != nil {
			continue
		}
		d.blocks = append(d.blocks, Block{Type: "remove", Args: []Arg{{Name: "xpath", Expr: Lit(x + "/@" + d.qname(pa))}}})
	}
	if strings.Join(nsDecls(p), " ") != strings.Join(nsDecls(c), " ") {
		d.notes = append(d.notes, fmt.Sprintf("%s: namespace declarations differ: not patched", x))
	}
	pe, ce := p.Elements(), c.Elements()
	pt, ct := directText(p), directText(c)
	if len(pe) == 0 && len(ce) == 0 {
		if pt != ct {
			d.blocks = append(d.blocks, Block{Type: "set_text", Args: []Arg{
				{Name: "xpath", Expr: Lit(x)},
				{Name: "value", Expr: d.valueExpr(c, x, strings.TrimSpace(c.Value()), secretElement(c))},
			}})
		}
		d.commentNote(p, c, x)
		return
	}
	if pt != ct {
		d.replaceChildren(c, x)
		return
	}
	mark := d.mark()
	if !d.children(p, c, pe, ce, x) || d.tooMany(mark, len(ce)) {
		d.rollback(mark)
		d.replaceChildren(c, x)
		return
	}
	d.commentNote(p, c, x)
}

// rewriteMin is the number of operations under one element from which, when they also outnumber
// half its child elements, its content is replaced as a whole instead: a subtree changed that
// much (another user store, say) reads better as its new content.
const rewriteMin = 12

// mark records how far the output got, to roll an element's operations back.
type mark struct{ blocks, vars, notes int }

func (d *xmlDiffer) mark() mark {
	return mark{len(d.blocks), len(d.vs.res.Variables), len(d.notes)}
}

func (d *xmlDiffer) tooMany(m mark, children int) bool {
	n := len(d.blocks) - m.blocks
	return n >= rewriteMin && 2*n > children
}

func (d *xmlDiffer) rollback(m mark) {
	for _, v := range d.vs.res.Variables[m.vars:] {
		delete(d.vs.used, v.Name)
		delete(d.vs.res.Values, v.Name)
	}
	d.blocks, d.vs.res.Variables, d.notes = d.blocks[:m.blocks], d.vs.res.Variables[:m.vars], d.notes[:m.notes]
}

func (d *xmlDiffer) commentNote(p, c *xmldoc.Node, x string) {
	if n := commentDiff(comments(p), comments(c)); n != "" {
		d.notes = append(d.notes, x+": "+n)
	}
}

// commentDiff describes how two lists of comments differ ("" when they do not): the comments
// only one side has, shortened.
func commentDiff(p, c []string) string {
	if strings.Join(p, "\x00") == strings.Join(c, "\x00") {
		return ""
	}
	count := map[string]int{}
	for _, s := range p {
		count[s]++
	}
	var added []string
	for _, s := range c {
		if count[s] > 0 {
			count[s]--
		} else {
			added = append(added, s)
		}
	}
	var removed []string
	for _, s := range p {
		if count[s] > 0 {
			count[s]--
			removed = append(removed, s)
		}
	}
	var parts []string
	if len(removed) > 0 {
		parts = append(parts, fmt.Sprintf("%d removed (%s)", len(removed), short(removed)))
	}
	if len(added) > 0 {
		parts = append(parts, fmt.Sprintf("%d added (%s)", len(added), short(added)))
	}
	if len(parts) == 0 {
		parts = append(parts, "reordered")
	}
	return "comments differ, not patched: " + strings.Join(parts, ", ")
}

// short quotes the first comment, cut to 50 characters, and says how many more there are.
func short(list []string) string {
	s := list[0]
	if r := []rune(s); len(r) > 50 {
		s = string(r[:50]) + "..."
	}
	out := fmt.Sprintf("%q", s)
	if len(list) > 1 {
		out += fmt.Sprintf(" and %d more", len(list)-1)
	}
	return out
}

func nsDecls(n *xmldoc.Node) []string {
	var out []string
	for _, a := range n.Attrs {
		if a.IsNamespaceDecl() {
			out = append(out, a.Name()+"="+a.Data)
		}
	}
	sort.Strings(out)
	return out
}

func findAttr(el, a *xmldoc.Node) *xmldoc.Node {
	for _, b := range el.Attrs {
		if !b.IsNamespaceDecl() && b.Local == a.Local && b.Space == a.Space && (a.Space != "" || b.Prefix == a.Prefix) {
			return b
		}
	}
	return nil
}

// group is the elements of one name under one parent, on both sides.
type group struct {
	p, c []*xmldoc.Node
	k    key
}

func groupName(n *xmldoc.Node) string { return "{" + n.Space + "}" + n.Local }

// children diffs the child elements of matched p and c. It returns false when they cannot be
// matched up well (a group without key whose size changed, or reordered elements); the caller
// then replaces the content as a whole.
func (d *xmlDiffer) children(p, c *xmldoc.Node, pe, ce []*xmldoc.Node, x string) bool {
	groups := map[string]*group{}
	for _, n := range pe {
		g := groups[groupName(n)]
		if g == nil {
			g = &group{}
			groups[groupName(n)] = g
		}
		g.p = append(g.p, n)
	}
	for _, n := range ce {
		g := groups[groupName(n)]
		if g == nil {
			g = &group{}
			groups[groupName(n)] = g
		}
		g.c = append(g.c, n)
	}
	match := map[*xmldoc.Node]*xmldoc.Node{} // configured -> pristine
	matched := map[*xmldoc.Node]bool{}       // pristine
	pos := map[*xmldoc.Node]int{}
	for _, g := range groups {
		g.k = chooseKey(g.p, g.c)
		switch g.k.kind {
		case keyNone:
			if len(g.p) == 1 && len(g.c) == 1 {
				match[g.c[0]] = g.p[0]
				matched[g.p[0]] = true
			}
		case keyPos:
			if len(g.c) == 0 {
				continue // all removed below, with one remove
			}
			if len(g.p) != len(g.c) {
				return false
			}
			for i := range g.c {
				match[g.c[i]] = g.p[i]
				matched[g.p[i]] = true
				pos[g.c[i]] = i + 1
			}
		default:
			byKey := map[string]*xmldoc.Node{}
			for _, n := range g.p {
				v, _ := g.k.value(n)
				byKey[v] = n
			}
			for _, n := range g.c {
				v, _ := g.k.value(n)
				if pn := byKey[v]; pn != nil {
					match[n] = pn
					matched[pn] = true
				}
			}
		}
	}
	// The matched elements must keep their order.
	index := map[*xmldoc.Node]int{}
	for i, n := range pe {
		index[n] = i
	}
	last := -1
	for _, n := range ce {
		if pn, ok := match[n]; ok {
			if index[pn] < last {
				return false
			}
			last = index[pn]
		}
	}
	// An added element alone of its name still gets a key predicate when it has one, so that
	// its ensure keeps finding it if the product later ships another of its kind.
	own := map[*xmldoc.Node]key{}
	for _, n := range ce {
		g := groups[groupName(n)]
		if _, ok := match[n]; ok || g.k.kind != keyNone {
			continue
		}
		for _, k := range []key{{keyAttr, "name"}, {keyChild, "name"}, {keyChild, "id"}, {keyAttr, "path"}, {keyAttr, "id"}, {keyAttr, "key"}} {
			if _, ok := k.value(n); ok {
				own[n] = k
				break
			}
		}
	}
	stepOf := func(n *xmldoc.Node) string {
		if k, ok := own[n]; ok {
			return x + "/" + d.step(n, k, 0)
		}
		g := groups[groupName(n)]
		return x + "/" + d.step(n, g.k, pos[n])
	}
	for _, n := range pe {
		if matched[n] {
			continue
		}
		g := groups[groupName(n)]
		if g.k.kind == keyPos {
			if n == g.p[0] {
				// Every element of a name without key is gone: remove them all at once.
				d.blocks = append(d.blocks, Block{Type: "remove", Args: []Arg{
					{Name: "xpath", Expr: Lit(x + "/" + d.qname(n))}, {Name: "count", Expr: Expr{{Raw: strconv.Itoa(len(g.p))}}}}})
			}
			continue
		}
		d.blocks = append(d.blocks, Block{Type: "remove", Args: []Arg{{Name: "xpath", Expr: Lit(x + "/" + d.step(n, g.k, 0))}}})
	}
	for i, n := range ce {
		if pn, ok := match[n]; ok {
			d.element(pn, n, stepOf(n))
			continue
		}
		args := []Arg{{Name: "xpath", Expr: Lit(stepOf(n))}}
		later := false
		for _, m := range ce[i+1:] {
			if _, ok := match[m]; ok {
				later = true
			}
		}
		if later {
			if i == 0 {
				if p.Parent.Kind != xmldoc.DocumentNode {
					return false // ensure cannot insert before a sibling: replace the content
				}
				d.notes = append(d.notes, fmt.Sprintf("%s: comes first in the configured file; ensure puts it last", stepOf(n)))
			} else {
				args = append(args, Arg{Name: "after", Expr: Lit(stepOf(ce[i-1]))})
			}
		}
		args = append(args, Arg{Name: "fragment", Expr: d.fragment(n, stepOf(n), n.Start, n.End)})
		d.blocks = append(d.blocks, Block{Type: "ensure", Args: args})
	}
	return true
}

// replaceChildren replaces the content of the element at x with c's.
func (d *xmlDiffer) replaceChildren(c *xmldoc.Node, x string) {
	if c.SelfClosing {
		d.blocks = append(d.blocks, Block{Type: "replace_children", Args: []Arg{{Name: "xpath", Expr: Lit(x)}, {Name: "fragment", Expr: Lit("")}}})
		return
	}
	d.blocks = append(d.blocks, Block{Type: "replace_children", Args: []Arg{
		{Name: "xpath", Expr: Lit(x)}, {Name: "fragment", Expr: d.fragment(c, x, c.TagEnd, c.CloseStart)},
	}})
}

// fragment returns the configured text of element top (at XPath x) from start to end (the
// element, or its content) as an expression: secret values become variable references, line
// endings LF, and the indentation of the element's line is removed.
func (d *xmlDiffer) fragment(top *xmldoc.Node, x string, start, end int) Expr {
	where := func(n *xmldoc.Node) string { return x + strings.TrimPrefix(n.Path(), top.Path()) }
	type span struct {
		s, e int
		v    string
	}
	var spans []span
	var walk func(n *xmldoc.Node)
	walk = func(n *xmldoc.Node) {
		for _, a := range n.Attrs {
			if a.IsNamespaceDecl() || a.ValStart < start || a.ValEnd > end || a.ValEnd == a.ValStart {
				continue
			}
			if secretAttr(n, a) && secretValue(a.Data) {
				spans = append(spans, span{a.ValStart, a.ValEnd, d.secretVar(a, where(a), a.Data)})
			} else if e := d.plainExpr(a, where(a), a.Data); !e.IsLiteral() {
				spans = append(spans, span{a.ValStart, a.ValEnd, e[0].Var})
			}
		}
		secret := secretElement(n)
		for _, ch := range n.Children {
			switch ch.Kind {
			case xmldoc.ElementNode:
				walk(ch)
			case xmldoc.TextNode, xmldoc.CDataNode:
				s, e := ch.ValStart, ch.ValEnd
				if ch.Kind == xmldoc.TextNode {
					s, e = ch.Start, ch.End
				}
				raw := d.c.Text[s:e]
				lead := len(raw) - len(strings.TrimLeft(raw, " \t\r\n"))
				s, e = s+lead, s+len(strings.TrimRight(raw, " \t\r\n"))
				if s >= e || s < start || e > end {
					continue
				}
				v := strings.TrimSpace(ch.Data)
				if secret && secretValue(v) {
					spans = append(spans, span{s, e, d.secretVar(n, where(n), v)})
					continue
				}
				if ex := d.plainExpr(n, where(n), v); !ex.IsLiteral() {
					spans = append(spans, span{s, e, ex[0].Var})
				}
			}
		}
	}
	walk(top)
	sort.Slice(spans, func(i, j int) bool { return spans[i].s < spans[j].s })
	indent := ""
	if ls := strings.LastIndexByte(d.c.Text[:top.Start], '\n') + 1; strings.Trim(d.c.Text[ls:top.Start], " \t") == "" {
		indent = d.c.Text[ls:top.Start]
	}
	lit := func(s string) string {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		if indent != "" {
			s = strings.ReplaceAll(s, "\n"+indent, "\n")
		}
		return s
	}
	var out Expr
	pos := start
	for _, sp := range spans {
		if sp.s < pos {
			continue
		}
		out = append(out, Part{Lit: lit(d.c.Text[pos:sp.s])}, Part{Var: sp.v})
		pos = sp.e
	}
	out = append(out, Part{Lit: lit(d.c.Text[pos:end])})
	if start == top.TagEnd {
		// Element content: drop the line break and indentation before the closing tag.
		last := &out[len(out)-1]
		last.Lit = strings.TrimRight(last.Lit, " \t\n")
		first := &out[0]
		first.Lit = strings.TrimLeft(first.Lit, "\n")
	}
	return out
}
