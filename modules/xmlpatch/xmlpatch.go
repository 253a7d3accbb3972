// Package xmlpatch is the xml_patch task type: surgical XPath edits of an XML file (set text,
// set attribute, ensure an element, replace children, remove, assert) spliced into the file's
// original bytes, so that everything an edit does not touch stays byte-identical. The XML tree,
// XPath evaluation and splicing live in package xmldoc, which other modules can reuse.
package xmlpatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type name.
const Name = "xml_patch"

// Module implements the xml_patch task type.
type Module struct{}

var (
	_ engine.Module    = Module{}
	_ engine.Validator = Module{}
)

var (
	xpathAttr = func(what string) engine.Attr {
		return engine.Attr{Name: "xpath", Type: cty.String, Required: true, Description: what}
	}
	countAttr = engine.Attr{Name: "count", Type: cty.Number, Description: "Number of nodes the XPath must match (default exactly 1); every match is edited."}
	optAttr   = engine.Attr{Name: "optional", Type: cty.Bool, Description: "Zero matches is not an error: the edit is skipped (for elements only some versions have)."}
)

const example = `task "xml_patch" "hazelcast clustering" {
  path       = "${var.an_home}/repository/conf/axis2/axis2.xml"
  namespaces = { c = "http://wso2.org/projects/carbon/carbon.xml" }   # when the file needs them
  set_attr {
    xpath = "/axisconfig/clustering"
    name  = "enable"
    value = "true"
  }
  set_text {
    xpath = "/axisconfig/clustering/parameter[@name='membershipScheme']"
    value = "wka"
  }
  ensure {
    xpath    = "/datasources-configuration/datasources/datasource[name='WSO2UM_DB']"  # the key
    after    = "/datasources-configuration/datasources/datasource[name='WSO2_CARBON_DB']" # optional
    fragment = templatefile("datasource.xml.tmpl", { name = "WSO2UM_DB", db = "userdb" })
  }
  replace_children {
    xpath    = "/axisconfig/clustering/members"
    fragment = "<member><hostName>10.0.0.11</hostName><port>4000</port></member><member><hostName>10.0.0.12</hostName><port>4000</port></member>"
  }
  remove { xpath = "/axisconfig/clustering/parameter[@name='mcastTTL']" }
  assert {
    xpath = "/axisconfig/clustering/parameter[@name='AvoidInitiation']"
    value = "true"
  }
}
`

// Schema implements engine.Module.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Edits an XML file with XPath 1.0 operations applied in the order written, splicing each change into the original bytes: " +
			"comments, layout, attribute quoting, line endings, encoding and a missing final newline stay as they are.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, HostFile: true, Description: "The XML file to edit."},
			{Name: "namespaces", Type: cty.Map(cty.String), Description: "Prefixes the XPaths use, bound to namespace URIs. " +
				"A file with a default namespace (carbon.xml) needs one: unprefixed steps match only elements in no namespace."},
		},
		Blocks: []engine.BlockSchema{
			{Type: "set_text", Description: "Sets the text of the matched elements (or the value of matched attributes). The value is plain text; it is escaped.",
				Attrs: []engine.Attr{xpathAttr("Elements (or attributes) to set."),
					{Name: "value", Type: cty.String, Required: true, Description: "The new text, unescaped (& is written &amp;)."}, countAttr, optAttr}},
			{Type: "set_attr", Description: "Sets or adds an attribute of the matched elements; a change keeps the quote character, a new attribute follows a one-per-line layout.",
				Attrs: []engine.Attr{xpathAttr("Elements to set the attribute on, or the attribute itself (.../@name)."),
					{Name: "name", Type: cty.String, Description: "Attribute name (may use a prefix declared in the file); optional when the XPath selects the attribute."},
					{Name: "value", Type: cty.String, Required: true, Description: "The attribute value, unescaped."}, countAttr, optAttr}},
			{Type: "ensure", Description: "Makes an element exist, keyed by an XPath: inserted from the fragment when missing (indented like its siblings, in the default namespace of its parent), " +
				"updated in place to equal the fragment when present, never duplicated.",
				Attrs: []engine.Attr{xpathAttr("The key: matches the element when it exists (e.g. .../datasource[name='WSO2UM_DB'])."),
					{Name: "fragment", Type: cty.String, Required: true, Description: "The element as XML; it must match the key once inserted."},
					{Name: "after", Type: cty.String, Description: "XPath of the sibling to insert after; by default after the parent's last child."},
					{Name: "parent", Type: cty.String, Description: "XPath of the element to insert into; by default the key without its last step."},
					optAttr}},
			{Type: "replace_children", Description: "Makes the content of the matched elements equal to the fragment (compared as XML; no change when equal).",
				Attrs: []engine.Attr{xpathAttr("Elements whose children are replaced."),
					{Name: "fragment", Type: cty.String, Required: true, Description: "The new content as XML; a one-line fragment is laid out one element per line."}, countAttr, optAttr}},
			{Type: "remove", Description: "Removes the matched elements (with their line when alone on it) or attributes. Zero matches means already removed.",
				Attrs: []engine.Attr{xpathAttr("Nodes to remove."), countAttr,
					{Name: "optional", Type: cty.Bool, Description: "Accepted for symmetry: remove always allows zero matches (already removed)."}}},
			{Type: "assert", Description: "Fails the plan unless every matched node (or the XPath's value, for count() and such) equals value.",
				Attrs: []engine.Attr{xpathAttr("Nodes or expression to check."),
					{Name: "value", Type: cty.String, Required: true, Description: "The expected string value."}, countAttr, optAttr}},
		},
		Example: example,
	}
}

// private is what Check hands to Apply.
type private struct {
	path string
	data []byte
	fi   conn.FileInfo
	undo engine.FileUndo
}

// ops converts the task's blocks, in source order, into an edit list. It also teaches the
// redactor the escaped forms of sensitive values, as they appear in the file.
func ops(h *engine.Host, args *engine.Args) ([]xmldoc.Op, []*engine.Args, error) {
	var out []xmldoc.Op
	var blocks []*engine.Args
	for _, b := range args.Blocks() {
		op := xmldoc.Op{
			Kind:     xmldoc.OpKind(b.Type),
			XPath:    b.String("xpath"),
			Name:     b.String("name"),
			Value:    b.String("value"),
			Fragment: b.String("fragment"),
			After:    b.String("after"),
			Parent:   b.String("parent"),
			Count:    b.Int("count", 0),
			Optional: b.Bool("optional"),
		}
		if op.Count < 0 {
			return nil, nil, b.Errorf("count", "count must be at least 1")
		}
		if h != nil && b.Sensitive("value") && op.Value != "" {
			for _, q := range []byte{0, '"', '\''} {
				if esc, err := xmldoc.EscapeAttr(op.Value, q); err == nil {
					h.AddSecret(esc)
				}
			}
		}
		out = append(out, op)
		blocks = append(blocks, b)
	}
	return out, blocks, nil
}

// unknown reports whether some argument is only known after apply.
func unknown(args *engine.Args) bool {
	for _, n := range []string{"path", "namespaces"} {
		if !args.Value(n).IsWhollyKnown() {
			return true
		}
	}
	for _, b := range args.Blocks() {
		for _, n := range []string{"xpath", "name", "value", "fragment", "after", "parent", "count", "optional"} {
			if !b.Value(n).IsWhollyKnown() {
				return true
			}
		}
	}
	return false
}

// Check implements engine.Module: one read of the file, every operation applied in memory.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	p := args.String("path")
	if unknown(args) {
		return &engine.Change{Action: engine.ActionUpdate, Summary: "edit " + p, Unknown: "some arguments are known only after earlier tasks apply"}, nil
	}
	list, blocks, err := ops(h, args)
	if err != nil {
		return nil, err
	}
	fi, data, err := h.ReadFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if !fi.Exists {
		return nil, fmt.Errorf("%s: file does not exist", p)
	}
	if fi.Type != conn.TypeFile {
		return nil, fmt.Errorf("%s: not a regular file (%s)", p, fi.Type)
	}
	fp := engine.SHA256(data)
	e, _, err := editFile(ctx, p, data, fp, list, args.StringMap("namespaces"))
	if err != nil {
		var oe *xmldoc.OpError
		if errors.As(err, &oe) {
			return nil, opError(h, p, blocks, err)
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if e.inSync {
		return &engine.Change{Action: engine.ActionNone, Summary: fmt.Sprintf("%s in sync (%s checked)", p, plural(len(list), "operation")), Fingerprint: fp}, nil
	}
	if fi.SHA256 == "" {
		fi.SHA256 = fp
	}
	out := []byte(e.out) // each host's own bytes: nothing mutable is shared between hosts
	undo := h.NewFileUndo(fi, e.outSum)
	diff := h.Redact(e.diff)
	plus, minus := diffStat(diff)
	return &engine.Change{
		Action:      engine.ActionUpdate,
		Summary:     fmt.Sprintf("edit %s: %d of %s change it (+%d -%d lines)", p, e.changed, plural(len(list), "operation"), plus, minus),
		Diff:        diff,
		Fingerprint: fp,
		Undo:        engine.NewUndo(Name, undo),
		Effects:     []engine.Effect{{Kind: engine.EffectFile, Path: p, Data: out, Mode: uint32(fi.Mode), UID: fi.UID, GID: fi.GID}},
		Private:     &private{path: p, data: out, fi: fi, undo: undo},
	}, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func diffStat(diff string) (plus, minus int) {
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			plus++
		case strings.HasPrefix(l, "-"):
			minus++
		}
	}
	return plus, minus
}

// opError turns an edit-list error into one located at the block's xpath, naming the file,
// with values under secret names masked.
func opError(h *engine.Host, path string, blocks []*engine.Args, err error) error {
	var oe *xmldoc.OpError
	if !errors.As(err, &oe) {
		return fmt.Errorf("%s: %s", path, h.Redact(err.Error()))
	}
	msg := oe.Msg
	b := blocks[oe.Index]
	if oe.Mismatch {
		got, want := oe.Got, oe.Op.Value
		secret := b.Sensitive("value")
		if n := oe.Node; n != nil {
			secret = secret || xmldoc.SecretName(n.Local)
			if n.Kind == xmldoc.ElementNode {
				if a := n.Attr("", "name"); a != nil && xmldoc.SecretName(a.Data) {
					secret = true
				}
			}
		}
		if secret {
			got, want = engine.Mask, engine.Mask
		}
		where := "the value"
		if oe.Node != nil {
			where = oe.Node.Path()
		}
		msg = fmt.Sprintf("%s is %q, want %q", where, got, want)
	}
	return b.Errorf("xpath", "%s: %s %q: %s", path, oe.Op.Kind, oe.Op.XPath, h.Redact(msg))
}

// WritesOnlyFiles implements engine.FileWriter: Apply changes the host only through
// Host.WriteFile, so an apply may send its write with those of the tasks around it.
func (Module) WritesOnlyFiles() {}

// Apply implements engine.Module: back up the original, then write the new bytes atomically
// with the original mode and owner.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	pr, ok := c.Private.(*private)
	if !ok {
		return fmt.Errorf("xml_patch: change has no planned content; run Check first")
	}
	if err := h.WriteFile(ctx, pr.path, pr.data, conn.WriteOptions{Mode: pr.fi.Mode, UID: pr.fi.UID, GID: pr.fi.GID, Backup: pr.undo.Backup}); err != nil {
		return fmt.Errorf("%s: %w", pr.path, err)
	}
	return nil
}

// Revert implements engine.Module: restore the backed-up bytes, mode and owner.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var fu engine.FileUndo
	if err := u.Decode(&fu); err != nil {
		return fmt.Errorf("xml_patch: undo record: %w", err)
	}
	if err := h.RestoreFile(ctx, fu); err != nil {
		return fmt.Errorf("%s: restore: %w", fu.Path, err)
	}
	return nil
}

// Validate implements engine.Validator: every XPath compiles with the task's namespaces, every
// fragment is well-formed, and ensure can tell its parent.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	var diags hcl.Diagnostics
	known := func(b *engine.Args, n string) bool { v := b.Value(n); return !v.IsNull() && v.IsWhollyKnown() }
	ns := map[string]string{}
	if !args.Value("namespaces").IsWhollyKnown() {
		return nil
	}
	for k, v := range args.StringMap("namespaces") {
		ns[k] = v
	}
	for _, b := range args.Blocks() {
		for _, n := range []string{"xpath", "after", "parent"} {
			if !known(b, n) {
				continue
			}
			if _, err := xmldoc.Compile(b.String(n), ns); err != nil {
				diags = append(diags, b.Diag(n, "Invalid XPath", err.Error()))
			}
		}
		if b.Has("count") && b.Int("count", 0) < 1 {
			diags = append(diags, b.Diag("count", "Invalid count", "count must be a whole number of at least 1"))
		}
		if known(b, "fragment") {
			f, err := xmldoc.ParseFragment(b.String("fragment"), nil)
			if err == nil && b.Type == string(xmldoc.OpEnsure) {
				_, err = f.Element()
			}
			if err != nil {
				diags = append(diags, b.Diag("fragment", "Invalid XML fragment", err.Error()))
			}
		}
		if b.Type == string(xmldoc.OpEnsure) && !b.Has("parent") && known(b, "xpath") {
			if _, err := xmldoc.ParentXPath(b.String("xpath")); err != nil {
				diags = append(diags, b.Diag("xpath", "Cannot tell where to insert", err.Error()))
			}
		}
		if b.Type == string(xmldoc.OpSetAttr) && !b.Has("name") && known(b, "xpath") {
			x := b.String("xpath")
			if parent, err := xmldoc.ParentXPath(x); err == nil {
				step := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(x)[len(strings.TrimSpace(parent)):], "/"))
				if !strings.HasPrefix(step, "@") && !strings.HasPrefix(step, "attribute::") {
					diags = append(diags, b.Diag("xpath", "Missing attribute name", "set_attr needs name unless its XPath selects an attribute (.../@name)"))
				}
			}
		}
		if b.Type == string(xmldoc.OpSetAttr) && known(b, "name") {
			if _, err := xmldoc.EscapeAttr(b.String("name"), '"'); err != nil || strings.ContainsAny(b.String("name"), " \t\r\n=\"'<>&/") || b.String("name") == "" {
				diags = append(diags, b.Diag("name", "Invalid attribute name", fmt.Sprintf("%q is not an XML attribute name", b.String("name"))))
			}
		}
	}
	return diags
}
