package waitlog

import (
	"context"
	"fmt"
	"strings"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/zclconf/go-cty/cty"
)

// NameCursor is the log_cursor task type name.
const NameCursor = "log_cursor"

// CursorModule is the log_cursor task type: it records where a log file ends now, for a later
// wait_log on the same host. It lives beside wait_log because the cursor is wait_log's input.
type CursorModule struct{}

var _ engine.Module = CursorModule{}

// CursorResultType is the type of a log_cursor result: the cursor, under the name
// service_start and service_stop register theirs.
var CursorResultType = cty.Object(map[string]cty.Type{
	"log_cursor": cty.String,
})

// Schema declares log_cursor's arguments.
func (CursorModule) Schema() engine.Schema {
	return engine.Schema{
		Description: "Record where a log file on the host ends now (inode:size) as result.log_cursor, for a later wait_log on this host " +
			"(from = result.NAME.log_cursor) that must see only lines written after this point, for instance after a task on another host. " +
			"The cursor is taken when the task runs at apply; a plan shows it as known after apply. It changes nothing.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, Description: "The log file on the host; a missing file gives the cursor \"0:0\" (everything in the file that appears counts)."},
		},
		Example: `task "log_cursor" "before stop" {
  path     = "${var.an_home}/repository/logs/wso2carbon.log"
  register = "before_stop"
}`,
	}
}

// Check takes the cursor. While planning it is unknown: it must be taken when the task runs,
// after the tasks before it and before those after it. At apply the read is the whole task, so
// the change is in sync with the cursor registered (log_compare does the same).
func (CursorModule) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	path := args.String("path")
	if path == "" {
		return nil, args.Errorf("path", "path is empty")
	}
	if h.IsPlanning() {
		return &engine.Change{Action: engine.ActionRun, Summary: "will record the end of " + path,
			Unknown: "the log cursor is taken at apply, when the task runs", Result: cty.UnknownVal(CursorResultType)}, nil
	}
	res, err := h.Run(ctx, conn.Command{Script: CursorScript(path)})
	if err != nil {
		return nil, fmt.Errorf("%s: read the end of the log: %w", path, err)
	}
	cur, err := CursorFromOutput(string(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%s)", path, err, h.Redact(strings.TrimSpace(string(res.Stderr))))
	}
	return &engine.Change{Action: engine.ActionNone, Summary: "log cursor " + cur.String(),
		Result: cty.ObjectVal(map[string]cty.Value{"log_cursor": cty.StringVal(cur.String())})}, nil
}

// Apply does nothing: Check takes the cursor and is never planned to change anything at apply.
func (CursorModule) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error { return nil }

// Revert does nothing: reading changes nothing.
func (CursorModule) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error { return nil }
