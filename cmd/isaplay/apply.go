package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/engine/journal"
	"github.com/spf13/cobra"
)

// Exit codes beyond 0 and 1.
const (
	exitChanges            = 2 // plan --detailed-exitcode: the plan has changes
	exitRollbackIncomplete = 3 // a failed apply or a rollback left changes that still need `isaplay rollback`
)

type applyFlags struct {
	yes        bool
	onFailure  string
	message    string
	expectHash string
}

func applyCmd(g *globals) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply PLAYBOOK | PLANFILE | BUNDLE",
		Short: "Plan, show the plan, ask, then apply it; undo this run's changes if it fails",
		Long: "apply plans the playbook, shows the plan and asks (unless --yes). Each change is journaled in the\n" +
			"state directory before it is made. When a task fails, by default every change of this run is\n" +
			"undone in reverse order on every host (--on-failure=stop keeps them for `isaplay rollback`).\n" +
			"Exit codes: 0 applied (or nothing to do), 1 failed (rolled back cleanly, or nothing changed),\n" +
			"3 failed and the rollback is incomplete: run `isaplay rollback` once the hosts are reachable.\n" +
			"Given a file saved by `plan --out`, apply re-plans with the same inputs (secrets supplied again)\n" +
			"and refuses unless every change equals the saved one; it then applies without asking.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.onFailure != "rollback" && f.onFailure != "stop" {
				return fmt.Errorf("--on-failure must be rollback or stop, not %q", f.onFailure)
			}
			return g.apply(cmd.Context(), args[0], f)
		},
	}
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "apply without asking")
	cmd.Flags().StringVar(&f.onFailure, "on-failure", "rollback", "what to do when a task fails: rollback or stop")
	cmd.Flags().StringVarP(&f.message, "message", "m", "", "a note kept with the run, such as a change-ticket id")
	cmd.Flags().StringVar(&f.expectHash, "expect-hash", "", "refuse unless the plan's hash is this one (from the reviewed plan)")
	return cmd
}

// interruptible returns a context cancelled by the first interrupt; a second one exits at once
// (the journal is fsynced after every record, so `isaplay rollback` can finish the job).
func (g *globals) interruptible(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt)
	go func() {
		n := 0
		for range sig {
			n++
			if n == 1 {
				fmt.Fprintln(g.stderr, "\nInterrupt: stopping the running tasks, then rolling back per --on-failure. Interrupt again to exit at once.")
				cancel()
				continue
			}
			fmt.Fprintln(g.stderr, "Second interrupt: exiting now. Run `isaplay rollback` to undo this run.")
			os.Exit(130)
		}
	}()
	return ctx, func() { signal.Stop(sig); cancel() }
}

func (g *globals) apply(parent context.Context, path string, f applyFlags) error {
	if err := g.checkFormat(); err != nil {
		return err
	}
	ctx, stop := g.interruptible(parent)
	defer stop()
	path, cleanup, err := g.playbookArg(path)
	if err != nil {
		return err
	}
	defer cleanup()
	var saved *engine.SavedPlan
	if engine.IsPlanFile(path) {
		var err error
		if saved, err = g.restoreInputs(path); err != nil {
			return err
		}
		path = saved.Inputs.Playbook
		f.yes = true
	}
	conns := g.conns()
	defer conns.Close()
	l, err := g.load(ctx, path, false, conns)
	if err != nil {
		return err
	}
	runID := newRunID()
	cfg := g.config(l, runID, conns)
	plan, err := engine.PlanRun(ctx, cfg)
	if plan != nil {
		g.stats(conns, plan)
		if rerr := g.render(plan, false); rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return g.handleErr(err)
	}
	if saved != nil {
		if err := engine.CompareToSaved(saved.Plan, plan); err != nil {
			return fmt.Errorf("refusing to apply %s: %w", saved.Inputs.Playbook, err)
		}
	}
	if f.expectHash != "" && plan.Hash() != f.expectHash {
		return fmt.Errorf("refusing to apply: the plan's hash is %s, not the expected %s", plan.Hash(), f.expectHash)
	}
	if !plan.HasChanges() {
		g.say("No changes. Every host is in sync.")
		return nil
	}
	if !f.yes {
		if err := g.confirm("Apply these changes?"); err != nil {
			return err
		}
	}
	meta := journal.Meta{RunID: runID, Operator: operator(), Playbook: l.pb.File, PlanHash: plan.Hash(), Message: f.message,
		Hosts: map[string]journal.HostConn{}}
	for _, h := range l.inv.Hosts {
		meta.Hosts[h.Name] = journal.FromInventory(h)
	}
	meta.Started = nowUTC()
	w, err := journal.Create(g.stateDirectory(), meta, g.redactor)
	if err != nil {
		return err
	}
	defer w.Close()
	defer conns.Unlock(context.Background())
	g.say(fmt.Sprintf("\nApplying run %s (journal: %s)", runID, journal.Dir(g.stateDirectory(), runID)))
	cfg.Reviewed = plan
	cfg.Events = g.progress(len(plan.Entries))
	cfg.Journal = w
	cfg.Lock = true
	result, applyErr := engine.ApplyRun(ctx, cfg)
	if result != nil {
		g.stats(conns, result)
		g.say("")
		if rerr := g.render(result, true); rerr != nil {
			return rerr
		}
	}
	if applyErr == nil {
		return w.End(journal.StatusApplied)
	}
	if f.onFailure == "stop" {
		w.End(journal.StatusFailed)
		fmt.Fprintf(g.stderr, "The run failed; its changes are kept. Undo them with: isaplay rollback %s\n", runID)
		g.handleErr(applyErr)
		return exitError{code: 1}
	}
	g.say("\nThe run failed; rolling back its changes.")
	run, err := journal.Load(g.stateDirectory(), runID)
	if err != nil {
		return err
	}
	rep := journal.Rollback(context.Background(), w, run, g.rollbackOptions(conns, false))
	g.printRollback(rep)
	g.handleErr(applyErr)
	if !rep.Clean() {
		w.End(journal.StatusRollbackIncomplete)
		fmt.Fprintf(g.stderr, "Rollback incomplete: run `isaplay rollback %s` once the hosts are reachable.\n", runID)
		return exitError{code: exitRollbackIncomplete}
	}
	w.End(journal.StatusRolledBack)
	fmt.Fprintln(g.stderr, "Every change of this run was rolled back.")
	return exitError{code: 1}
}

// say prints a line for people; with --format json it goes to stderr so stdout stays JSON.
func (g *globals) say(line string) {
	if g.format == "json" {
		fmt.Fprintln(g.stderr, line)
		return
	}
	fmt.Fprintln(g.stdout, line)
}

// restoreInputs reads a saved plan and takes its inputs (inventory, var files, non-sensitive
// --var values, --limit, --tags); the inventory must be unchanged.
func (g *globals) restoreInputs(path string) (*engine.SavedPlan, error) {
	sp, err := engine.ReadPlanFile(path)
	if err != nil {
		return nil, err
	}
	in := sp.Inputs
	if g.inventory == "" {
		g.inventory = in.Inventory
	}
	sum, err := engine.FileSHA256(g.inventory)
	if err != nil {
		return nil, err
	}
	if sum != in.InventorySHA256 {
		return nil, fmt.Errorf("refusing to apply %s: the inventory %s changed since the plan was made", path, g.inventory)
	}
	if len(g.varFiles) == 0 {
		g.varFiles = in.VarFiles
	}
	g.vars = append(append([]string{}, in.Vars...), g.vars...)
	g.limit, g.tags = in.Limit, in.Tags
	g.say(fmt.Sprintf("Applying the saved plan %s (hash %s, made %s).", path, sp.PlanHash, sp.Created.Format("2006-01-02 15:04 MST")))
	return sp, nil
}

func (g *globals) rollbackOptions(conns *engine.Conns, force bool) journal.RollbackOptions {
	return journal.RollbackOptions{
		Registry: builtinRegistry(), Conns: conns, Redactor: g.redactor, Force: force, Secret: g.secretValue,
		Progress: func(c *journal.Change, err error) {
			status := "reverted"
			if err != nil {
				status = "FAILED: " + err.Error()
			}
			fmt.Fprintln(g.stderr, g.redactor.Redact(fmt.Sprintf("%s: undo %s / %s: %s", c.Host, c.Play, c.Task, status)))
		},
	}
}

func (g *globals) printRollback(rep *journal.Report) {
	fmt.Fprintf(g.stdout, "Rollback: %d reverted, %d failed, %d refused.\n", len(rep.Reverted), len(rep.Failed), len(rep.Refused))
	for _, st := range rep.Failed {
		fmt.Fprintln(g.stdout, g.redactor.Redact(fmt.Sprintf("  ! %s: %s / %s: %v", st.Change.Host, st.Change.Play, st.Change.Task, st.Err)))
	}
	for _, st := range rep.Refused {
		fmt.Fprintln(g.stdout, g.redactor.Redact(fmt.Sprintf("  ! %s: %s / %s: refused: %v", st.Change.Host, st.Change.Play, st.Change.Task, st.Drift)))
		var d *engine.DriftError
		if errors.As(st.Drift, &d) && d.Diff != "" {
			fmt.Fprintln(g.stdout, indentBlock(g.redactor.Redact(d.Diff), "      "))
		}
	}
}

// confirm asks on the terminal; without one it fails instead of waiting.
func (g *globals) confirm(question string) error {
	if !g.stdinTerminal() {
		return errors.New("confirmation needed: no terminal to ask on, so pass --yes after reviewing the plan")
	}
	fmt.Fprintf(g.stdout, "\n%s Only 'yes' is accepted: ", question)
	answer, _ := bufio.NewReader(g.stdin).ReadString('\n')
	if strings.TrimSpace(answer) != "yes" {
		return errors.New("cancelled")
	}
	return nil
}

func operator() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// secretValue finds a variable's value for a rollback, with the apply's precedence: --var, then
// --var-file (later files first), then ISAPLAY_VAR_<name>; on a terminal it asks.
func (g *globals) secretValue(name string) (string, error) {
	g.secretMu.Lock()
	defer g.secretMu.Unlock()
	if v, ok := g.secretCache[name]; ok {
		return v, nil
	}
	v, err := g.lookupSecret(name)
	if err == nil {
		if g.secretCache == nil {
			g.secretCache = map[string]string{}
		}
		g.secretCache[name] = v
	}
	return v, err
}

func (g *globals) lookupSecret(name string) (string, error) {
	for i := len(g.vars) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(g.vars[i], "="); ok && k == name {
			return v, nil
		}
	}
	for i := len(g.varFiles) - 1; i >= 0; i-- {
		f, diags := g.parser.ParseHCLFile(g.varFiles[i])
		if diags.HasErrors() {
			return "", diags
		}
		attrs, _ := f.Body.JustAttributes()
		if a, ok := attrs[name]; ok {
			val, diags := a.Expr.Value(nil)
			if diags.HasErrors() || val.Type() != cty.String {
				return "", fmt.Errorf("%s: %s is not a string", g.varFiles[i], name)
			}
			return val.AsString(), nil
		}
	}
	if v, ok := os.LookupEnv("ISAPLAY_VAR_" + name); ok {
		return v, nil
	}
	if g.stdinTerminal() {
		return g.promptVariable(&engine.Variable{Name: name, Sensitive: true})
	}
	return "", fmt.Errorf("give it with --var %s=..., a --var-file or ISAPLAY_VAR_%s", name, name)
}
