package engine

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Playbook is a parsed playbook: variables, locals and plays in file order. Expressions are kept
// unevaluated; they are evaluated per host when planning.
type Playbook struct {
	// File is the playbook's path; Dir is its directory, against which file() paths resolve.
	File string
	Dir  string
	// Variables in declaration order.
	Variables []*Variable
	// Locals in declaration order.
	Locals []*hcl.Attribute
	Plays  []*Play
}

// Variable is a declared input.
type Variable struct {
	Name        string
	Type        cty.Type
	Default     cty.Value // cty.NilVal when required
	Description string
	Sensitive   bool
	Validations []Validation
	DeclRange   hcl.Range
}

// Validation is a rule a variable's value must satisfy.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage string
}

// Play is an ordered list of tasks run on a set of hosts.
type Play struct {
	Name      string
	Hosts     hcl.Expression
	Serial    hcl.Expression
	Tags      hcl.Expression
	Tasks     []*Task
	DeclRange hcl.Range
}

// Task is one task block: a module and its unevaluated arguments.
type Task struct {
	Module string
	// Name is the task's name, prefixed with "include / " for tasks of a component.
	Name  string
	Play  *Play
	Index int // position in the play
	scope *scope
	// when are the conditions of the includes the task came through, each in its caller's scope.
	when      []scopedExpr
	mod       Module
	schema    Schema
	common    map[string]*hcl.Attribute
	attrs     map[string]*hcl.Attribute
	blocks    []*taskBlock
	DeclRange hcl.Range
	// ID identifies the task in the run: "play/task".
	ID string
}

type taskBlock struct {
	typ    string
	attrs  map[string]*hcl.Attribute
	schema BlockSchema
	rng    hcl.Range
}

var playbookSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "play", LabelNames: []string{"name"}},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}},
}

var playSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "hosts", Required: true}, {Name: "serial"}, {Name: "tags"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "task", LabelNames: []string{"module", "name"}},
		{Type: "include", LabelNames: []string{"name"}},
	},
}

// LoadPlaybook parses the playbook at path and checks its structure against the registry:
// unknown modules, unknown or missing arguments and duplicate names are located diagnostics.
func LoadPlaybook(p *hclparse.Parser, path string, reg *Registry) (*Playbook, hcl.Diagnostics) {
	f, diags := p.ParseHCLFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	pb := &Playbook{File: path, Dir: filepath.Dir(abs)}
	root := &scope{dir: pb.Dir, file: path}
	content, d := f.Body.Content(playbookSchema)
	diags = append(diags, d...)
	seenVar := map[string]bool{}
	seenPlay := map[string]bool{}
	seenLocal := map[string]bool{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "variable":
			v, d := decodeVariable(b)
			diags = append(diags, d...)
			if v == nil {
				continue
			}
			if seenVar[v.Name] {
				diags = append(diags, errAt(b.DefRange, "Duplicate variable", fmt.Sprintf("Variable %q is declared twice.", v.Name)))
				continue
			}
			seenVar[v.Name] = true
			pb.Variables = append(pb.Variables, v)
		case "locals":
			attrs, d := b.Body.JustAttributes()
			diags = append(diags, d...)
			list := make([]*hcl.Attribute, 0, len(attrs))
			for _, a := range attrs {
				list = append(list, a)
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
			for _, a := range list {
				if seenLocal[a.Name] {
					diags = append(diags, errAt(a.NameRange, "Duplicate local", fmt.Sprintf("Local %q is declared twice.", a.Name)))
					continue
				}
				seenLocal[a.Name] = true
				pb.Locals = append(pb.Locals, a)
			}
		case "play":
			pl, d := decodePlay(p, b, reg, root)
			diags = append(diags, d...)
			if pl == nil {
				continue
			}
			if seenPlay[pl.Name] {
				diags = append(diags, errAt(b.DefRange, "Duplicate play", fmt.Sprintf("Play %q is declared twice; play names identify tasks in the journal.", pl.Name)))
				continue
			}
			seenPlay[pl.Name] = true
			pb.Plays = append(pb.Plays, pl)
		}
	}
	return pb, diags
}

func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	content, diags := b.Body.Content(variableSchema)
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	if !hclIdent(v.Name) {
		diags = append(diags, errAt(b.LabelRanges[0], "Invalid variable name", "A name must start with a letter and contain only letters, digits, underscores and dashes."))
		return nil, diags
	}
	if a, ok := content.Attributes["type"]; ok {
		t, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type = t
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeStatic(a, cty.String, func(val cty.Value) { v.Description = val.AsString() })...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, decodeStatic(a, cty.Bool, func(val cty.Value) { v.Sensitive = val.True() })...)
	}
	if a, ok := content.Attributes["default"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if !val.IsNull() {
				conv, err := convert.Convert(val, v.Type)
				if err != nil {
					diags = append(diags, errAt(a.Expr.Range(), "Invalid default value", fmt.Sprintf("The default of variable %q does not match its type: %s.", v.Name, err)))
				} else {
					val = conv
				}
			}
			v.Default = val
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(validationSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		val := Validation{Condition: vc.Attributes["condition"].Expr}
		diags = append(diags, decodeStatic(vc.Attributes["error_message"], cty.String, func(m cty.Value) { val.ErrorMessage = m.AsString() })...)
		ok := false
		for _, tr := range val.Condition.Variables() {
			if tr.RootName() == "var" && len(tr) > 1 {
				if at, isAttr := tr[1].(hcl.TraverseAttr); isAttr && at.Name == v.Name {
					ok = true
				}
			}
		}
		if !ok {
			diags = append(diags, errAt(val.Condition.Range(), "Invalid validation condition", fmt.Sprintf("The condition must refer to var.%s.", v.Name)))
		}
		v.Validations = append(v.Validations, val)
	}
	return v, diags
}

// decodeStatic evaluates a literal attribute (no variables) of the given type.
func decodeStatic(a *hcl.Attribute, t cty.Type, set func(cty.Value)) hcl.Diagnostics {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	conv, err := convert.Convert(val, t)
	if err != nil || conv.IsNull() {
		msg := "value is null"
		if err != nil {
			msg = err.Error()
		}
		return append(diags, errAt(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("Inappropriate value for attribute %q: %s.", a.Name, msg)))
	}
	set(conv)
	return diags
}

func decodePlay(p *hclparse.Parser, b *hcl.Block, reg *Registry, root *scope) (*Play, hcl.Diagnostics) {
	content, diags := b.Body.Content(playSchema)
	pl := &Play{Name: b.Labels[0], DeclRange: b.DefRange}
	if a, ok := content.Attributes["hosts"]; ok {
		pl.Hosts = a.Expr
	}
	if a, ok := content.Attributes["serial"]; ok {
		pl.Serial = a.Expr
	}
	if a, ok := content.Attributes["tags"]; ok {
		pl.Tags = a.Expr
	}
	tasks, d := decodeTasks(p, content.Blocks, reg, root, nil)
	diags = append(diags, d...)
	seen := map[string]bool{}
	for _, t := range tasks {
		if seen[t.Name] {
			diags = append(diags, errAt(t.DeclRange, "Duplicate task", fmt.Sprintf("Play %q already has a task named %q; task names identify changes in plans and the journal.", pl.Name, t.Name)))
			continue
		}
		seen[t.Name] = true
		t.Play = pl
		t.Index = len(pl.Tasks)
		t.ID = pl.Name + "/" + t.Name
		pl.Tasks = append(pl.Tasks, t)
	}
	return pl, diags
}

// decodeTasks decodes task and include blocks in order; includes expand in place.
func decodeTasks(p *hclparse.Parser, blocks hcl.Blocks, reg *Registry, sc *scope, stack []string) ([]*Task, hcl.Diagnostics) {
	var tasks []*Task
	var diags hcl.Diagnostics
	for _, b := range blocks {
		switch b.Type {
		case "task":
			t, d := decodeTask(b, reg)
			diags = append(diags, d...)
			if t != nil {
				t.scope = sc
				tasks = append(tasks, t)
			}
		case "include":
			inc, d := decodeInclude(p, b, reg, sc, stack)
			diags = append(diags, d...)
			tasks = append(tasks, inc...)
		}
	}
	return tasks, diags
}

func decodeTask(b *hcl.Block, reg *Registry) (*Task, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	t := &Task{Module: b.Labels[0], Name: b.Labels[1], DeclRange: b.DefRange}
	mod, ok := reg.Lookup(t.Module)
	if !ok {
		detail := fmt.Sprintf("There is no module %q.", t.Module)
		if s := suggest(t.Module, reg.Names()); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		detail += " `isaplay modules` lists them."
		return nil, append(diags, errAt(b.LabelRanges[0], "Unknown module", detail))
	}
	t.mod = mod
	t.schema = mod.Schema()
	content, d := b.Body.Content(t.schema.bodySchema(true))
	diags = append(diags, d...)
	t.common = map[string]*hcl.Attribute{}
	t.attrs = map[string]*hcl.Attribute{}
	for name, a := range content.Attributes {
		if isCommon(name) {
			t.common[name] = a
		} else {
			t.attrs[name] = a
		}
	}
	counts := map[string]int{}
	for _, nb := range content.Blocks {
		bs, _ := t.schema.Block(nb.Type)
		attrSchema := &hcl.BodySchema{}
		for _, a := range bs.Attrs {
			attrSchema.Attributes = append(attrSchema.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
		}
		bc, d := nb.Body.Content(attrSchema)
		diags = append(diags, d...)
		counts[nb.Type]++
		if bs.Max > 0 && counts[nb.Type] > bs.Max {
			diags = append(diags, errAt(nb.DefRange, "Too many blocks", fmt.Sprintf("At most %d %q block(s) are allowed here.", bs.Max, nb.Type)))
		}
		t.blocks = append(t.blocks, &taskBlock{typ: nb.Type, attrs: bc.Attributes, schema: bs, rng: nb.DefRange})
	}
	// Blocks keep their source order across types.
	sort.SliceStable(t.blocks, func(i, j int) bool { return t.blocks[i].rng.Start.Byte < t.blocks[j].rng.Start.Byte })
	return t, diags
}

func isCommon(name string) bool {
	for _, a := range CommonAttrs {
		if a.Name == name {
			return true
		}
	}
	return false
}

func suggest(given string, names []string) string {
	best, bestDist := "", 4
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func hclIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	return true
}

func errAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()}
}

// Task lookup by "play/task" id.
func (pb *Playbook) Task(id string) *Task {
	for _, pl := range pb.Plays {
		for _, t := range pl.Tasks {
			if t.ID == id {
				return t
			}
		}
	}
	return nil
}
