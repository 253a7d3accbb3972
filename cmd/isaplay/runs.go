package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/isaplay/isaplay/engine/journal"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/spf13/cobra"
)

func nowUTC() time.Time { return time.Now().UTC() }

func rollbackCmd(g *globals) *cobra.Command {
	var yes, force bool
	cmd := &cobra.Command{
		Use:   "rollback [RUN-ID]",
		Short: "Undo a finished, failed or interrupted run (default: the last one)",
		Long: "rollback replays a run's journal backwards: no playbook or inventory is needed. It shows what it\n" +
			"will undo and asks unless --yes. A file changed by someone else since the run is refused, with\n" +
			"its diff, unless --force. Exit codes: 0 rolled back cleanly, 3 some changes remain to undo.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := g.stateDirectory()
			runID := ""
			if len(args) == 1 {
				runID = args[0]
			} else {
				id, err := journal.Last(dir)
				if err != nil {
					return err
				}
				runID = id
			}
			run, err := journal.Load(dir, runID)
			if err != nil {
				return err
			}
			conns := g.conns()
			defer conns.Close()
			defer conns.Unlock(context.Background())
			opts := g.rollbackOptions(conns, force)
			steps := journal.PlanRollback(cmd.Context(), run, opts)
			if len(steps) == 0 {
				fmt.Fprintf(g.stdout, "Run %s (%s) has nothing left to undo.\n", runID, run.Status)
				// A rollback stopped after its last revert still owes the clean-up: backups and
				// host locks.
				journal.Finish(cmd.Context(), run, opts)
				if run.Status != journal.StatusRolledBack && len(run.Changes) > 0 {
					w, err := journal.Open(dir, runID, g.redactor)
					if err != nil {
						return err
					}
					defer w.Close()
					return w.End(journal.StatusRolledBack)
				}
				return nil
			}
			fmt.Fprintf(g.stdout, "Rollback of run %s (%s, %s), newest change first:\n", runID, run.Status, run.Meta.Playbook)
			for _, st := range steps {
				c := st.Change
				state := "applied"
				switch {
				case c.Failed:
					state = "failed part way"
				case !c.Applied:
					state = "interrupted"
				}
				line := fmt.Sprintf("  - %s: %s / %s (%s, %s)", c.Host, c.Play, c.Task, c.Module, state)
				if st.Err != nil {
					line += ": cannot check: " + st.Err.Error()
				}
				if st.Drift != nil {
					line += ": " + st.Drift.Error()
				}
				fmt.Fprintln(g.stdout, g.redactor.Redact(line))
			}
			if !yes {
				if err := g.confirm("Undo these changes?"); err != nil {
					return err
				}
			}
			w, err := journal.Open(dir, runID, g.redactor)
			if err != nil {
				return err
			}
			defer w.Close()
			rep := journal.Rollback(cmd.Context(), w, run, opts)
			g.printRollback(rep)
			if !rep.Clean() {
				w.End(journal.StatusRollbackIncomplete)
				return exitError{code: exitRollbackIncomplete}
			}
			return w.End(journal.StatusRolledBack)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "undo without asking")
	cmd.Flags().BoolVar(&force, "force", false, "also undo changes whose files were changed by someone else since")
	return cmd
}

func runsCmd(g *globals) *cobra.Command {
	var prune bool
	var keep int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List past runs from the journal; --prune removes old ones and their backups on the hosts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := g.stateDirectory()
			runs, err := journal.List(dir)
			if err != nil {
				return err
			}
			if prune {
				return g.prune(cmd.Context(), dir, runs, keep)
			}
			if len(runs) == 0 {
				fmt.Fprintf(g.stdout, "No runs in %s.\n", dir)
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATUS\tSTARTED\tOPERATOR\tHOSTS\tCHANGES\tPENDING\tMESSAGE")
			for _, r := range runs {
				hosts := map[string]bool{}
				for _, c := range r.Changes {
					hosts[c.Host] = true
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", r.Meta.RunID, r.Status, r.Meta.Started.Format(time.RFC3339),
					r.Meta.Operator, len(hosts), len(r.Changes), len(r.Pending()), r.Meta.Message)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "remove all but the newest --keep runs, with their backups on the hosts")
	cmd.Flags().IntVar(&keep, "keep", 10, "how many runs --prune keeps")
	return cmd
}

func (g *globals) prune(ctx context.Context, dir string, runs []*journal.Run, keep int) error {
	if keep < 0 {
		keep = 0
	}
	conns := g.conns()
	defer conns.Close()
	for i, r := range runs {
		if i < keep {
			continue
		}
		for name := range touchedHosts(r) {
			hc := r.Meta.Hosts[name]
			c, err := conns.Get(ctx, hc.HostInventory())
			if err != nil {
				return fmt.Errorf("prune %s: %w (its journal is kept)", r.Meta.RunID, err)
			}
			res, err := c.Run(ctx, conn.Command{Script: "rm -rf -- " + conn.Quote(hc.StateDir+"/runs/"+r.Meta.RunID), Become: hc.Become})
			if err != nil || res.ExitCode != 0 {
				return fmt.Errorf("prune %s on %s: backups not removed (its journal is kept)", r.Meta.RunID, name)
			}
		}
		if err := journal.Remove(dir, r.Meta.RunID); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "pruned %s\n", r.Meta.RunID)
	}
	return nil
}

func touchedHosts(r *journal.Run) map[string]bool {
	out := map[string]bool{}
	for _, c := range r.Changes {
		out[c.Host] = true
	}
	return out
}
