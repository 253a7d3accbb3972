package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/isaplay/isaplay/inventory"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// baseFunctions are go-cty's standard functions plus file(), templatefile(), sha256() and
// filesha256(), with relative paths resolved against dir (the playbook's directory).
func baseFunctions(dir string, cf *ControllerFiles) map[string]function.Function {
	fns := map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc, "max": stdlib.MaxFunc,
		"min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc, "signum": stdlib.SignumFunc,
		"log":   stdlib.LogFunc,
		"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": stdlib.IndentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc,
		"regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc, "regex_replace": stdlib.RegexReplaceFunc,
		"replace": stdlib.ReplaceFunc, "split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc,
		"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc, "trimspace": stdlib.TrimSpaceFunc,
		"strlen":    stdlib.StrlenFunc,
		"chunklist": stdlib.ChunklistFunc, "coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc,
		"compact": stdlib.CompactFunc, "concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc,
		"distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc,
		"index": stdlib.IndexFunc, "keys": stdlib.KeysFunc, "length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc,
		"merge": stdlib.MergeFunc, "range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc, "setproduct": stdlib.SetProductFunc,
		"setsubtract": stdlib.SetSubtractFunc, "setunion": stdlib.SetUnionFunc, "slice": stdlib.SliceFunc,
		"sort": stdlib.SortFunc, "values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
		"jsonencode": stdlib.JSONEncodeFunc, "jsondecode": stdlib.JSONDecodeFunc, "csvdecode": stdlib.CSVDecodeFunc,
		"formatdate": stdlib.FormatDateFunc, "timeadd": stdlib.TimeAddFunc,
		"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number),
		"tobool": stdlib.MakeToFunc(cty.Bool), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)), "tomap": stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"sha256":    sha256Func,
		"xmlescape": xmlEscapeFunc,
	}
	fns["file"] = fileFunc(dir, cf)
	fns["abspath"] = function.New(&function.Spec{
		Description: "A controller path made absolute, relative paths being relative to the playbook.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(filepath.Clean(cf.path(dir, args[0].AsString()))), nil
		},
	})
	fns["fileexists"] = function.New(&function.Spec{
		Description: "Whether a file exists on the controller, relative to the playbook.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			_, err := os.Stat(cf.path(dir, args[0].AsString()))
			return cty.BoolVal(err == nil), nil
		},
	})
	fns["filesha256"] = fileSHA256Func(dir, cf)
	fns["templatefile"] = templateFileFunc(dir, cf, fns)
	return fns
}

// runFunctions adds the functions that need the inventory: group_hosts().
func runFunctions(dir string, inv *inventory.Inventory, cf *ControllerFiles) map[string]function.Function {
	fns := baseFunctions(dir, cf)
	fns["group_hosts"] = groupHostsFunc(inv)
	fns["has_group"] = function.New(&function.Spec{
		Description: "Whether the inventory has a group of this name (for optional parts of a playbook).",
		Params:      []function.Parameter{{Name: "group", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			_, ok := inv.Groups[args[0].AsString()]
			return cty.BoolVal(ok), nil
		},
	})
	return fns
}

var sha256Func = function.New(&function.Spec{
	Description: "The hex sha256 of a string.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String, AllowMarked: true}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		s, marks := args[0].Unmark()
		sum := sha256.Sum256([]byte(s.AsString()))
		return cty.StringVal(hex.EncodeToString(sum[:])).WithMarks(marks), nil
	},
})

// ControllerFiles maps and records the files on the controller that a run reads through
// file(), templatefile(), filesha256() and module arguments that name controller paths.
type ControllerFiles struct {
	// Remap, when set, turns an absolute controller path into the path to read (an unpacked
	// offline bundle).
	Remap func(string) string
	// Record, when set, is told every absolute controller path read (bundling).
	Record func(string)
}

// path resolves p against dir, records it and remaps it.
func (cf *ControllerFiles) path(dir, p string) string {
	abs := filepath.Clean(resolve(dir, p))
	if cf == nil {
		return abs
	}
	if cf.Record != nil {
		cf.Record(abs)
	}
	if cf.Remap != nil {
		return cf.Remap(abs)
	}
	return abs
}

// xmlEscapeFunc escapes a string for XML text or a quoted attribute value, for values
// interpolated into xml_patch fragments (a password holding & or <).
var xmlEscapeFunc = function.New(&function.Spec{
	Description: "A string escaped for XML text and attribute values (& < > \" ').",
	Params:      []function.Parameter{{Name: "str", Type: cty.String, AllowMarked: true}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		s, marks := args[0].Unmark()
		r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
		return cty.StringVal(r.Replace(s.AsString())).WithMarks(marks), nil
	},
})

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func fileFunc(dir string, cf *ControllerFiles) function.Function {
	return function.New(&function.Spec{
		Description: "The contents of a file on the controller, relative to the playbook.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := os.ReadFile(cf.path(dir, args[0].AsString()))
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func fileSHA256Func(dir string, cf *ControllerFiles) function.Function {
	return function.New(&function.Spec{
		Description: "The hex sha256 of a file on the controller, relative to the playbook.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := os.ReadFile(cf.path(dir, args[0].AsString()))
			if err != nil {
				return cty.NilVal, err
			}
			sum := sha256.Sum256(b)
			return cty.StringVal(hex.EncodeToString(sum[:])), nil
		},
	})
}

// templateFileFunc renders an HCL template file with the given variables. Literal ${...} in the
// output is written $${...} in the template, as in Terraform.
func templateFileFunc(dir string, cf *ControllerFiles, fns map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Description: "Renders a template file on the controller with the given variables.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType, AllowMarked: true},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := cf.path(dir, args[0].AsString())
			src, err := os.ReadFile(path)
			if err != nil {
				return cty.NilVal, err
			}
			expr, diags := hclsyntax.ParseTemplate(src, path, hcl.Pos{Line: 1, Column: 1})
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("%s", diags.Error())
			}
			vars, marks := args[1].Unmark()
			if !vars.Type().IsObjectType() && !vars.Type().IsMapType() {
				return cty.NilVal, function.NewArgErrorf(1, "template variables must be an object or map")
			}
			ctxVars := map[string]cty.Value{}
			for it := vars.ElementIterator(); it.Next(); {
				k, v := it.Element()
				ctxVars[k.AsString()] = v
			}
			for _, tr := range expr.Variables() {
				if _, ok := ctxVars[tr.RootName()]; !ok {
					r := tr.SourceRange()
					return cty.NilVal, fmt.Errorf("%s:%d:%d: template variable %q is not given; a literal ${...} in the output must be written $${...}",
						r.Filename, r.Start.Line, r.Start.Column, tr.RootName())
				}
			}
			inner := map[string]function.Function{}
			for k, f := range fns {
				if k != "templatefile" {
					inner[k] = f
				}
			}
			val, diags := expr.Value(&hcl.EvalContext{Variables: ctxVars, Functions: inner})
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("%s", diags.Error())
			}
			out, valMarks := val.Unmark()
			if !out.IsKnown() {
				return cty.UnknownVal(cty.String).WithMarks(marks, valMarks), nil
			}
			if out.Type() != cty.String {
				return cty.NilVal, fmt.Errorf("%s: the template must produce a string", path)
			}
			return out.WithMarks(marks, valMarks), nil
		},
	})
}

// groupHostsFunc lists a group's hosts in inventory order, each as {name, address, vars}. It
// ignores --limit: a member list must name every member.
func groupHostsFunc(inv *inventory.Inventory) function.Function {
	return function.New(&function.Spec{
		Description: "The hosts of an inventory group in file order, each with name, address and vars.",
		Params:      []function.Parameter{{Name: "group", Type: cty.String}},
		Type:        function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			hosts, ok := inv.Groups[name]
			if !ok {
				return cty.NilVal, fmt.Errorf("no group %q in the inventory %s (groups: %s)", name, inv.File, strings.Join(inv.GroupNames(), ", "))
			}
			if len(hosts) == 0 {
				return cty.EmptyTupleVal, nil
			}
			list := make([]cty.Value, len(hosts))
			for i, h := range hosts {
				list[i] = cty.ObjectVal(map[string]cty.Value{
					"name": cty.StringVal(h.Name), "address": cty.StringVal(h.Address), "vars": h.Vars,
				})
			}
			return cty.TupleVal(list), nil
		},
	})
}
