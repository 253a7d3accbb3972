package service

import (
	"context"
	"fmt"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/zclconf/go-cty/cty"
)

// StartModule is the service_start task type.
type StartModule struct{}

// StopModule is the service_stop task type.
type StopModule struct{}

var (
	_ engine.Module = StartModule{}
	_ engine.Module = StopModule{}
)

// TaskChanges is what restart_on_change needs from the host the engine passes: whether the
// named earlier task changed something on this host. known is false while planning when that
// is only decided at apply. The engine's Host provides it once the lead wires it.
type TaskChanges interface {
	TaskChanged(task string) (changed, known bool)
}

// Schema declares service_start's arguments.
func (StartModule) Schema() engine.Schema {
	attrs := commonAttrs("120s", "the process to be running (pid file naming a live process, or the unit active)")
	attrs = append(attrs,
		engine.Attr{Name: "restart", Type: cty.Bool, Description: "Restart the service when it is already running, e.g. restart = result.axis2.changed || result.event_processor.changed (Carbon reads conf/ only at startup)."},
		engine.Attr{Name: "restart_on_change", Type: cty.List(cty.String), Description: "Names of earlier tasks: restart a running service when one of them changed something on this host."},
	)
	return engine.Schema{
		Description: "Start a service with its control script or systemd unless it is running. The log cursor (inode:size) is taken just before the start " +
			"and registered as result.log_cursor (\"\" when nothing was started), for a following wait_log.",
		Attrs: attrs,
		Example: `task "service_start" "start_an1" {
  script   = "${var.an_home}/bin/wso2server.sh"
  pid_file = "${var.an_home}/wso2carbon.pid"
  log_file = "${var.an_home}/repository/logs/wso2carbon.log"
  env      = { JAVA_HOME = "/usr/lib/jvm/java-8-openjdk-amd64" }
  register = "start_an1"
}`,
	}
}

// Schema declares service_stop's arguments.
func (StopModule) Schema() engine.Schema {
	return engine.Schema{
		Description: "Stop a running service with its control script or systemd and wait until its process has exited. " +
			"The log cursor taken before the stop is registered as result.log_cursor.",
		Attrs: commonAttrs("120s", "the process to exit"),
		Example: `task "service_stop" "stop_an2" {
  script   = "${var.an_home}/bin/wso2server.sh"
  pid_file = "${var.an_home}/wso2carbon.pid"
  log_file = "${var.an_home}/repository/logs/wso2carbon.log"
  env      = { JAVA_HOME = "/usr/lib/jvm/java-8-openjdk-amd64" }
}`,
	}
}

// private is what Check hands to Apply: the service and whether a running one restarts.
type private struct {
	svc     *service
	restart bool
}

// Check reads whether the service runs (and the log cursor) in one round trip. A running
// service is in sync unless a restart is asked for.
func (StartModule) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	s, err := decode(args, 120*time.Second)
	if err != nil {
		return nil, err
	}
	restart, restartKnown, why := false, true, ""
	if v := args.Value("restart"); !v.IsKnown() {
		restartKnown = false
	} else if args.Has("restart") && v.True() {
		restart, why = true, "restart = true"
	}
	if names := args.Strings("restart_on_change"); len(names) > 0 && !restart {
		tc, ok := any(h).(TaskChanges)
		if !ok {
			return nil, args.Errorf("restart_on_change", "restart_on_change needs the engine to report which tasks changed this host, which this build lacks; use restart = <expression over earlier results>")
		}
		for _, n := range names {
			changed, known := tc.TaskChanged(n)
			if !known {
				restartKnown = false
			} else if changed {
				restart, why = true, "task "+n+" changed this host"
				break
			}
		}
	}
	st, err := s.read(ctx, h)
	if err != nil {
		return nil, err
	}
	unknown := cty.UnknownVal(cty.String)
	if st.running {
		c := &engine.Change{Fingerprint: "running " + st.pid}
		switch {
		case restart:
			c.Action, c.Summary, c.Risks = engine.ActionRun, fmt.Sprintf("will restart %s (pid %s): %s", s.name(), st.pid, why), []string{"restarts a service"}
		case !restartKnown:
			c.Action, c.Summary, c.Risks = engine.ActionRun, fmt.Sprintf("may restart %s (pid %s)", s.name(), st.pid), []string{"restarts a service"}
			c.Unknown = "whether it restarts depends on earlier tasks' changes, known after apply"
			c.Result = cty.UnknownVal(ResultType)
			return c, nil
		default:
			c.Action, c.Summary = engine.ActionNone, fmt.Sprintf("%s is running (pid %s)", s.name(), st.pid)
			c.Result = result(cty.StringVal(""), cty.StringVal(st.pid))
			return c, nil
		}
		c.Details = []string{"run: " + h.Redact(s.control("stop")), "run: " + h.Redact(s.control("start"))}
		c.Undo = newUndo(h, NameStart, s, undoRecord{Restarted: true})
		c.Private = &private{svc: s, restart: true}
		c.Result = result(unknown, unknown)
		return c, nil
	}
	c := &engine.Change{
		Action:      engine.ActionRun,
		Summary:     "will start " + s.name(),
		Details:     []string{"run: " + h.Redact(s.control("start"))},
		Risks:       []string{"starts a service"},
		Fingerprint: "stopped",
		Undo:        newUndo(h, NameStart, s, undoRecord{Started: true}),
		Private:     &private{svc: s},
		Result:      result(unknown, unknown),
	}
	if st.pid != "" {
		c.Summary += " (stale pid file names " + st.pid + ")"
	}
	return c, nil
}

// Apply starts (or restarts) the service and waits until its process runs. The log cursor is
// taken in the same session, just before the start.
func (StartModule) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	p, ok := c.Private.(*private)
	if !ok {
		return fmt.Errorf("%s: apply without a checked change", NameStart)
	}
	if p.restart {
		if _, err := p.svc.transition(ctx, h, "stop", "stopped"); err != nil {
			return err
		}
	}
	st, err := p.svc.transition(ctx, h, "start", "running")
	if err != nil {
		return err
	}
	c.Result = result(cty.StringVal(st.cursor), cty.StringVal(st.pid))
	return nil
}

// Revert stops a service this run started; a restart is not undone (the service ran before
// and runs after). It is idempotent: a stopped service stays stopped.
func (StartModule) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var r undoRecord
	if err := u.Decode(&r); err != nil {
		return fmt.Errorf("%s: undo record: %w", NameStart, err)
	}
	if !r.Started {
		return nil
	}
	st, err := r.Service.read(ctx, h)
	if err != nil {
		return err
	}
	if !st.running {
		return nil
	}
	_, err = r.Service.transition(ctx, h, "stop", "stopped")
	return err
}

// Check reads whether the service runs; a stopped service is in sync.
func (StopModule) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	s, err := decode(args, 120*time.Second)
	if err != nil {
		return nil, err
	}
	st, err := s.read(ctx, h)
	if err != nil {
		return nil, err
	}
	if !st.running {
		return &engine.Change{Action: engine.ActionNone, Summary: s.name() + " is not running", Fingerprint: "stopped",
			Result: result(cty.StringVal(""), cty.StringVal(""))}, nil
	}
	return &engine.Change{
		Action:      engine.ActionRun,
		Summary:     fmt.Sprintf("will stop %s (pid %s)", s.name(), st.pid),
		Details:     []string{"run: " + h.Redact(s.control("stop"))},
		Risks:       []string{"stops a service"},
		Fingerprint: "running " + st.pid,
		Undo:        newUndo(h, NameStop, s, undoRecord{Stopped: true}),
		Private:     &private{svc: s},
		Result:      result(cty.UnknownVal(cty.String), cty.StringVal(st.pid)),
	}, nil
}

// Apply stops the service and waits until its process has exited.
func (StopModule) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	p, ok := c.Private.(*private)
	if !ok {
		return fmt.Errorf("%s: apply without a checked change", NameStop)
	}
	before := c.Result.GetAttr("pid")
	st, err := p.svc.transition(ctx, h, "stop", "stopped")
	if err != nil {
		return err
	}
	c.Result = result(cty.StringVal(st.cursor), before)
	return nil
}

// Revert starts again a service this run stopped, unless it already runs.
func (StopModule) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var r undoRecord
	if err := u.Decode(&r); err != nil {
		return fmt.Errorf("%s: undo record: %w", NameStop, err)
	}
	if !r.Stopped {
		return nil
	}
	st, err := r.Service.read(ctx, h)
	if err != nil {
		return err
	}
	if st.running {
		return nil
	}
	_, err = r.Service.transition(ctx, h, "start", "running")
	return err
}
