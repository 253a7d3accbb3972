package engine

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// RenderMarkdown writes the plan for a change ticket: a summary table of hosts and changes, the
// risks reviewers should look at, then one collapsible section per host with the diffs in fenced
// blocks, and the plan hash that `apply --expect-hash` checks.
func RenderMarkdown(w io.Writer, p *Plan, o TextOptions) error {
	b := &strings.Builder{}
	title := "isaplay plan"
	if o.Applied {
		title = "isaplay apply"
	}
	fmt.Fprintf(b, "## %s: `%s`\n\n", title, p.Playbook)
	fmt.Fprintf(b, "Plan hash: `%s`\n\n", p.Hash())
	s := p.Summary
	fmt.Fprintf(b, "**%d to change, %d in sync, %d known after apply, %d skipped, %d failed, on %d hosts.**\n\n",
		s.Change, s.InSync, s.Unknown, s.Skipped, s.Failed, s.Hosts)
	byHost := map[string][]*Entry{}
	for _, e := range p.Entries {
		byHost[e.Host] = append(byHost[e.Host], e)
	}
	b.WriteString("| host | to change | in sync | known after apply | skipped | failed |\n|---|---:|---:|---:|---:|---:|\n")
	for _, h := range p.Hosts {
		var c Summary
		for _, e := range byHost[h] {
			switch e.Status {
			case StatusChange:
				c.Change++
			case StatusInSync:
				c.InSync++
			case StatusUnknown:
				c.Unknown++
			case StatusSkipped:
				c.Skipped++
			case StatusFailed:
				c.Failed++
			}
		}
		fmt.Fprintf(b, "| %s | %d | %d | %d | %d | %d |\n", mdEscape(h), c.Change, c.InSync, c.Unknown, c.Skipped, c.Failed)
	}
	risks := map[string][]string{}
	for _, e := range p.Entries {
		if e.Change == nil || e.Status == StatusInSync || e.Status == StatusSkipped {
			continue
		}
		for _, r := range e.Change.Risks {
			risks[r] = append(risks[r], e.Host+": "+e.Play+" / "+e.Task)
		}
	}
	if len(risks) > 0 {
		b.WriteString("\n### Risks\n\n")
		names := make([]string, 0, len(risks))
		for r := range risks {
			names = append(names, r)
		}
		sort.Strings(names)
		for _, r := range names {
			fmt.Fprintf(b, "- **%s**: %s\n", mdEscape(r), mdEscape(strings.Join(risks[r], "; ")))
		}
	}
	for _, h := range p.Hosts {
		var n int
		for _, e := range byHost[h] {
			if e.Status != StatusInSync && e.Status != StatusSkipped {
				n++
			}
		}
		fmt.Fprintf(b, "\n<details><summary><b>%s</b>: %d task(s) to review</summary>\n\n", mdEscape(h), n)
		for _, e := range byHost[h] {
			fmt.Fprintf(b, "- `%s` %s / %s (`%s`%s)", e.Marker(), mdEscape(e.Play), mdEscape(e.Task), e.Module, e.asyncNote())
			switch e.Status {
			case StatusInSync:
				b.WriteString(": in sync\n")
				continue
			case StatusSkipped:
				fmt.Fprintf(b, ": skipped, %s\n", mdEscape(e.Reason))
				continue
			case StatusFailed:
				fmt.Fprintf(b, ": **failed**: %s\n", mdEscape(e.Error))
				continue
			}
			if e.Change == nil {
				fmt.Fprintf(b, ": %s\n", mdEscape(e.Reason))
				continue
			}
			fmt.Fprintf(b, ": %s\n", mdEscape(e.Change.Summary))
			if e.Change.Unknown != "" {
				fmt.Fprintf(b, "  - known after apply: %s\n", mdEscape(e.Change.Unknown))
			}
			for _, d := range e.Change.Details {
				fmt.Fprintf(b, "  - `%s`\n", strings.ReplaceAll(d, "`", "'"))
			}
			if e.Change.Diff != "" {
				fence := "```"
				for strings.Contains(e.Change.Diff, fence) {
					fence += "`"
				}
				diff := strings.ReplaceAll(strings.TrimSuffix(e.Change.Diff, "\n"), "\r\n", "\n")
				fmt.Fprintf(b, "\n%sdiff\n%s\n%s\n\n", fence, diff, fence)
			}
		}
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "\n", " ", "*", `\*`, "_", `\_`)
	return r.Replace(s)
}
