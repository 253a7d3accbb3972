// Package lineinfile implements the line_in_file task: ensure one line is present (replacing the
// line a regular expression matches, or inserting it) or absent in a text file such as a shell
// script, keeping every other byte, the line endings and a missing final newline.
package lineinfile

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/internal/fileedit"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "line_in_file"

// Module is the line_in_file task type.
type Module struct{}

var (
	_ engine.Module        = Module{}
	_ engine.Validator     = Module{}
	_ engine.RevertChecker = Module{}
)

// Schema declares line_in_file's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Ensures a line is present in a text file (replacing the last line a regular expression matches, " +
			"else inserting it) or absent, keeping line endings, a missing final newline and every other byte.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, HostFile: true, Description: "The file on the host; it must exist."},
			{Name: "line", Type: cty.String, Description: "The whole line (without line ending). Required when state is \"present\"."},
			{Name: "regexp", Type: cty.String, Description: "Go (RE2) regular expression matched against each line: present replaces the last " +
				"matching line, absent removes every matching line. Without it, lines equal to line are looked for."},
			{Name: "state", Type: cty.String, Default: cty.StringVal("present"), Description: "\"present\" or \"absent\"."},
			{Name: "insert_after", Type: cty.String, Description: "When the line must be inserted: after the last line matching this regular expression. " +
				"Matching nothing is an error. Default: at the end of the file."},
			{Name: "insert_before", Type: cty.String, Description: "When the line must be inserted: before the first line matching this regular expression. " +
				"Matching nothing is an error."},
		},
		Example: `task "line_in_file" "spark local ip" {
  path         = "${var.an_home}/bin/load-spark-env-vars.sh"
  regexp       = "^\\s*export\\s+SPARK_LOCAL_IP="
  line         = "export SPARK_LOCAL_IP=${host.address}"
  insert_after = "^export CARBON_SPARK_HOME="
}
`,
	}
}

type params struct {
	path          string
	line          string
	re, after     *regexp.Regexp
	before        *regexp.Regexp
	absent        bool
	afterSrc, bef string
}

func compile(args *engine.Args, name string, diags *hcl.Diagnostics) *regexp.Regexp {
	if !args.Has(name) {
		return nil
	}
	re, err := regexp.Compile(args.String(name))
	if err != nil {
		*diags = append(*diags, args.Diag(name, "Invalid regular expression", fmt.Sprintf("%s: %v", name, err)))
	}
	return re
}

func parseArgs(args *engine.Args) (params, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p := params{path: args.String("path"), line: args.String("line"), afterSrc: args.String("insert_after"), bef: args.String("insert_before")}
	p.re = compile(args, "regexp", &diags)
	p.after = compile(args, "insert_after", &diags)
	p.before = compile(args, "insert_before", &diags)
	switch args.String("state") {
	case "", "present":
		if !args.Has("line") {
			diags = append(diags, args.Diag("line", "Missing line", "state \"present\" needs line."))
		}
	case "absent":
		p.absent = true
		if !args.Has("line") && !args.Has("regexp") {
			diags = append(diags, args.Diag("regexp", "Missing regexp", "state \"absent\" needs regexp or line."))
		}
	default:
		diags = append(diags, args.Diag("state", "Invalid state", fmt.Sprintf("state %q is not \"present\" or \"absent\".", args.String("state"))))
	}
	if strings.ContainsAny(p.line, "\r\n") {
		diags = append(diags, args.Diag("line", "Line break in line", "line must be a single line without \\n or \\r."))
	}
	if args.Has("insert_after") && args.Has("insert_before") {
		diags = append(diags, args.Diag("insert_before", "Conflicting anchors", "give insert_after or insert_before, not both."))
	}
	if p.path == "" {
		diags = append(diags, args.Diag("path", "Empty path", "path must name the file."))
	}
	return p, diags
}

// Validate checks the arguments without a host: the regular expressions compile, state is known.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	_, diags := parseArgs(args)
	return diags
}

// Check reads the file (one round trip) and returns the edit.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	p, diags := parseArgs(args)
	if diags.HasErrors() {
		return nil, diags
	}
	if args.Sensitive("line") {
		h.AddSecret(p.line)
	}
	fi, data, err := h.ReadFile(ctx, p.path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	if !fi.Exists {
		return nil, fmt.Errorf("%s: no such file", p.path)
	}
	if fi.Type != conn.TypeFile {
		return nil, fmt.Errorf("%s: is a %s, not a file", p.path, fi.Type)
	}
	out, summary, err := edit(data, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	return fileedit.NewChange(h, Name, fi, data, out, fileedit.Keep(fi), p.path+": "+summary), nil
}

// line is one physical line: its text and its ending ("\n", "\r\n" or "" at the end of file).
type line struct{ text, eol string }

func split(data []byte) []line {
	var out []line
	s := string(data)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, line{s, ""})
			break
		}
		t, eol := s[:i], "\n"
		if strings.HasSuffix(t, "\r") {
			t, eol = t[:len(t)-1], "\r\n"
		}
		out = append(out, line{t, eol})
		s = s[i+1:]
	}
	return out
}

func join(lines []line) []byte {
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(l.text)
		sb.WriteString(l.eol)
	}
	return []byte(sb.String())
}

func dominantEOL(lines []line) string {
	crlf, lf := 0, 0
	for _, l := range lines {
		switch l.eol {
		case "\r\n":
			crlf++
		case "\n":
			lf++
		}
	}
	if crlf > lf {
		return "\r\n"
	}
	return "\n"
}

// edit returns the new bytes and a summary; unchanged bytes mean in sync.
func edit(data []byte, p params) ([]byte, string, error) {
	lines := split(data)
	matches := func(l line) bool {
		if p.re != nil {
			return p.re.MatchString(l.text)
		}
		return l.text == p.line
	}
	if p.absent {
		var keep []line
		removed := 0
		for _, l := range lines {
			if matches(l) {
				removed++
				continue
			}
			keep = append(keep, l)
		}
		if removed == 0 {
			return data, "in sync", nil
		}
		// Removing an unterminated last line leaves the new last line unterminated too.
		if n := len(keep); n > 0 && lines[len(lines)-1].eol == "" && keep[n-1].eol != "" {
			keep[n-1].eol = ""
		}
		return join(keep), fmt.Sprintf("remove %d line(s)", removed), nil
	}
	last := -1
	if p.re != nil {
		for i, l := range lines {
			if p.re.MatchString(l.text) {
				last = i
			}
		}
	}
	if last >= 0 {
		if lines[last].text == p.line {
			return data, "in sync", nil
		}
		lines[last].text = p.line
		return join(lines), fmt.Sprintf("replace line %d", last+1), nil
	}
	for _, l := range lines {
		if l.text == p.line {
			return data, "in sync", nil
		}
	}
	at := len(lines)
	where := "at end of file"
	switch {
	case p.after != nil:
		at = -1
		for i, l := range lines {
			if p.after.MatchString(l.text) {
				at = i + 1
			}
		}
		if at < 0 {
			return nil, "", fmt.Errorf("insert_after %q matches no line (0 of %d)", p.afterSrc, len(lines))
		}
		where = fmt.Sprintf("after line %d", at)
	case p.before != nil:
		at = -1
		for i, l := range lines {
			if p.before.MatchString(l.text) {
				at = i
				break
			}
		}
		if at < 0 {
			return nil, "", fmt.Errorf("insert_before %q matches no line (0 of %d)", p.bef, len(lines))
		}
		where = fmt.Sprintf("before line %d", at+1)
	}
	eol := dominantEOL(lines)
	nl := line{p.line, eol}
	if at == len(lines) && at > 0 && lines[at-1].eol == "" {
		// The file has no final newline: end the last line, and keep the file unterminated.
		lines[at-1].eol = eol
		nl.eol = ""
	}
	out := append(lines[:at:at], nl)
	out = append(out, lines[at:]...)
	return join(out), "insert line " + where, nil
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
