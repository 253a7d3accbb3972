package adopt

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// ops converts an xml_patch task into xmldoc operations, variables taken from vals.
func ops(t *testing.T, task *Task, vals map[string]string) ([]xmldoc.Op, map[string]string) {
	t.Helper()
	ns := map[string]string{}
	for _, a := range task.Args {
		if a.Name == "namespaces" {
			for _, kv := range a.Map {
				ns[kv.Key] = kv.Value.Eval(vals)
			}
		}
	}
	var out []xmldoc.Op
	for _, b := range task.Blocks {
		op := xmldoc.Op{Kind: xmldoc.OpKind(b.Type)}
		for _, a := range b.Args {
			v := a.Expr.Eval(vals)
			switch a.Name {
			case "xpath":
				op.XPath = v
			case "name":
				op.Name = v
			case "value":
				op.Value = v
			case "fragment":
				op.Fragment = v
			case "after":
				op.After = v
			case "count":
				n, err := strconv.Atoi(a.Expr[0].Raw)
				if err != nil {
					t.Fatal(err)
				}
				op.Count = n
			default:
				t.Fatalf("unknown argument %s", a.Name)
			}
		}
		out = append(out, op)
	}
	return out, ns
}

// mutate makes n random edits to a document with the xmldoc API: new text, a new attribute, a
// removed element, a copy of an element under a new name.
func mutate(t *testing.T, d *xmldoc.Document, r *rand.Rand, n int) *xmldoc.Document {
	t.Helper()
	for i := 0; i < n; i++ {
		var els []*xmldoc.Node
		var walk func(e *xmldoc.Node)
		walk = func(e *xmldoc.Node) {
			for _, c := range e.Elements() {
				els = append(els, c)
				walk(c)
			}
		}
		walk(d.RootElement())
		if len(els) == 0 {
			return d
		}
		el := els[r.Intn(len(els))]
		var edits []xmldoc.Edit
		var err error
		switch r.Intn(4) {
		case 0:
			if len(el.Elements()) > 0 {
				continue
			}
			edits, err = d.SetText(el, fmt.Sprintf("value-%d", r.Intn(1000)))
		case 1:
			edits, err = d.SetAttr(el, "adopted", fmt.Sprintf("a%d", r.Intn(1000)))
		case 2:
			edits, err = d.Remove(el)
		case 3:
			frag := d.Text[el.Start:el.End]
			if a := el.Attr("", "name"); a != nil {
				frag = frag[:a.ValStart-el.Start] + fmt.Sprintf("copy%d", i) + frag[a.ValEnd-el.Start:]
			} else {
				frag = "<" + el.Name() + fmt.Sprintf(" name=\"copy%d\"", i) + frag[len(el.Name())+1:]
			}
			edits, err = d.Ensure(el.Parent, nil, el, frag)
		}
		if err != nil {
			continue
		}
		nd, err := d.Apply(edits)
		if err != nil {
			continue
		}
		d = nd
	}
	return d
}

// TestRandomEdits makes random edits to the reference XML files and checks that the adopted
// operations, applied to the pristine file, give the edited document, and change nothing when
// applied again.
func TestRandomEdits(t *testing.T) {
	maxEdits := 6
	if n, err := strconv.Atoi(os.Getenv("ADOPT_EDITS")); err == nil {
		maxEdits = n
	}
	seed := int64(11)
	if s, err := strconv.ParseInt(os.Getenv("ADOPT_SEED"), 10, 64); err == nil {
		seed = s
	}
	r := rand.New(rand.NewSource(seed))
	seen := map[string]bool{}
	for _, p := range pairs() {
		if seen[p.pristine] || Kind(p.product, nil) != KindXML {
			continue
		}
		seen[p.pristine] = true
		pristine, _ := p.load(t)
		for round := 0; round < 20; round++ {
			pd, err := xmldoc.Parse(pristine)
			if err != nil {
				t.Fatal(err)
			}
			cd := mutate(t, pd, r, 1+r.Intn(maxEdits))
			configured, err := cd.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			res, err := File(p.product, pristine, configured, Options{})
			if err != nil {
				t.Fatalf("%s round %d: %v", p.pristine, round, err)
			}
			want := Canonical(cd.RootElement())
			firstAtRoot := false
			for _, n := range res.Notes {
				firstAtRoot = firstAtRoot || strings.Contains(n, "comes first in the configured file")
			}
			if len(res.Tasks) == 0 {
				if Canonical(pd.RootElement()) != want {
					t.Fatalf("%s round %d: no task for a changed document", p.pristine, round)
				}
				continue
			}
			list, ns := ops(t, res.Tasks[0], res.Values)
			got, _, err := xmldoc.ApplyOps(pd, list, ns)
			if err != nil {
				t.Fatalf("%s round %d: %v\n%s", p.pristine, round, err, res.HCL())
			}
			if c := Canonical(got.RootElement()); c != want && !firstAtRoot {
				// (A new first child of the root element is inserted last, with a note: ensure
				// has no "before".)
				t.Fatalf("%s round %d: applied document differs\n%s", p.pristine, round, res.HCL())
			}
			again, _, err := xmldoc.ApplyOps(got, list, ns)
			if err != nil || again.Text != got.Text {
				t.Fatalf("%s round %d: second apply changes the document (%v)\n%s", p.pristine, round, err, res.HCL())
			}
		}
	}
}
