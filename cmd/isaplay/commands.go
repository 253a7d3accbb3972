package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/isaplay/isaplay/engine"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/term"
)

func validateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate PLAYBOOK",
		Short: "Parse and type-check a playbook against an inventory, without connecting",
		Long: "validate parses the playbook, checks every task's module and arguments, and with -i evaluates\n" +
			"every task for every host it would run on. Missing variables are treated as unknown.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := g.load(cmd.Context(), args[0], true, nil)
			if err != nil {
				return err
			}
			cfg := g.config(l, "validate", nil)
			if err := g.printDiags(engine.Validate(cmd.Context(), cfg)); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s is valid: %d plays, %d tasks.\n", args[0], len(l.pb.Plays), countTasks(l.pb))
			return nil
		},
	}
}

func countTasks(pb *engine.Playbook) int {
	n := 0
	for _, p := range pb.Plays {
		n += len(p.Tasks)
	}
	return n
}

func planCmd(g *globals) *cobra.Command {
	var detailed bool
	var out string
	cmd := &cobra.Command{
		Use:   "plan PLAYBOOK",
		Short: "Show exactly what apply would change, reading every host and writing nothing",
		Long: "plan reads every host and shows what apply would change, with exact diffs (secrets masked).\n" +
			"--out saves it for review; `isaplay apply FILE` then applies exactly that plan, refusing on drift.\n" +
			"Exit codes: 0 success, 1 error; with --detailed-exitcode, 2 when the plan has changes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkFormat(); err != nil {
				return err
			}
			path, cleanup, err := g.playbookArg(args[0])
			if err != nil {
				return err
			}
			defer cleanup()
			conns := g.conns()
			defer conns.Close()
			l, err := g.load(cmd.Context(), path, false, conns)
			if err != nil {
				return err
			}
			plan, err := engine.PlanRun(cmd.Context(), g.config(l, "plan", conns))
			if plan != nil {
				if rerr := g.render(plan, false); rerr != nil {
					return rerr
				}
				g.stats(conns, plan)
			}
			if err != nil {
				return g.handleErr(err)
			}
			if out != "" {
				if err := g.savePlan(out, l, plan); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "Saved the plan to %s (hash %s). Apply exactly it with: isaplay apply %s\n", out, plan.Hash(), out)
			}
			if detailed && plan.HasChanges() {
				return exitError{code: exitChanges}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when the plan has changes (0: none, 1: error)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "save the plan to this file for `isaplay apply FILE`")
	return cmd
}

// stats prints, with --verbose, how many connections and remote round trips the command made.
func (g *globals) stats(conns *engine.Conns, p *engine.Plan) {
	if !g.verbose {
		return
	}
	checked := 0
	for _, e := range p.Entries {
		if e.Change != nil {
			checked++
		}
	}
	per := 0.0
	if checked > 0 {
		per = float64(conns.RoundTrips.Load()) / float64(checked)
	}
	fmt.Fprintf(g.stderr, "stats: %d connections, %d round trips, %d task-host checks, %.2f round trips per check\n",
		conns.Dials.Load(), conns.RoundTrips.Load(), checked, per)
}

func (g *globals) checkFormat() error {
	switch g.format {
	case "text", "markdown", "json":
		return nil
	}
	return fmt.Errorf("--format must be text, markdown or json, not %q", g.format)
}

// render writes a plan or an apply report in the chosen format.
func (g *globals) render(p *engine.Plan, applied bool) error {
	o := engine.TextOptions{Color: g.colorOut(), Applied: applied}
	switch g.format {
	case "markdown":
		return engine.RenderMarkdown(g.stdout, p, o)
	case "json":
		if applied {
			return g.emitJSON(struct {
				Type   string              `json:"type"`
				Result engine.PlanDocument `json:"result"`
			}{"result", engine.PlanDocument{Plan: p, PlanHash: p.Hash(), Applied: true}})
		}
		return engine.RenderJSON(g.stdout, p, o)
	}
	return engine.RenderText(g.stdout, p, o)
}

func (g *globals) emitJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(g.stdout, g.redactor.Redact(string(b)))
	return err
}

// savePlan writes the plan with the inputs it came from; sensitive variables are left out.
func (g *globals) savePlan(path string, l *loaded, plan *engine.Plan) error {
	sum, err := engine.FileSHA256(g.inventory)
	if err != nil {
		return err
	}
	sensitive := map[string]bool{}
	for _, v := range l.pb.Variables {
		sensitive[v.Name] = v.Sensitive
	}
	var vars []string
	for _, kv := range g.vars {
		name, _, _ := strings.Cut(kv, "=")
		if !sensitive[name] {
			vars = append(vars, kv)
		}
	}
	return engine.WritePlanFile(path, &engine.SavedPlan{
		IsaplayVersion: Version, Created: nowUTC(), Plan: plan,
		Inputs: engine.Inputs{Playbook: l.pb.File, Inventory: g.inventory, InventorySHA256: sum,
			VarFiles: g.varFiles, Vars: vars, Limit: g.limit, Tags: g.tags},
	})
}

// progress prints one line per task per host as tasks finish (a JSON event with --format json);
// on a terminal it keeps one live status line instead: done/total, failures, elapsed time and
// what each host is running.
func (g *globals) progress(total int) func(engine.Event) {
	var mu sync.Mutex
	if f, ok := g.stderr.(*os.File); ok && g.format == "text" && term.IsTerminal(int(f.Fd())) {
		start := time.Now()
		running := map[string]string{}
		done, failed := 0, 0
		return func(ev engine.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch ev.Kind {
			case "task_start":
				running[ev.Host] = ev.Task
			case "task_done":
				delete(running, ev.Host)
				done++
				if ev.Status == engine.StatusFailed {
					failed++
					fmt.Fprintf(g.stderr, "\r\x1b[K%s\n", g.redactor.Redact(fmt.Sprintf("%s: %s / %s failed: %v", ev.Host, ev.Play, ev.Task, ev.Err)))
				}
			default:
				return
			}
			hosts := make([]string, 0, len(running))
			for h, t := range running {
				hosts = append(hosts, h+": "+t)
			}
			sort.Strings(hosts)
			line := fmt.Sprintf("applying %d/%d, %d failed, %s", done, total, failed, time.Since(start).Round(100*time.Millisecond))
			if len(hosts) > 0 {
				line += " | " + strings.Join(hosts, ", ")
			}
			if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 10 && len(line) > w-1 {
				line = line[:w-1]
			}
			fmt.Fprintf(g.stderr, "\r\x1b[K%s", g.redactor.Redact(line))
			if done == total {
				fmt.Fprintln(g.stderr)
			}
		}
	}
	return func(ev engine.Event) {
		if ev.Kind != "task_done" && (ev.Kind != "write" || g.format != "json") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if g.format == "json" {
			typ := "task"
			if ev.Kind == "write" {
				typ = "write"
			}
			e := engine.EventJSON{Type: typ, Play: ev.Play, Task: ev.Task, Host: ev.Host, Status: ev.Status, ElapsedMS: ev.Elapsed.Milliseconds()}
			if ev.Err != nil {
				e.Error = ev.Err.Error()
			}
			g.emitJSON(e)
			return
		}
		status := string(ev.Status)
		if ev.Status == engine.StatusChange {
			status = "changed"
		}
		line := fmt.Sprintf("%s: %s / %s: %s (%s)", ev.Host, ev.Play, ev.Task, status, ev.Elapsed.Round(time.Millisecond))
		if ev.Err != nil {
			line += ": " + ev.Err.Error()
		}
		fmt.Fprintln(g.stderr, g.redactor.Redact(line))
	}
}

func newRunID() string {
	return time.Now().UTC().Format("20060102T150405Z") + fmt.Sprintf("-%04x", os.Getpid()&0xffff)
}

func modulesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "modules [NAME]",
		Short: "List the built-in modules, or describe one",
		Args:  cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return builtinRegistry().Names(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := builtinRegistry()
			if len(args) == 0 {
				for _, n := range reg.Names() {
					m, _ := reg.Lookup(n)
					fmt.Fprintf(g.stdout, "%-16s %s\n", n, firstSentence(m.Schema().Description))
				}
				return nil
			}
			m, ok := reg.Lookup(args[0])
			if !ok {
				return fmt.Errorf("no module %q; `isaplay modules` lists them", args[0])
			}
			fmt.Fprint(g.stdout, describeModule(args[0], m.Schema()))
			return nil
		},
	}
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// describeModule renders a module's schema as reference text.
func describeModule(name string, s engine.Schema) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s\n\nArguments:\n", name, s.Description)
	writeAttrs := func(attrs []engine.Attr, indent string) {
		sorted := append([]engine.Attr{}, attrs...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Required && !sorted[j].Required })
		for _, a := range sorted {
			req := "optional"
			if a.Required {
				req = "required"
			}
			def := ""
			if a.Default != cty.NilVal && !a.Default.IsNull() {
				def = fmt.Sprintf(", default %s", renderValue(a.Default))
			}
			fmt.Fprintf(&b, "%s%s (%s, %s%s)\n%s    %s\n", indent, a.Name, typeexpr.TypeString(a.Type), req, def, indent, a.Description)
		}
	}
	writeAttrs(s.Attrs, "  ")
	for _, bl := range s.Blocks {
		fmt.Fprintf(&b, "\nBlock %s", bl.Type)
		if bl.Max == 1 {
			b.WriteString(" (at most one)")
		}
		fmt.Fprintf(&b, ":\n  %s\n", bl.Description)
		writeAttrs(bl.Attrs, "  ")
	}
	b.WriteString("\nCommon arguments (every task):\n")
	writeAttrs(engine.CommonAttrs, "  ")
	fmt.Fprintf(&b, "\nExample:\n\n%s\n", indentBlock(s.Example, "  "))
	return b.String()
}

func renderValue(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case cty.Bool:
		return fmt.Sprint(v.True())
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	}
	return v.GoString()
}

func indentBlock(s, indent string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = indent + l
		}
	}
	return strings.Join(lines, "\n")
}
