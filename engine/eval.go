package engine

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

type commonArgs struct {
	when        bool
	whenUnknown bool
	become      bool
	timeout     time.Duration
	register    string
}

// evalCommon evaluates the common task arguments that depend on the host.
func evalCommon(t *Task, ctx *hcl.EvalContext) (commonArgs, hcl.Diagnostics) {
	c := commonArgs{when: true}
	var diags hcl.Diagnostics
	if a, ok := t.common["when"]; ok {
		v, d := evalAttr(a, cty.Bool, ctx)
		v, _ = v.UnmarkDeep() // a condition on a secret is not itself secret
		diags = append(diags, d...)
		switch {
		case d.HasErrors():
		case !v.IsKnown():
			c.whenUnknown = true
		case v.IsNull():
			diags = append(diags, errAt(a.Expr.Range(), "Invalid when", "when must be true or false, not null."))
		default:
			c.when = v.True()
		}
	}
	if a, ok := t.common["become"]; ok {
		v, d := evalAttr(a, cty.Bool, ctx)
		v, _ = v.UnmarkDeep()
		diags = append(diags, d...)
		c.become = !d.HasErrors() && v.IsKnown() && !v.IsNull() && v.True()
	}
	if a, ok := t.common["timeout"]; ok {
		v, d := evalAttr(a, cty.String, ctx)
		v, _ = v.UnmarkDeep()
		diags = append(diags, d...)
		if !d.HasErrors() && v.IsKnown() && !v.IsNull() {
			dur, err := time.ParseDuration(v.AsString())
			if err != nil || dur <= 0 {
				diags = append(diags, errAt(a.Expr.Range(), "Invalid timeout", fmt.Sprintf("%q is not a duration such as \"90s\" or \"5m\".", v.AsString())))
			}
			c.timeout = dur
		}
	}
	if a, ok := t.common["register"]; ok {
		v, d := evalAttr(a, cty.String, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			name, d := registerValue(a, v)
			diags = append(diags, d...)
			c.register = name
		}
	}
	for _, name := range []string{"run_once", "ignore_errors", "async"} {
		if a, ok := t.common[name]; ok {
			_, d := evalAttr(a, cty.Bool, ctx)
			diags = append(diags, d...)
		}
	}
	if a, ok := t.common["tags"]; ok {
		_, d := evalAttr(a, cty.List(cty.String), ctx)
		diags = append(diags, d...)
	}
	return c, diags
}

// evalAttr evaluates an attribute and converts it to t, with a located error on mismatch.
// Marks are kept.
func evalAttr(a *hcl.Attribute, t cty.Type, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	conv, d := convertAttr(a, v, t, ctx)
	return conv, append(diags, d...)
}

// registerValue is the register name that attribute a's value v (a string) names: "" while it
// is null or not known yet, and an error unless it is an identifier.
func registerValue(a *hcl.Attribute, v cty.Value) (string, hcl.Diagnostics) {
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() || v.IsNull() {
		return "", nil
	}
	if !hclIdent(v.AsString()) {
		return v.AsString(), hcl.Diagnostics{errAt(a.Expr.Range(), "Invalid register name", "A register name must be an identifier such as spark_status.")}
	}
	return v.AsString(), nil
}

// convertAttr converts v, the value of attribute a evaluated in ctx, to type t.
func convertAttr(a *hcl.Attribute, v cty.Value, t cty.Type, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	conv, err := convert.Convert(v, t)
	if err != nil {
		return cty.DynamicVal, hcl.Diagnostics{&hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
			Detail:  fmt.Sprintf("Inappropriate value for attribute %q: %s.", a.Name, err),
			Subject: a.Expr.Range().Ptr(), Expression: a.Expr, EvalContext: ctx,
		}}
	}
	return conv, nil
}

// evalArgs evaluates a task's module arguments and nested blocks for one host. Sensitive values
// are unmarked for the module and their strings added to the redactor.
func evalArgs(t *Task, ctx *hcl.EvalContext, r *Redactor, cf *ControllerFiles) (*Args, hcl.Diagnostics) {
	args := &Args{Type: t.Module, Task: t.Name, DefRange: t.DeclRange, attrs: map[string]argValue{}}
	dir := ""
	if t.scope != nil {
		dir = t.scope.dir
	}
	diags := evalAttrs(args, t.schema.Attrs, t.attrs, ctx, r, dir, cf)
	for _, b := range t.blocks {
		nb := &Args{Type: b.typ, Task: t.Name, DefRange: b.rng, attrs: map[string]argValue{}}
		diags = append(diags, evalAttrs(nb, b.schema.Attrs, b.attrs, ctx, r, dir, cf)...)
		args.blocks = append(args.blocks, nb)
	}
	return args, diags
}

func evalAttrs(args *Args, schema []Attr, attrs map[string]*hcl.Attribute, ctx *hcl.EvalContext, r *Redactor, dir string, cf *ControllerFiles) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, s := range schema {
		a, ok := attrs[s.Name]
		if !ok {
			if s.Default != cty.NilVal {
				args.attrs[s.Name] = argValue{val: s.Default}
			}
			continue
		}
		// Secrets are collected before conversion: converting an object with one sensitive
		// attribute to a map would mark the whole map and mask its other values too.
		raw, d := a.Expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		sensitive := false
		if raw.ContainsMarked() {
			unmarked, pvm := raw.UnmarkDeepWithPaths()
			for _, pm := range pvm {
				if _, ok := pm.Marks[SensitiveMark]; ok {
					sensitive = true
					if inner, err := pm.Path.Apply(unmarked); err == nil {
						addDerivedSecrets(r, inner)
					}
				}
			}
		}
		v, d := evalAttr(a, s.Type, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if v.IsNull() && s.Default != cty.NilVal {
			v = s.Default
		}
		if s.Required && v.IsNull() {
			diags = append(diags, errAt(a.Expr.Range(), "Missing required argument", fmt.Sprintf("The argument %q must not be null.", s.Name)))
			continue
		}
		if s.ControllerPath && v.IsWhollyKnown() && !v.IsNull() {
			v = controllerPaths(v, dir, cf)
		}
		args.attrs[s.Name] = argValue{val: v, rng: a.Expr.Range(), sensitive: sensitive}
	}
	return diags
}

// addDerivedSecrets adds strings computed from sensitive values to the redactor, unless they
// already contain a known secret (which masks just that part, keeping diffs readable) or are too
// short to mask without hiding ordinary text (a "true" chosen by a condition on a password).
func addDerivedSecrets(r *Redactor, v cty.Value) {
	v, _ = v.UnmarkDeep()
	if r == nil || v.IsNull() || !v.IsKnown() {
		return
	}
	if v.Type() == cty.String {
		s := v.AsString()
		if len(s) >= 6 && r.Redact(s) == s {
			r.Add(s)
		}
		return
	}
	if v.CanIterateElements() {
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			addDerivedSecrets(r, e)
		}
	}
}

// controllerPaths makes controller paths absolute against the task's file directory, records and
// remaps them (strings, or lists of strings).
func controllerPaths(v cty.Value, dir string, cf *ControllerFiles) cty.Value {
	if v.Type() == cty.String {
		if v.AsString() == "" {
			return v
		}
		return cty.StringVal(cf.path(dir, v.AsString()))
	}
	if v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType() {
		var out []cty.Value
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, controllerPaths(e, dir, cf))
		}
		if len(out) == 0 {
			return v
		}
		if v.Type().IsListType() {
			return cty.ListVal(out)
		}
		return cty.TupleVal(out)
	}
	return v
}
