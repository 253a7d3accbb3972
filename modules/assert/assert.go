// Package assert implements the assert task: a condition that must hold, checked during the
// plan whenever it is known then (prerequisites: JAVA_HOME, free ports, disk space), and at
// apply otherwise (assertions over earlier tasks' results, across hosts).
package assert

import (
	"context"
	"fmt"

	"github.com/isaplay/isaplay/engine"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type name.
const Name = "assert"

// Module is the assert task type.
type Module struct{}

var _ engine.Module = Module{}

// Schema declares assert's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Fail when a condition is false: the plan fails when it is known during the plan, the apply otherwise. " +
			"Conditions can read earlier results on this host (result.NAME) and on every host (results.NAME, a map by host name).",
		Attrs: []engine.Attr{
			{Name: "condition", Type: cty.Bool, Required: true, Description: "What must be true."},
			{Name: "message", Type: cty.String, Description: "Why it matters, shown when the condition is false."},
		},
		Example: `task "assert" "one_spark_master_alive" {
  run_once  = true
  condition = length([for r in values(results.spark_master) : r if r.value == "ALIVE"]) == 1
  message   = "exactly one Spark master must be ALIVE and the other STANDBY"
}`,
	}
}

// Check fails with the message when the condition is false. An unknown condition (it reads
// results known only after apply) is planned as a check to run.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	v := args.Value("condition")
	msg := args.String("message")
	if msg == "" {
		msg = "assertion"
	}
	switch {
	case !v.IsKnown():
		return &engine.Change{Action: engine.ActionRun, Summary: "will check: " + h.Redact(msg), Unknown: "the condition depends on results known after apply"}, nil
	case v.IsNull():
		return nil, args.Errorf("condition", "%s: condition is null", h.Redact(msg))
	case v.Type() != cty.Bool:
		return nil, args.Errorf("condition", "%s: condition is a %s, not a bool", h.Redact(msg), v.Type().FriendlyName())
	case v.False():
		return nil, args.Errorf("condition", "assertion failed on %s: %s", h.Name, h.Redact(msg))
	}
	return &engine.Change{Action: engine.ActionNone, Summary: "holds: " + h.Redact(msg)}, nil
}

// Apply does nothing: Check made the assertion (the engine re-checks with known values).
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	if c.Unknown != "" && !h.IsPlanning() {
		return fmt.Errorf("assert: the condition is still unknown at apply")
	}
	return nil
}

// Revert does nothing: an assertion changes nothing.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error { return nil }
