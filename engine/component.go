package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// A component is a reusable group of tasks with typed inputs, in its own .hcl file (or a
// directory of them): `variable` blocks declare its inputs, `locals` and `task`/`include`
// blocks use them. A play uses it with an include block:
//
//	include "datasources" {
//	  source = "lib/carbon-datasources.hcl"
//	  home   = var.an_home            # one attribute per input variable
//	  when   = var.db_host != null    # optional: the whole component is skipped when false
//	}
//
// Its tasks run in place, named "datasources / <task>". Inside, var.* are the component's
// inputs (evaluated per host in the caller's scope), relative paths resolve against the
// component's own directory, and host, result and results are the same as the caller's.

// scope is where a task's expressions are evaluated: the playbook, or a component instance.
type scope struct {
	parent *scope
	// name is the include's label; file and dir locate the component.
	name      string
	file, dir string
	variables []*Variable
	locals    []*hcl.Attribute
	// inputs are the include block's attributes, evaluated in parent.
	inputs map[string]*hcl.Attribute
}

type scopedExpr struct {
	expr  hcl.Expression
	scope *scope
}

var componentSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "task", LabelNames: []string{"module", "name"}},
		{Type: "include", LabelNames: []string{"name"}},
	},
}

func decodeInclude(p *hclparse.Parser, b *hcl.Block, reg *Registry, parent *scope, stack []string) ([]*Task, hcl.Diagnostics) {
	attrs, diags := b.Body.JustAttributes()
	if diags.HasErrors() {
		return nil, diags
	}
	src, ok := attrs["source"]
	if !ok {
		return nil, append(diags, errAt(b.DefRange, "Missing source", "An include needs source = \"path to the component\"."))
	}
	srcVal, d := src.Expr.Value(nil)
	if d.HasErrors() || srcVal.Type() != cty.String {
		return nil, append(diags, errAt(src.Expr.Range(), "Invalid source", "source must be a literal path, relative to this file."))
	}
	path := srcVal.AsString()
	if !filepath.IsAbs(path) {
		path = filepath.Join(parent.dir, path)
	}
	files, err := componentFiles(path)
	if err != nil {
		return nil, append(diags, errAt(src.Expr.Range(), "Component not found", err.Error()))
	}
	abs, _ := filepath.Abs(path)
	for _, s := range stack {
		if s == abs {
			return nil, append(diags, errAt(src.Expr.Range(), "Component includes itself", fmt.Sprintf("%s is already being included (%s).", path, strings.Join(stack, " -> "))))
		}
	}
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	sc := &scope{parent: parent, name: b.Labels[0], file: path, dir: dir, inputs: map[string]*hcl.Attribute{}}
	var blocks hcl.Blocks
	for _, f := range files {
		hf, d := p.ParseHCLFile(f)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		content, d := hf.Body.Content(componentSchema)
		diags = append(diags, d...)
		for _, cb := range content.Blocks {
			switch cb.Type {
			case "variable":
				v, d := decodeVariable(cb)
				diags = append(diags, d...)
				if v != nil {
					sc.variables = append(sc.variables, v)
				}
			case "locals":
				la, d := cb.Body.JustAttributes()
				diags = append(diags, d...)
				for _, a := range la {
					sc.locals = append(sc.locals, a)
				}
			default:
				blocks = append(blocks, cb)
			}
		}
	}
	sort.Slice(sc.locals, func(i, j int) bool { return sc.locals[i].Range.Start.Byte < sc.locals[j].Range.Start.Byte })
	declared := map[string]*Variable{}
	for _, v := range sc.variables {
		declared[v.Name] = v
	}
	var when *hcl.Attribute
	for name, a := range attrs {
		switch name {
		case "source":
		case "when":
			when = a
		default:
			if _, ok := declared[name]; !ok {
				detail := fmt.Sprintf("The component %s has no input %q.", path, name)
				if s := suggest(name, keys(declared)); s != "" {
					detail += fmt.Sprintf(" Did you mean %q?", s)
				}
				diags = append(diags, errAt(a.NameRange, "Unsupported argument", detail))
				continue
			}
			sc.inputs[name] = a
		}
	}
	for _, v := range sc.variables {
		if _, given := sc.inputs[v.Name]; !given && v.Default == cty.NilVal {
			diags = append(diags, errAt(b.DefRange, "Missing input", fmt.Sprintf("The component %s needs input %q (no default).", path, v.Name)))
		}
	}
	tasks, d := decodeTasks(p, blocks, reg, sc, append(stack, abs))
	diags = append(diags, d...)
	for _, t := range tasks {
		t.Name = sc.name + " / " + t.Name
		if when != nil {
			t.when = append([]scopedExpr{{when.Expr, parent}}, t.when...)
		}
	}
	return tasks, diags
}

func componentFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	files, err := filepath.Glob(filepath.Join(path, "*.hcl"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("%s holds no .hcl files", path)
	}
	sort.Strings(files)
	return files, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// scopeValues computes a component scope's var and local objects for one host, from its inputs
// evaluated in the caller's context.
func scopeValues(sc *scope, parentCtx *hcl.EvalContext, fns map[string]function.Function, r *Redactor) (cty.Value, cty.Value, hcl.Diagnostics) {
	return someScopeValues(sc, nil, nil, func(e hcl.Expression) (cty.Value, hcl.Diagnostics) { return e.Value(parentCtx) }, fns, r)
}

// someScopeValues computes the variables of a component scope named in vars and the locals named
// in locals (every one of either when nil), its inputs evaluated by input.
func someScopeValues(sc *scope, vars, locals map[string]bool, input func(hcl.Expression) (cty.Value, hcl.Diagnostics), fns map[string]function.Function, r *Redactor) (cty.Value, cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	values := map[string]cty.Value{}
	for _, v := range sc.variables {
		if vars != nil && !vars[v.Name] {
			continue
		}
		var val cty.Value
		if a, ok := sc.inputs[v.Name]; ok {
			var d hcl.Diagnostics
			val, d = input(a.Expr)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
		} else {
			val = v.Default
		}
		if val.IsNull() && v.Default != cty.NilVal {
			val = v.Default
		}
		conv, err := convert.Convert(val, v.Type)
		if err != nil {
			rng := v.DeclRange
			if a, ok := sc.inputs[v.Name]; ok {
				rng = a.Expr.Range()
			}
			diags = append(diags, errAt(rng, "Invalid value for component input", fmt.Sprintf("Input %q of %s: %s.", v.Name, sc.file, err)))
			continue
		}
		if v.Sensitive && conv.IsWhollyKnown() {
			addDerivedSecrets(r, conv)
			conv = conv.Mark(SensitiveMark)
		}
		values[v.Name] = conv
	}
	varObj := objectOf(values)
	if diags.HasErrors() {
		return varObj, cty.EmptyObjectVal, diags
	}
	list := sc.locals
	if locals != nil {
		list = nil
		for _, a := range sc.locals {
			if locals[a.Name] {
				list = append(list, a)
			}
		}
	}
	localObj, d := evalLocalsIn(list, varObj, fns)
	return varObj, localObj, append(diags, d...)
}

// scopeRefs returns the variables and locals of component scope sc that expr, written in sc,
// needs (through the locals it reads); ok is false when it also reads anything else (host,
// results...), which only sc's full context holds.
func scopeRefs(expr hcl.Expression, sc *scope) (vars, locals map[string]bool, ok bool) {
	vars, locals = map[string]bool{}, map[string]bool{}
	byName := map[string]*hcl.Attribute{}
	for _, a := range sc.locals {
		byName[a.Name] = a
	}
	pending := []hcl.Expression{expr}
	for len(pending) > 0 {
		e := pending[0]
		pending = pending[1:]
		for _, tr := range e.Variables() {
			name := ""
			if len(tr) >= 2 {
				if at, isAttr := tr[1].(hcl.TraverseAttr); isAttr {
					name = at.Name
				}
			}
			switch {
			case name == "":
				return nil, nil, false
			case tr.RootName() == "var":
				vars[name] = true
			case tr.RootName() == "local":
				a, declared := byName[name]
				if !declared {
					return nil, nil, false
				}
				if !locals[name] {
					locals[name] = true
					pending = append(pending, a.Expr)
				}
			default:
				return nil, nil, false
			}
		}
	}
	return vars, locals, true
}

// secretSources maps each sensitive top-level argument of a task whose expression is exactly a
// variable (through component inputs) to that playbook variable's name.
func secretSources(t *Task, args *Args) map[string]string {
	var out map[string]string
	for name, a := range t.attrs {
		if !args.Sensitive(name) {
			continue
		}
		if v := rootVariable(a.Expr, t.scope); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}

// rootVariable follows an expression that is exactly var.NAME up through component inputs to
// the playbook variable it comes from; "" when it is anything else.
func rootVariable(expr hcl.Expression, sc *scope) string {
	name := varName(expr)
	if name == "" || sc == nil || sc.parent == nil {
		return name
	}
	in, ok := sc.inputs[name]
	if !ok {
		return ""
	}
	return rootVariable(in.Expr, sc.parent)
}
