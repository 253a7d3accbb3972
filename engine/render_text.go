package engine

import (
	"fmt"
	"io"
	"strings"
)

// TextOptions controls the text rendering of a plan.
type TextOptions struct {
	// Color adds ANSI colours (only on a terminal).
	Color bool
	// Applied renders an apply report ("changed") rather than a plan ("will change").
	Applied bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
)

// Marker is the one-character sign of an entry: + create, ~ update, - delete, > run,
// ? known after apply, = in sync, . skipped, ! failed.
func (e *Entry) Marker() string {
	switch e.Status {
	case StatusInSync:
		return "="
	case StatusSkipped:
		return "."
	case StatusFailed:
		return "!"
	case StatusUnknown:
		return "?"
	}
	if e.Change == nil {
		return "?"
	}
	switch e.Change.Action {
	case ActionCreate:
		return "+"
	case ActionDelete:
		return "-"
	case ActionRun:
		return ">"
	}
	return "~"
}

// RenderText writes the plan grouped by host, then by task, with unified diffs and a summary.
func RenderText(w io.Writer, p *Plan, o TextOptions) error {
	b := &strings.Builder{}
	paint := func(color, s string) string {
		if !o.Color {
			return s
		}
		return color + s + ansiReset
	}
	byHost := map[string][]*Entry{}
	for _, e := range p.Entries {
		byHost[e.Host] = append(byHost[e.Host], e)
	}
	for _, host := range p.Hosts {
		fmt.Fprintf(b, "%s\n", paint(ansiBold, "host "+host))
		for _, e := range byHost[host] {
			marker := e.Marker()
			color := map[string]string{"+": ansiGreen, "~": ansiYellow, "-": ansiRed, ">": ansiCyan, "?": ansiCyan, "!": ansiRed}[marker]
			title := fmt.Sprintf("%s %s / %s (%s%s)", marker, e.Play, e.Task, e.Module, e.asyncNote())
			switch e.Status {
			case StatusInSync:
				fmt.Fprintf(b, "  %s: in sync\n", title)
			case StatusSkipped:
				fmt.Fprintf(b, "  %s: skipped, %s\n", title, e.Reason)
			case StatusFailed:
				fmt.Fprintf(b, "  %s\n      error: %s\n", paint(color, title), indentRest(e.Error, "      "))
				if e.Reason != "" {
					fmt.Fprintf(b, "      (%s)\n", e.Reason)
				}
			default:
				verb := "will change"
				if o.Applied {
					verb = "changed"
				}
				if e.Status == StatusUnknown {
					verb = "known after apply"
				}
				fmt.Fprintf(b, "  %s: %s\n", paint(color, title), verb)
				if e.Change != nil {
					fmt.Fprintf(b, "      %s\n", e.Change.Summary)
					if e.Change.Unknown != "" && e.Change.Unknown != e.Change.Summary {
						fmt.Fprintf(b, "      (known after apply: %s)\n", e.Change.Unknown)
					} else if e.Reason != "" {
						fmt.Fprintf(b, "      (%s)\n", e.Reason)
					}
					for _, d := range e.Change.Details {
						fmt.Fprintf(b, "      %s\n", d)
					}
					if len(e.Change.Risks) > 0 {
						fmt.Fprintf(b, "      risks: %s\n", strings.Join(e.Change.Risks, ", "))
					}
					writeDiff(b, e.Change.Diff, o.Color)
				} else if e.Reason != "" {
					fmt.Fprintf(b, "      (%s)\n", e.Reason)
				}
			}
		}
		b.WriteString("\n")
	}
	s := p.Summary
	verb := "to change"
	if o.Applied {
		verb = "changed"
	}
	fmt.Fprintf(b, "%s: %d %s, %d in sync, %d known after apply, %d skipped, %d failed, %d hosts.\n",
		map[bool]string{false: "Plan", true: "Applied"}[o.Applied], s.Change, verb, s.InSync, s.Unknown, s.Skipped, s.Failed, s.Hosts)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDiff(b *strings.Builder, diff string, color bool) {
	if diff == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(diff, "\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if color {
			switch {
			case strings.HasPrefix(line, "+++") || strings.HasPrefix(line, "---"):
				line = ansiBold + line + ansiReset
			case strings.HasPrefix(line, "+"):
				line = ansiGreen + line + ansiReset
			case strings.HasPrefix(line, "-"):
				line = ansiRed + line + ansiReset
			case strings.HasPrefix(line, "@@"):
				line = ansiCyan + line + ansiReset
			}
		}
		b.WriteString("      ")
		b.WriteString(line)
		b.WriteString("\n")
	}
}

func indentRest(s, indent string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+indent)
}
