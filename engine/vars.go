package engine

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// SensitiveMark marks values that come from sensitive variables; it survives interpolation.
const SensitiveMark = "sensitive"

// VarInputs are the variable values given to a run, lowest precedence first after defaults:
// ISAPLAY_VAR_<name> environment variables, then each var file in order, then --var flags.
type VarInputs struct {
	// Env is the environment, as os.Environ returns it; nil reads the process environment.
	Env []string
	// Files are var files (HCL attributes, like .tfvars), in order.
	Files []string
	// Flags are --var values, "name=value", in order.
	Flags []string
	// Prompt, when set, is asked for required variables that have no value (on a terminal).
	Prompt func(v *Variable) (string, error)
	// AllowUnknown makes missing required variables unknown instead of an error (validate).
	AllowUnknown bool
}

// ResolveVariables computes every declared variable's value with Terraform's precedence,
// converts it to the declared type, checks validations and marks sensitive values. Sensitive
// string values are added to r.
func ResolveVariables(p *hclparse.Parser, pb *Playbook, in VarInputs, r *Redactor) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	decl := map[string]*Variable{}
	for _, v := range pb.Variables {
		decl[v.Name] = v
	}
	type given struct {
		val cty.Value
		raw *string // from env or flag: a string to parse by type
		rng *hcl.Range
	}
	vals := map[string]given{}
	env := in.Env
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "ISAPLAY_VAR_") {
			continue
		}
		name := strings.TrimPrefix(k, "ISAPLAY_VAR_")
		if _, ok := decl[name]; ok {
			s := val
			vals[name] = given{raw: &s}
		}
	}
	for _, path := range in.Files {
		f, d := p.ParseHCLFile(path)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		attrs, d := f.Body.JustAttributes()
		diags = append(diags, d...)
		names := make([]string, 0, len(attrs))
		for n := range attrs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			a := attrs[n]
			if _, ok := decl[n]; !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Value for undeclared variable",
					Detail: fmt.Sprintf("The playbook declares no variable %q; this value is ignored.", n), Subject: a.NameRange.Ptr()})
				continue
			}
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			rng := a.Expr.Range()
			vals[n] = given{val: val, rng: &rng}
		}
	}
	for _, f := range in.Flags {
		name, raw, ok := strings.Cut(f, "=")
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid --var",
				Detail: fmt.Sprintf("%q: a --var is written name=value.", f)})
			continue
		}
		if _, ok := decl[name]; !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
				Detail: fmt.Sprintf("--var %s: the playbook %s declares no variable %q.", name, pb.File, name)})
			continue
		}
		s := raw
		vals[name] = given{raw: &s}
	}

	out := map[string]cty.Value{}
	for _, v := range pb.Variables {
		g, ok := vals[v.Name]
		var val cty.Value
		switch {
		case ok && g.raw != nil:
			var d hcl.Diagnostics
			val, d = parseRaw(*g.raw, v)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
		case ok:
			val = g.val
		case v.Default != cty.NilVal:
			val = v.Default
		case in.AllowUnknown:
			val = cty.UnknownVal(v.Type)
		case in.Prompt != nil:
			s, err := in.Prompt(v)
			if err != nil {
				diags = append(diags, errAt(v.DeclRange, "No value for required variable", fmt.Sprintf("Variable %q: %s.", v.Name, err)))
				continue
			}
			val, _ = parseRaw(s, v)
		default:
			diags = append(diags, errAt(v.DeclRange, "No value for required variable",
				fmt.Sprintf("Variable %q has no default. Give it with --var %s=..., a --var-file, or ISAPLAY_VAR_%s.", v.Name, v.Name, v.Name)))
			continue
		}
		conv, err := convert.Convert(val, v.Type)
		if err != nil {
			rng := v.DeclRange
			if g.rng != nil {
				rng = *g.rng
			}
			diags = append(diags, errAt(rng, "Invalid value for variable", fmt.Sprintf("Variable %q: %s.", v.Name, err)))
			continue
		}
		if v.Sensitive {
			addSecrets(r, conv)
			conv = conv.Mark(SensitiveMark)
		}
		out[v.Name] = conv
	}
	if diags.HasErrors() {
		return out, diags
	}
	// Validations see only their own variable.
	for _, v := range pb.Variables {
		val, ok := out[v.Name]
		if !ok {
			continue
		}
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})}, Functions: baseFunctions(pb.Dir, nil)}
		for _, rule := range v.Validations {
			res, d := rule.Condition.Value(ctx)
			if d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			res, _ = res.Unmark()
			if !res.IsKnown() || res.IsNull() {
				continue
			}
			if res.Type() != cty.Bool {
				diags = append(diags, errAt(rule.Condition.Range(), "Invalid validation condition", "The condition must be true or false."))
				continue
			}
			if res.False() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
					Detail: fmt.Sprintf("Variable %q: %s", v.Name, rule.ErrorMessage), Subject: rule.Condition.Range().Ptr()})
			}
		}
	}
	return out, diags
}

// parseRaw turns a string from the environment or --var into a value: as is for string
// variables, else parsed as an HCL expression (like Terraform).
func parseRaw(raw string, v *Variable) (cty.Value, hcl.Diagnostics) {
	if v.Type == cty.String || v.Type == cty.DynamicPseudoType && !looksStructured(raw) {
		return cty.StringVal(raw), nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), "--var "+v.Name, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	val, d := expr.Value(nil)
	return val, append(diags, d...)
}

func looksStructured(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{")
}

// addSecrets adds every string found in v to r.
func addSecrets(r *Redactor, v cty.Value) {
	if r == nil || v.IsNull() || !v.IsKnown() {
		return
	}
	v, _ = v.UnmarkDeep()
	switch {
	case v.Type() == cty.String:
		r.Add(v.AsString())
	case v.Type().IsPrimitiveType():
		if s, err := convert.Convert(v, cty.String); err == nil {
			r.Add(s.AsString())
		}
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			addSecrets(r, e)
		}
	}
}
