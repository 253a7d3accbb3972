package journal

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
)

// RollbackOptions configures replaying a journal backwards.
type RollbackOptions struct {
	Registry *engine.Registry
	// Conns reaches the hosts; rollback of a live apply shares the apply's.
	Conns    *engine.Conns
	Redactor *engine.Redactor
	// Force reverts changes whose target was changed by someone else since the run.
	Force bool
	// Progress, when set, is told about each change as it is reverted.
	Progress func(c *Change, err error)
	// Secret, when set, returns the value of a playbook variable that a change's sensitive
	// argument came from (Record.Secrets), asked of the operator again.
	Secret func(variable string) (string, error)
}

// secrets puts the values of a change's sensitive arguments into ctx for Revert.
func (o RollbackOptions) secrets(ctx context.Context, c *Change) (context.Context, error) {
	if len(c.Secrets) == 0 || o.Secret == nil {
		return ctx, nil
	}
	values := map[string]string{}
	for arg, variable := range c.Secrets {
		v, err := o.Secret(variable)
		if err != nil {
			return ctx, fmt.Errorf("%s: %s/%s: undo needs var.%s (for %s): %w", c.Host, c.Play, c.Task, variable, arg, err)
		}
		o.Redactor.Add(v)
		values[arg] = v
	}
	return engine.WithRevertSecrets(ctx, values), nil
}

// Step is one change to revert, with what a rollback would find.
type Step struct {
	Change *Change
	// Drift is set when the host no longer holds what the change left (someone changed it).
	Drift error
	// Err is set when the host cannot be reached or checked.
	Err error
}

// Report is how a rollback ended.
type Report struct {
	Reverted []*Change
	Failed   []Step
	Refused  []Step
}

// Clean reports whether every pending change was reverted.
func (r *Report) Clean() bool { return len(r.Failed) == 0 && len(r.Refused) == 0 }

// HostInventory turns a journaled connection back into an inventory host.
func (h HostConn) HostInventory() *inventory.Host {
	return &inventory.Host{Name: h.Name, Address: h.Address, Port: h.Port, User: h.User, Connection: h.Connection,
		IdentityFile: h.IdentityFile, KnownHosts: h.KnownHosts, Jump: h.Jump, StateDir: h.StateDir, Become: h.Become}
}

// FromInventory records an inventory host's connection settings.
func FromInventory(h *inventory.Host) HostConn {
	return HostConn{Name: h.Name, Address: h.Address, Port: h.Port, User: h.User, Connection: h.Connection,
		IdentityFile: h.IdentityFile, KnownHosts: h.KnownHosts, Jump: h.Jump, StateDir: h.StateDir, Become: h.Become}
}

func (o RollbackOptions) host(ctx context.Context, run *Run, name string) (*engine.Host, error) {
	hc, ok := run.Meta.Hosts[name]
	if !ok {
		return nil, fmt.Errorf("%s: the journal does not say how to reach this host", name)
	}
	inv := hc.HostInventory()
	c, err := o.Conns.Get(ctx, inv)
	if err != nil {
		return nil, err
	}
	if err := o.Conns.Lock(ctx, inv, run.Meta.RunID); err != nil {
		return nil, err
	}
	h := engine.NewHost(name, c, run.Meta.RunID, hc.StateDir, o.Redactor)
	h.Address = hc.Address
	h.Become = hc.Become
	return h, nil
}

// PlanRollback lists the pending changes newest first and checks that each host can be reached
// and each module is known, without changing anything. Drift is checked during Rollback, just
// before each revert: whether an older change to a file drifted can only be told once the newer
// changes to it are undone.
func PlanRollback(ctx context.Context, run *Run, o RollbackOptions) []Step {
	var steps []Step
	for _, c := range run.Pending() {
		st := Step{Change: c}
		if _, err := o.host(ctx, run, c.Host); err != nil {
			st.Err = err
		} else if _, ok := o.Registry.Lookup(c.Module); !ok {
			st.Err = fmt.Errorf("%s: %s: module %q is not in this build", c.Host, c.Task, c.Module)
		}
		steps = append(steps, st)
	}
	return steps
}

// Rollback reverts every pending change of the run, newest first, journaling each revert so an
// interrupted rollback resumes where it stopped. A change whose target was changed by someone
// else since is refused unless Force; a host that cannot be reached keeps its changes pending.
// When every change is reverted, the run's backups on each host are removed.
func Rollback(ctx context.Context, w *Writer, run *Run, o RollbackOptions) *Report {
	rep := &Report{}
	for _, st := range PlanRollback(ctx, run, o) {
		c := st.Change
		if st.Err != nil {
			// Unreachable hosts keep their changes pending for a later `isaplay rollback`.
			rep.Failed = append(rep.Failed, st)
			continue
		}
		h, err := o.host(ctx, run, c.Host)
		var sctx context.Context
		if err == nil {
			h.Become = run.Meta.Hosts[c.Host].Become
			sctx, err = o.secrets(ctx, c)
		}
		mod, _ := o.Registry.Lookup(c.Module)
		if err == nil && !o.Force {
			if rc, ok := mod.(engine.RevertChecker); ok {
				if derr := rc.CheckRevert(sctx, h, c.Undo); derr != nil {
					var drift *engine.DriftError
					if errors.As(derr, &drift) {
						rep.Refused = append(rep.Refused, Step{Change: c, Drift: derr})
						if o.Progress != nil {
							o.Progress(c, derr)
						}
						continue
					}
					err = derr
				}
			}
		}
		if err == nil {
			err = mod.Revert(sctx, h, c.Undo)
		}
		if err != nil {
			err = fmt.Errorf("%s: %s/%s: %w", c.Host, c.Play, c.Task, err)
		}
		if werr := w.Reverted(c.Seq, err); werr != nil && err == nil {
			err = werr
		}
		if o.Progress != nil {
			o.Progress(c, err)
		}
		if err != nil {
			rep.Failed = append(rep.Failed, Step{Change: c, Err: err})
			continue
		}
		c.Reverted = true
		rep.Reverted = append(rep.Reverted, c)
	}
	if rep.Clean() {
		Finish(ctx, run, o)
	}
	return rep
}

// Finish completes a clean rollback: the run's backups on every host it changed are removed,
// and every host it locked is locked for this rollback (same run id) so that the caller's
// Conns.Unlock releases it. It is also what a resumed rollback with nothing left to revert does.
func Finish(ctx context.Context, run *Run, o RollbackOptions) {
	removeBackups(ctx, run, o)
	for _, name := range run.Locked {
		o.host(ctx, run, name)
	}
}

// removeBackups deletes the run's backup directory on every host it touched.
func removeBackups(ctx context.Context, run *Run, o RollbackOptions) {
	touched := map[string]bool{}
	for _, c := range run.Changes {
		touched[c.Host] = true
	}
	for name := range touched {
		h, err := o.host(ctx, run, name)
		if err != nil {
			continue
		}
		h.Become = run.Meta.Hosts[name].Become
		h.Exec(ctx, "rm -rf -- "+conn.Quote(path.Join(h.StateDir, "runs", run.Meta.RunID)))
	}
}
