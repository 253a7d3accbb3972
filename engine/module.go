package engine

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Module is one task type. A module is stateless: every call gets the host and the arguments
// or the change it works on, so one value serves every host and task concurrently.
type Module interface {
	// Schema declares the module's arguments once; the loader, `isaplay modules` and the
	// documentation tests read it.
	Schema() Schema
	// Check reads the current state of h and returns what Apply would change, with the undo
	// record that change will need. It never writes: during a plan h refuses writes, and reads
	// see what earlier tasks will have written. A Change with Action None means "in sync".
	Check(ctx context.Context, h *Host, args *Args) (*Change, error)
	// Apply makes the change Check described. The engine has journaled and fsynced c.Undo
	// before calling it. It may set c.Result to what later tasks can read.
	Apply(ctx context.Context, h *Host, c *Change) error
	// Revert undoes one applied change from its record. It is idempotent: reverting twice, or
	// reverting a change whose Apply never ran or stopped half way, leaves the host as before.
	Revert(ctx context.Context, h *Host, u Undo) error
}

// Validator is implemented by modules that can check their decoded arguments without a host
// (an XPath that does not compile, a mode out of range). Errors are placed at the argument.
type Validator interface {
	Validate(args *Args) hcl.Diagnostics
}

// PathStatter is implemented by modules whose Check stats host paths known from the arguments
// alone. Before a play the engine stats them for every task, in the same round trip time as the
// read-ahead of files, and Host.Stat then answers them without a round trip until a change may
// have altered them.
type PathStatter interface {
	// StatPaths returns the paths Check will stat for args, each with the hash flag of Check's
	// call (so big files are never hashed needlessly). A Stat call of Check needs all its paths
	// here to be spared its round trip. It must not read the host.
	StatPaths(args *Args) []StatPath
}

// StatPath is one path a Check will stat, and whether it asks for the sha256 of a regular file.
type StatPath struct {
	Path string
	Hash bool
}

// Action is the kind of change a task makes.
type Action string

// The actions a Change can have.
const (
	ActionNone   Action = "none"   // in sync: nothing to do
	ActionCreate Action = "create" // something new appears
	ActionUpdate Action = "update" // something existing changes
	ActionDelete Action = "delete" // something is removed
	ActionRun    Action = "run"    // a command or start whose effect cannot be predicted
)

// Change is what a task would do on one host.
type Change struct {
	// Action is the kind of change; ActionNone means in sync.
	Action Action `json:"action"`
	// Summary is one line for humans ("set 2 keys", "create link -> /opt/x").
	Summary string `json:"summary"`
	// Diff is a unified diff of a file change, redacted of secrets; empty otherwise.
	Diff string `json:"diff,omitempty"`
	// Details are extra lines shown under the summary (the SQL to run, the command), redacted.
	Details []string `json:"details,omitempty"`
	// Unknown says the effect is only known after apply, with why.
	Unknown string `json:"unknown,omitempty"`
	// Risks are short flags for reviewers, such as "restarts a service" or "creates a database".
	Risks []string `json:"risks,omitempty"`
	// Fingerprint is a digest of the state Check read (e.g. sha256 of the file); a saved plan
	// re-runs Check before applying and refuses when it differs.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Undo is the record Revert needs; the engine journals it before Apply.
	Undo Undo `json:"-"`
	// Effects are what Apply will leave on the host, applied to the plan's overlay so that later
	// tasks are planned against them.
	Effects []Effect `json:"-"`
	// Private is module data carried from Check to Apply (new file bytes, statements); never
	// serialised.
	Private any `json:"-"`
	// Result is the task's result for later tasks; unknown during a plan when it depends on apply.
	Result cty.Value `json:"-"`
}

// Undo is the record that reverts one change. Data is module-defined JSON; it names backups on
// the host and their sha256, previous link targets, created objects — never file contents or
// secrets.
type Undo struct {
	Module string          `json:"module,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// NewUndo encodes a module's undo record.
func NewUndo(module string, data any) Undo {
	b, err := json.Marshal(data)
	if err != nil {
		panic("engine: undo record does not encode: " + err.Error())
	}
	return Undo{Module: module, Data: b}
}

// Decode decodes the module-defined record into v.
func (u Undo) Decode(v any) error { return json.Unmarshal(u.Data, v) }

// EffectKind is the kind of state an Effect leaves.
type EffectKind string

// The kinds of effect the plan overlay understands.
const (
	EffectFile    EffectKind = "file"    // a regular file with Data, Mode, UID, GID
	EffectDir     EffectKind = "dir"     // a directory (and its parents)
	EffectSymlink EffectKind = "symlink" // a link to Target
	EffectRemove  EffectKind = "remove"  // nothing at Path, nor below it
)

// Effect is one piece of host state a change leaves behind, as the plan overlay records it.
type Effect struct {
	Kind   EffectKind
	Path   string
	Data   []byte
	Mode   uint32
	UID    int
	GID    int
	Target string
}
