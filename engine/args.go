package engine

import (
	"fmt"
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Args are a task's arguments evaluated for one host, converted to the schema's types and
// stripped of sensitivity marks (the host's redactor knows the secret values). Nested blocks keep
// their source order across types.
type Args struct {
	// Type is the module name for a task, or the block type for a nested block.
	Type string
	// Task is the task's name.
	Task string
	// DefRange is where the task or block starts in its file.
	DefRange hcl.Range
	attrs    map[string]argValue
	blocks   []*Args
}

type argValue struct {
	val       cty.Value
	rng       hcl.Range
	sensitive bool
}

// NewArgs builds arguments directly, for unit tests of a module: values are taken as given.
func NewArgs(typ string, values map[string]cty.Value, blocks ...*Args) *Args {
	a := &Args{Type: typ, Task: "test", attrs: map[string]argValue{}, blocks: blocks}
	for k, v := range values {
		a.attrs[k] = argValue{val: v}
	}
	return a
}

// Has reports whether the argument is set to a non-null value.
func (a *Args) Has(name string) bool {
	v, ok := a.attrs[name]
	return ok && !v.val.IsNull()
}

// Value returns the argument's value, or a null value when it is absent.
func (a *Args) Value(name string) cty.Value {
	if v, ok := a.attrs[name]; ok {
		return v.val
	}
	return cty.NullVal(cty.DynamicPseudoType)
}

// Sensitive reports whether the argument's value came from a sensitive variable.
func (a *Args) Sensitive(name string) bool { return a.attrs[name].sensitive }

// String returns a string argument, or "" when it is absent.
func (a *Args) String(name string) string {
	v := a.Value(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

// Bool returns a bool argument, or false when it is absent.
func (a *Args) Bool(name string) bool {
	v := a.Value(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
		return false
	}
	return v.True()
}

// Int returns a whole-number argument, or def when it is absent.
func (a *Args) Int(name string, def int) int {
	v := a.Value(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return def
	}
	i, acc := v.AsBigFloat().Int64()
	if acc != big.Exact {
		return def
	}
	return int(i)
}

// Strings returns a list-of-strings argument.
func (a *Args) Strings(name string) []string {
	v := a.Value(name)
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType()) {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() == cty.String && !e.IsNull() {
			out = append(out, e.AsString())
		}
	}
	return out
}

// StringMap returns a map-of-strings argument (keys sorted by cty).
func (a *Args) StringMap(name string) map[string]string {
	v := a.Value(name)
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.Type() == cty.String && !e.IsNull() {
			out[k.AsString()] = e.AsString()
		}
	}
	return out
}

// Blocks returns the nested blocks in source order, across types.
func (a *Args) Blocks() []*Args { return a.blocks }

// BlocksOf returns the nested blocks of one type, in source order.
func (a *Args) BlocksOf(typ string) []*Args {
	var out []*Args
	for _, b := range a.blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// Range returns the source range of an argument, or of the block when it is absent.
func (a *Args) Range(name string) hcl.Range {
	if v, ok := a.attrs[name]; ok && v.rng.Filename != "" {
		return v.rng
	}
	return a.DefRange
}

// Errorf returns an error located at the named argument (or at the block when name is ""),
// which the engine reports as a diagnostic at file:line:col.
func (a *Args) Errorf(name, format string, args ...any) error {
	return &ArgError{Range: a.Range(name), Arg: name, Msg: fmt.Sprintf(format, args...)}
}

// Diag returns a diagnostic located at the named argument, for Validator implementations.
func (a *Args) Diag(name, summary, detail string) *hcl.Diagnostic {
	r := a.Range(name)
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &r}
}

// whollyKnown reports whether every argument is known (not waiting on an earlier task's result).
func (a *Args) whollyKnown() bool {
	for _, v := range a.attrs {
		if !v.val.IsWhollyKnown() {
			return false
		}
	}
	for _, b := range a.blocks {
		if !b.whollyKnown() {
			return false
		}
	}
	return true
}

// ArgError is an error about one argument, located in the playbook.
type ArgError struct {
	Range hcl.Range
	Arg   string
	Msg   string
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Range.Filename, e.Range.Start.Line, e.Range.Start.Column, e.Msg)
}
