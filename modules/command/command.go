// Package command implements the command task: the escape hatch that runs a program on the
// host, guarded by creates/removes paths or an unless command, with its output registered
// (redacted) for later tasks.
package command

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type name.
const Name = "command"

// Module is the command task type.
type Module struct{}

var _ engine.Module = Module{}

// ResultType is the type of a command's result: its redacted output and exit status, and
// whether a guard skipped it.
var ResultType = cty.Object(map[string]cty.Type{
	"stdout":  cty.String,
	"stderr":  cty.String,
	"rc":      cty.Number,
	"skipped": cty.Bool,
})

// Schema declares the command task's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Run a program on the host (argv, not a shell string, unless shell = true). creates, removes or unless make it idempotent; " +
			"otherwise the plan says plainly that it will run. Output is registered as result.stdout/stderr/rc, redacted of secrets.",
		Attrs: []engine.Attr{
			{Name: "argv", Type: cty.List(cty.String), Description: "The program and its arguments, each passed as one word."},
			{Name: "cmd", Type: cty.String, Description: "A shell command line, run with sh -c; needs shell = true."},
			{Name: "shell", Type: cty.Bool, Description: "Allow cmd, a shell string (pipes, redirections). Values pasted into it are the playbook's responsibility."},
			{Name: "creates", Type: cty.String, Description: "Skip the command when this path exists."},
			{Name: "removes", Type: cty.String, Description: "Skip the command when this path does not exist."},
			{Name: "unless", Type: cty.DynamicPseudoType, Description: "A read-only check, run during plan and apply: a list (argv) or a string (shell). Exit 0 means in sync, so the command is skipped."},
			{Name: "env", Type: cty.Map(cty.String), Description: "Environment variables for the command and the unless check."},
			{Name: "stdin", Type: cty.String, Description: "Text fed to the command's standard input (never on a command line; safe for secrets)."},
			{Name: "chdir", Type: cty.String, Description: "Directory to run in."},
			{Name: "revert_argv", Type: cty.List(cty.String), Description: "A program that undoes the command, run on rollback (must hold no secret: it is journaled)."},
		},
		Example: `task "command" "java_version" {
  argv     = ["sh", "-c", "$JAVA_HOME/bin/java -version"]
  env      = { JAVA_HOME = "/usr/lib/jvm/java-8-openjdk-amd64" }
  unless   = ["test", "-f", "/opt/wso2/.java-checked"]
  register = "java_version"
}`,
	}
}

// spec is a decoded command task.
type spec struct {
	line    string // the command line as run (argv quoted, or the shell string)
	shown   string // the line for humans
	unless  string
	creates string
	removes string
	stdin   string
	hasIn   bool
}

func envPrefix(env map[string]string) (string, error) {
	if len(env) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		if !validEnvName(k) {
			return "", fmt.Errorf("environment name %q is not a shell variable name", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := []string{"env"}
	for _, k := range keys {
		words = append(words, k+"="+env[k])
	}
	return conn.Join(words...) + " ", nil
}

func validEnvName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// wrap builds the full script for a command body: chdir, then the environment.
func wrap(chdir, env, body string, shell bool) string {
	s := ""
	if chdir != "" {
		s = "cd " + conn.Quote(chdir) + " && "
	}
	if shell {
		return s + env + conn.Join("sh", "-c", body)
	}
	return s + env + body
}

func decode(args *engine.Args) (*spec, error) {
	env, err := envPrefix(args.StringMap("env"))
	if err != nil {
		return nil, args.Errorf("env", "%v", err)
	}
	chdir := args.String("chdir")
	s := &spec{creates: args.String("creates"), removes: args.String("removes"), stdin: args.String("stdin"), hasIn: args.Has("stdin")}
	argv := args.Strings("argv")
	switch {
	case args.Has("argv") && args.Has("cmd"):
		return nil, args.Errorf("cmd", "give argv or cmd, not both")
	case args.Has("cmd"):
		if !args.Bool("shell") {
			return nil, args.Errorf("cmd", "cmd is a shell string; set shell = true, or give argv")
		}
		s.line = wrap(chdir, env, args.String("cmd"), true)
		s.shown = args.String("cmd")
	case len(argv) > 0:
		s.line = wrap(chdir, env, conn.Join(argv...), false)
		s.shown = conn.Join(argv...)
	default:
		return nil, args.Errorf("argv", "argv (a non-empty list) or cmd is required")
	}
	if u := args.Value("unless"); args.Has("unless") && u.IsKnown() {
		switch {
		case u.Type() == cty.String:
			s.unless = wrap(chdir, env, u.AsString(), true)
		case u.Type().IsListType() || u.Type().IsTupleType():
			var words []string
			for it := u.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.Type() != cty.String || e.IsNull() || !e.IsKnown() {
					return nil, args.Errorf("unless", "unless as a list must hold strings only")
				}
				words = append(words, e.AsString())
			}
			if len(words) == 0 {
				return nil, args.Errorf("unless", "unless is an empty list")
			}
			s.unless = wrap(chdir, env, conn.Join(words...), false)
		default:
			return nil, args.Errorf("unless", "unless must be a list (argv) or a string (shell), not %s", u.Type().FriendlyName())
		}
	}
	return s, nil
}

// undoRecord is the journaled undo of a command: the program that reverts it, if any.
type undoRecord struct {
	Script string `json:"script,omitempty"`
}

// StatPaths is what Check stats: the creates and removes guards.
func (Module) StatPaths(args *engine.Args) []engine.StatPath {
	var out []engine.StatPath
	for _, name := range []string{"creates", "removes"} {
		if p := args.String(name); p != "" {
			out = append(out, engine.StatPath{Path: p})
		}
	}
	return out
}

// Check evaluates the guards (creates/removes through the plan overlay, then unless, which is
// read-only by contract). An unguarded or failing-guard command will run.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	s, err := decode(args)
	if err != nil {
		return nil, err
	}
	if !args.Value("unless").IsKnown() {
		return &engine.Change{Action: engine.ActionRun, Summary: "will run: " + h.Redact(s.shown), Unknown: "unless depends on earlier results; the command's effect is known after apply",
			Result: cty.UnknownVal(ResultType), Private: s}, nil
	}
	skip := func(why string) *engine.Change {
		return &engine.Change{Action: engine.ActionNone, Summary: "skipped: " + h.Redact(why), Result: cty.ObjectVal(map[string]cty.Value{
			"stdout": cty.StringVal(""), "stderr": cty.StringVal(""), "rc": cty.NumberIntVal(0), "skipped": cty.True})}
	}
	if s.creates != "" || s.removes != "" {
		var paths []string
		if s.creates != "" {
			paths = append(paths, s.creates)
		}
		if s.removes != "" {
			paths = append(paths, s.removes)
		}
		infos, err := h.Stat(ctx, paths, false)
		if err != nil {
			return nil, fmt.Errorf("command guards: %w", err)
		}
		i := 0
		if s.creates != "" {
			if infos[0].Exists {
				return skip(s.creates + " exists"), nil
			}
			i = 1
		}
		if s.removes != "" && !infos[i].Exists {
			return skip(s.removes + " does not exist"), nil
		}
	}
	if s.unless != "" {
		res, err := h.Run(ctx, conn.Command{Script: s.unless + " >/dev/null 2>&1"})
		if err != nil {
			return nil, fmt.Errorf("command unless: %w", err)
		}
		if res.ExitCode == 0 {
			return skip("unless succeeded"), nil
		}
	}
	c := &engine.Change{
		Action:  engine.ActionRun,
		Summary: "will run: " + h.Redact(s.shown),
		Details: []string{"command: " + h.Redact(s.line)},
		Unknown: "the command's effect is known after apply",
		Result:  cty.UnknownVal(ResultType),
		Private: s,
	}
	if s.hasIn {
		c.Details = append(c.Details, "stdin: "+engine.Mask)
	}
	if rv := args.Strings("revert_argv"); len(rv) > 0 {
		script := wrap(args.String("chdir"), "", conn.Join(rv...), false)
		if h.Redact(script) != script {
			return nil, args.Errorf("revert_argv", "revert_argv holds a secret, and undo records are journaled; pass secrets another way")
		}
		c.Undo = engine.NewUndo(Name, undoRecord{Script: script})
		c.Details = append(c.Details, "on rollback: "+script)
	}
	return c, nil
}

// Apply runs the command; a non-zero exit is an error carrying the redacted output.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	s, ok := c.Private.(*spec)
	if !ok {
		return fmt.Errorf("command: apply without a checked change")
	}
	cmd := conn.Command{Script: s.line}
	if s.hasIn {
		cmd.Stdin = strings.NewReader(s.stdin)
	}
	if h.IsPlanning() {
		return engine.ErrPlanWrite
	}
	res, err := h.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("command %s: %w", h.Redact(s.shown), err)
	}
	stdout, stderr := h.Redact(string(res.Stdout)), h.Redact(string(res.Stderr))
	c.Result = cty.ObjectVal(map[string]cty.Value{
		"stdout": cty.StringVal(stdout), "stderr": cty.StringVal(stderr), "rc": cty.NumberIntVal(int64(res.ExitCode)), "skipped": cty.False})
	if res.ExitCode != 0 {
		out := strings.TrimSpace(stderr)
		if out == "" {
			out = strings.TrimSpace(stdout)
		}
		return fmt.Errorf("command %s: exit %d: %s", h.Redact(s.shown), res.ExitCode, lastLines(out, 20))
	}
	return nil
}

// Revert runs revert_argv when the task had one; otherwise a command cannot be undone.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	if len(u.Data) == 0 {
		return nil
	}
	var r undoRecord
	if err := u.Decode(&r); err != nil {
		return fmt.Errorf("command: undo record: %w", err)
	}
	if r.Script == "" {
		return nil
	}
	return h.ExecCommand(ctx, conn.Command{Script: r.Script})
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
