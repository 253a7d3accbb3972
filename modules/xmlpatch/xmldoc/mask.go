package xmldoc

import (
	"sort"
	"strings"
)

// SecretName reports whether an element or attribute name (or the value of a name attribute,
// as in <property name="password">) says it holds a secret: it contains password, passwd,
// passphrase, secret or token, or ends in pass or pwd (keystorePass), in any case.
func SecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "passwd", "passphrase", "secret", "token"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return strings.HasSuffix(n, "pass") || strings.HasSuffix(n, "pwd")
}

// secretSpans returns the text spans holding values under secret names: the text of elements
// named so (or with a name/key attribute naming a secret) and the values of attributes named so.
func (d *Document) secretSpans() [][2]int {
	var spans [][2]int
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, a := range n.Attrs {
			if !a.IsNamespaceDecl() && SecretName(a.Local) && a.ValEnd > a.ValStart {
				spans = append(spans, [2]int{a.ValStart, a.ValEnd})
			}
		}
		if n.Kind == ElementNode {
			secret := SecretName(n.Local)
			for _, k := range []string{"name", "key", "id"} {
				if a := n.Attr("", k); a != nil && SecretName(a.Data) {
					secret = true
				}
			}
			if secret {
				if a := n.Attr("", "value"); a != nil && a.ValEnd > a.ValStart && !SecretName(a.Local) {
					spans = append(spans, [2]int{a.ValStart, a.ValEnd})
				}
				for _, c := range n.Children {
					if (c.Kind == TextNode || c.Kind == CDataNode) && !isBlank(c.Data) {
						// Mask the value, not the whitespace around it.
						s, e := c.ValStart, c.ValEnd
						for s < e && isSpace(rune(d.Text[s])) {
							s++
						}
						for e > s && isSpace(rune(d.Text[e-1])) {
							e--
						}
						spans = append(spans, [2]int{s, e})
					}
				}
			}
		}
		for _, c := range n.Children {
			if c.Kind == ElementNode {
				walk(c)
			}
		}
	}
	walk(d.Root)
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	return spans
}

// MaskSecrets returns the text with every value under a secret name (see SecretName) replaced
// by mask. Line breaks inside a masked value are kept, so line N of the result is line N of
// the text.
func (d *Document) MaskSecrets(mask string) string {
	spans := d.secretSpans()
	if len(spans) == 0 {
		return d.Text
	}
	var b strings.Builder
	last := 0
	for _, s := range spans {
		if s[0] < last {
			continue
		}
		b.WriteString(d.Text[last:s[0]])
		b.WriteString(mask)
		b.WriteString(strings.Repeat("\n", strings.Count(d.Text[s[0]:s[1]], "\n")))
		last = s[1]
	}
	b.WriteString(d.Text[last:])
	return b.String()
}
