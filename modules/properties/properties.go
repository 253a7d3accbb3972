// Package properties implements the properties_set task: set, uncomment and remove keys in
// java.util.Properties files and Spark's whitespace-separated spark-defaults.conf, keeping every
// byte it does not change.
package properties

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/internal/fileedit"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "properties_set"

// Module is the properties_set task type.
type Module struct{}

var (
	_ engine.Module        = Module{}
	_ engine.Validator     = Module{}
	_ engine.RevertChecker = Module{}
)

// Schema declares properties_set's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Sets, uncomments and removes keys in a java.util.Properties file (key=value, key: value, key value) " +
			"or Spark's spark-defaults.conf, keeping each line's separator and every other byte.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, HostFile: true, Description: "The properties file on the host; it must exist."},
			{Name: "set", Type: cty.Map(cty.String), Description: "Keys and the values they must have. An existing key is changed in place; " +
				"a key that only exists as a commented default (\"# key value\") is uncommented; any other is appended."},
			{Name: "remove", Type: cty.List(cty.String), Description: "Keys whose lines are removed (commented lines are left alone)."},
			{Name: "format", Type: cty.String, Default: cty.StringVal(string(FormatAuto)), Description: "Separator for appended keys: " +
				"\"auto\" (the file's most used one), \"properties\" (its most used = or :, else =) or \"spark\" (its most used whitespace, else one space)."},
		},
		Example: `task "properties_set" "spark masters" {
  path   = "${var.an_home}/repository/conf/analytics/spark/spark-defaults.conf"
  set    = {
    "carbon.spark.master.count" = "2"
    "carbon.das.symbolic.link"  = "/opt/wso2/is-analytics"
  }
  remove = ["some.obsolete.key"]
  format = "spark"
}
`,
	}
}

// Validate checks the arguments without a host.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	var diags hcl.Diagnostics
	switch Format(args.String("format")) {
	case "", FormatAuto, FormatProperties, FormatSpark:
	default:
		diags = append(diags, args.Diag("format", "Invalid format", fmt.Sprintf("format %q is not one of \"auto\", \"properties\", \"spark\".", args.String("format"))))
	}
	set := args.StringMap("set")
	for _, k := range args.Strings("remove") {
		if _, ok := set[k]; ok {
			diags = append(diags, args.Diag("remove", "Key both set and removed", fmt.Sprintf("key %q is in both set and remove.", k)))
		}
	}
	for k := range set {
		if k == "" {
			diags = append(diags, args.Diag("set", "Empty key", "set has an empty key."))
		}
	}
	if len(set) == 0 && len(args.Strings("remove")) == 0 {
		diags = append(diags, args.Diag("", "Nothing to do", "properties_set needs set or remove."))
	}
	if p := args.String("path"); p == "" {
		diags = append(diags, args.Diag("path", "Empty path", "path must name the properties file."))
	}
	return diags
}

// Check reads the file (one round trip) and returns the edit.
func (m Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	if diags := m.Validate(args); diags.HasErrors() {
		return nil, diags
	}
	p := args.String("path")
	fi, data, err := h.ReadFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if !fi.Exists {
		return nil, fmt.Errorf("%s: no such file", p)
	}
	if fi.Type != "file" {
		return nil, fmt.Errorf("%s: is a %s, not a file", p, fi.Type)
	}
	format := Format(args.String("format"))
	if format == "" {
		format = FormatAuto
	}
	// Sensitive values in set are known to h's redactor already (the engine adds them).
	set := args.StringMap("set")
	out, res := Edit(data, path.Base(p), set, args.Strings("remove"), format)
	summary := p + ": " + res.Summary()
	c := fileedit.NewChange(h, Name, fi, data, out, fileedit.Keep(fi), summary, secretLines(data), secretLines(out))
	return c, nil
}

// WritesOnlyFiles implements engine.FileWriter: Apply changes the host only through
// Host.WriteFile, so an apply may send its write with those of the tasks around it.
func (Module) WritesOnlyFiles() {}

// Apply backs the file up and writes the new bytes atomically, keeping mode and owner.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	return fileedit.Apply(ctx, h, c)
}

// Revert restores the original bytes, mode and owner.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	return fileedit.Revert(ctx, h, u)
}

// CheckRevert reports a file changed by someone else since apply, which a revert would overwrite.
func (Module) CheckRevert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	return fileedit.CheckRevert(ctx, h, u)
}

// secretKey reports whether a key's name says its value is secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token") || strings.Contains(k, "passwd")
}

// secretLines masks the values of secret-named keys, active or commented out, on every physical
// line they span.
func secretLines(data []byte) fileedit.LineMask {
	m := fileedit.LineMask{}
	line := 1
	for _, e := range parse(data) {
		text := string(data[e.start:e.end])
		n := strings.Count(text, "\n")
		if e.end == len(data) && !strings.HasSuffix(text, "\n") {
			n++
		}
		switch e.kind {
		case kindEntry:
			if secretKey(e.key) {
				first := e.indent + e.keyRaw + e.sep
				phys := strings.Split(strings.TrimSuffix(text, e.eol), "\n")
				for i, l := range phys {
					l = strings.TrimSuffix(l, "\r")
					switch {
					case i == 0 && strings.HasPrefix(l, first):
						m[line+i] = first + engine.Mask
					case i == 0:
						m[line+i] = engine.Mask
					default:
						m[line+i] = l[:len(l)-len(strings.TrimLeft(l, " \t\f"))] + engine.Mask
					}
				}
			}
		case kindComment:
			content := strings.TrimSuffix(text, e.eol)
			if _, keyRaw, key, sep, _, ok := commented(content); ok && secretKey(key) {
				i := strings.Index(content, keyRaw)
				m[line] = content[:i] + keyRaw + sep + engine.Mask
			}
		}
		line += n
	}
	return m
}
