package adopt

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// HCL renders the result as variable blocks followed by task blocks, formatted, with the notes
// as comments. Secret values are never written: they are variables without defaults.
func (r *Result) HCL() []byte {
	var b strings.Builder
	r.writeHead(&b)
	r.writeTasks(&b, "")
	return hclwrite.Format([]byte(b.String()))
}

// PlayHCL renders the result with its tasks wrapped in a play named name for hosts, ready to
// validate or run.
func (r *Result) PlayHCL(name, hosts string) []byte {
	var b strings.Builder
	r.writeHead(&b)
	fmt.Fprintf(&b, "play %s {\n  hosts = %s\n\n", quote(name), quote(hosts))
	r.writeTasks(&b, "  ")
	b.WriteString("}\n")
	return hclwrite.Format([]byte(b.String()))
}

func (r *Result) writeHead(b *strings.Builder) {
	if len(r.loose) > 0 {
		b.WriteString("# Differences not patched (review them):\n")
		for _, n := range r.loose {
			b.WriteString("#   " + oneLine(n) + "\n")
		}
		b.WriteString("\n")
	}
	for _, v := range r.Variables {
		fmt.Fprintf(b, "variable %s {\n", quote(v.Name))
		b.WriteString("  type = string\n")
		if v.Description != "" {
			fmt.Fprintf(b, "  description = %s\n", quote(v.Description))
		}
		if v.Sensitive {
			b.WriteString("  sensitive = true\n")
		}
		b.WriteString("}\n\n")
	}
}

func (r *Result) writeTasks(b *strings.Builder, indent string) {
	for i, t := range r.Tasks {
		if i > 0 {
			b.WriteString("\n")
		}
		writeTask(b, t, indent)
	}
}

func oneLine(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ") }

func writeTask(b *strings.Builder, t *Task, indent string) {
	for _, c := range t.Comments {
		fmt.Fprintf(b, "%s# %s\n", indent, oneLine(c))
	}
	fmt.Fprintf(b, "%stask %s %s {\n", indent, quote(t.Type), quote(t.Name))
	for _, a := range t.Args {
		writeArg(b, a, indent+"  ")
	}
	for _, bl := range t.Blocks {
		short := len(bl.Args) == 1 && bl.Args[0].Expr != nil && !strings.Contains(bl.Args[0].Expr.Template(), "\n")
		if short {
			fmt.Fprintf(b, "%s  %s { %s = %s }\n", indent, bl.Type, bl.Args[0].Name, expr(bl.Args[0].Expr, indent+"  "))
			continue
		}
		fmt.Fprintf(b, "%s  %s {\n", indent, bl.Type)
		for _, a := range bl.Args {
			writeArg(b, a, indent+"    ")
		}
		fmt.Fprintf(b, "%s  }\n", indent)
	}
	fmt.Fprintf(b, "%s}\n", indent)
}

func writeArg(b *strings.Builder, a Arg, indent string) {
	switch {
	case a.IsMap:
		fmt.Fprintf(b, "%s%s = {\n", indent, a.Name)
		for _, kv := range a.Map {
			fmt.Fprintf(b, "%s  %s = %s\n", indent, quote(kv.Key), expr(kv.Value, indent+"  "))
		}
		fmt.Fprintf(b, "%s}\n", indent)
	case a.IsList:
		var items []string
		for _, s := range a.List {
			items = append(items, quote(s))
		}
		fmt.Fprintf(b, "%s%s = [%s]\n", indent, a.Name, strings.Join(items, ", "))
	case a.Exact:
		fmt.Fprintf(b, "%s%s = %s\n", indent, a.Name, exactExpr(a.Expr))
	default:
		fmt.Fprintf(b, "%s%s = %s\n", indent, a.Name, expr(a.Expr, indent))
	}
}

// expr writes an expression: var.NAME alone, a quoted template, or a heredoc for text with
// line breaks.
func expr(e Expr, indent string) string {
	if len(e) == 1 && e[0].Var != "" {
		return "var." + e[0].Var
	}
	if len(e) == 1 && e[0].Raw != "" {
		return e[0].Raw
	}
	multi := false
	for _, p := range e {
		if strings.Contains(p.Lit, "\n") && !strings.Contains(p.Lit, "\r") {
			multi = true
		}
	}
	if !multi {
		return `"` + e.join(escape) + `"`
	}
	text := e.Template()
	delim := "EOT"
	for i := 2; hasLine(text, delim); i++ {
		delim = fmt.Sprintf("EOT%d", i)
	}
	var out strings.Builder
	out.WriteString("<<-" + delim + "\n")
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if l == "" {
			out.WriteString("\n")
			continue
		}
		out.WriteString(indent + "  " + l + "\n")
	}
	out.WriteString(indent + delim)
	return out.String()
}

// exactExpr writes text byte for byte: a heredoc without indentation when it has several lines
// and ends with a line break (a heredoc always does), else a quoted string.
func exactExpr(e Expr) string {
	t := e.Template()
	if len(e) != 1 || e[0].Lit == "" {
		return expr(e, "")
	}
	if strings.Count(t, "\n") < 2 || !strings.HasSuffix(t, "\n") || strings.Contains(t, "\r") {
		return quote(e[0].Lit)
	}
	delim := "EOT"
	for i := 2; hasLine(t, delim); i++ {
		delim = fmt.Sprintf("EOT%d", i)
	}
	return "<<" + delim + "\n" + t + delim
}

func hasLine(text, delim string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == delim {
			return true
		}
	}
	return false
}

// templateEscape escapes template sequences (${ and %{) in literal text.
func templateEscape(s string) string {
	s = strings.ReplaceAll(s, "${", "$${")
	return strings.ReplaceAll(s, "%{", "%%{")
}

// escape writes s for inside an HCL quoted string.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '$', '%':
			b.WriteByte(c)
			if i+1 < len(s) && s[i+1] == '{' {
				b.WriteByte(c)
			}
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

func quote(s string) string { return `"` + escape(s) + `"` }

// JSON renders the result as JSON: variables, tasks with their arguments and blocks (strings
// are HCL templates: a variable appears as ${var.NAME}), and notes.
func (r *Result) JSON() ([]byte, error) {
	type jblock struct {
		Type string         `json:"type"`
		Args map[string]any `json:"args"`
	}
	type jtask struct {
		Type     string         `json:"type"`
		Name     string         `json:"name"`
		Args     map[string]any `json:"args"`
		Blocks   []jblock       `json:"blocks,omitempty"`
		Comments []string       `json:"notes,omitempty"`
	}
	argMap := func(args []Arg) map[string]any {
		m := map[string]any{}
		for _, a := range args {
			switch {
			case a.IsMap:
				mm := map[string]string{}
				for _, kv := range a.Map {
					mm[kv.Key] = kv.Value.Template()
				}
				m[a.Name] = mm
			case a.IsList:
				m[a.Name] = append([]string{}, a.List...)
			case len(a.Expr) == 1 && a.Expr[0].Raw != "":
				if n, err := strconv.Atoi(a.Expr[0].Raw); err == nil {
					m[a.Name] = n
				} else {
					m[a.Name] = a.Expr.Template()
				}
			default:
				m[a.Name] = a.Expr.Template()
			}
		}
		return m
	}
	out := struct {
		Variables []Variable `json:"variables"`
		Tasks     []jtask    `json:"tasks"`
		Notes     []string   `json:"notes"`
	}{Variables: r.Variables, Notes: r.Notes}
	if out.Variables == nil {
		out.Variables = []Variable{}
	}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	out.Tasks = []jtask{}
	for _, t := range r.Tasks {
		jt := jtask{Type: t.Type, Name: t.Name, Args: argMap(t.Args), Comments: t.Comments}
		for _, b := range t.Blocks {
			jt.Blocks = append(jt.Blocks, jblock{Type: b.Type, Args: argMap(b.Args)})
		}
		out.Tasks = append(out.Tasks, jt)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
