// Package logcompare implements the log_compare task: extract a regex group from a log on each
// host and register it, so that a following assert compares the values across hosts.
//
// A task runs on one host at a time and cannot see its own results on the other hosts, so the
// comparison is a second, play-level task over results.NAME (a map by host name):
//
//	task "log_compare" "node_id" {
//	  path     = "${var.an_home}/repository/logs/wso2carbon.log"
//	  regex    = "My Analytics Node ID: (\\S+)"
//	  register = "node_id"
//	}
//	task "assert" "node_ids_differ" {
//	  run_once  = true
//	  condition = length(distinct([for r in values(results.node_id) : r.value])) == length(values(results.node_id))
//	  message   = "every analytics node needs its own my-node-id.dat (spec B4)"
//	}
//
// "All match" is `length(distinct([for r in values(results.X) : r.value])) == 1`.
package logcompare

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type name.
const Name = "log_compare"

// Module is the log_compare task type.
type Module struct{}

var _ engine.Module = Module{}

// ResultType is the type of a log_compare result: the extracted value, the line it came from
// (redacted) and whether a line matched.
var ResultType = cty.Object(map[string]cty.Type{
	"value": cty.String,
	"line":  cty.String,
	"found": cty.Bool,
})

// Schema declares log_compare's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Extract a regex group from a log (or any text file) on the host and register it as result.value, for an assert that compares " +
			"the values across hosts (results.NAME): all differ (node IDs) or all match.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, Description: "The log file on the host."},
			{Name: "regex", Type: cty.String, Required: true, Description: "A regular expression (Go RE2) with one capture group, or a group named value, that extracts the value."},
			{Name: "occurrence", Type: cty.String, Default: cty.StringVal("last"), Description: "Which matching line counts: \"last\" (the current run of the service) or \"first\"."},
			{Name: "required", Type: cty.Bool, Default: cty.True, Description: "Fail when no line matches; otherwise the result has found = false and value = \"\"."},
			{Name: "max_bytes", Type: cty.Number, Default: cty.NumberIntVal(64 << 20), Description: "Read at most this many bytes from the end of the file."},
		},
		Example: `task "log_compare" "node_id" {
  path     = "${var.an_home}/repository/logs/wso2carbon.log"
  regex    = "My Analytics Node ID: (\\S+)"
  register = "node_id"
}`,
	}
}

type spec struct {
	path     string
	re       *regexp.Regexp
	group    int
	first    bool
	required bool
	max      int
}

func decode(args *engine.Args) (*spec, error) {
	s := &spec{path: args.String("path"), required: true, max: args.Int("max_bytes", 64<<20)}
	if args.Has("required") {
		s.required = args.Bool("required")
	}
	switch args.String("occurrence") {
	case "", "last":
	case "first":
		s.first = true
	default:
		return nil, args.Errorf("occurrence", "occurrence must be \"first\" or \"last\", not %q", args.String("occurrence"))
	}
	if s.path == "" {
		return nil, args.Errorf("path", "path is empty")
	}
	if s.max <= 0 {
		return nil, args.Errorf("max_bytes", "max_bytes must be positive")
	}
	re, err := regexp.Compile(args.String("regex"))
	if err != nil {
		return nil, args.Errorf("regex", "regex %q does not compile: %v", args.String("regex"), err)
	}
	s.re = re
	if i := re.SubexpIndex("value"); i > 0 {
		s.group = i
	} else if re.NumSubexp() == 1 {
		s.group = 1
	} else {
		return nil, args.Errorf("regex", "regex %q needs exactly one capture group, or one named value", re)
	}
	return s, nil
}

// Check reads the value. While planning it is unknown: the log is normally written by a
// service this run starts. At apply the read (read-only) is the whole task, so the change is
// in sync with the value registered.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	s, err := decode(args)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("read /%s/ from %s", s.re, s.path)
	if h.IsPlanning() {
		return &engine.Change{Action: engine.ActionRun, Summary: "will " + h.Redact(summary), Unknown: "the value is known after apply", Result: cty.UnknownVal(ResultType)}, nil
	}
	value, line, found, err := s.extract(ctx, h)
	if err != nil {
		return nil, err
	}
	if !found && s.required {
		return nil, fmt.Errorf("%s: no line matches /%s/", s.path, h.Redact(s.re.String()))
	}
	res := cty.ObjectVal(map[string]cty.Value{"value": cty.StringVal(h.Redact(value)), "line": cty.StringVal(h.Redact(line)), "found": cty.BoolVal(found)})
	sum := "read " + h.Redact(value)
	if !found {
		sum = "no line matches"
	}
	return &engine.Change{Action: engine.ActionNone, Summary: sum, Result: res}, nil
}

// extract streams the end of the file through one session and keeps the first or last match.
func (s *spec) extract(ctx context.Context, h *engine.Host) (value, line string, found bool, err error) {
	q := conn.Quote(s.path)
	sc := &scanner{spec: s}
	res, err := h.Run(ctx, conn.Command{Script: "if [ ! -e " + q + " ]; then echo missing >&2; exit 4; fi; tail -c " + strconv.Itoa(s.max) + " -- " + q, Stdout: sc})
	if err != nil {
		return "", "", false, fmt.Errorf("%s: read: %w", s.path, err)
	}
	if res.ExitCode == 4 {
		if s.required {
			return "", "", false, fmt.Errorf("%s does not exist on %s", s.path, h.Name)
		}
		return "", "", false, nil
	}
	if res.ExitCode != 0 {
		return "", "", false, fmt.Errorf("%s: read: exit %d: %s", s.path, res.ExitCode, h.Redact(strings.TrimSpace(string(res.Stderr))))
	}
	sc.Write([]byte("\n"))
	return sc.value, sc.line, sc.found, nil
}

// Apply does nothing: Check does the read and is never planned to change anything at apply.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error { return nil }

// Revert does nothing: reading changes nothing.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error { return nil }

// scanner matches streamed lines.
type scanner struct {
	spec  *spec
	mu    sync.Mutex
	buf   []byte
	value string
	line  string
	found bool
}

func (sc *scanner) Write(p []byte) (int, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.buf = append(sc.buf, p...)
	for {
		i := bytes.IndexByte(sc.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l := strings.TrimRight(string(sc.buf[:i]), "\r")
		sc.buf = sc.buf[i+1:]
		if sc.found && sc.spec.first {
			continue
		}
		if m := sc.spec.re.FindStringSubmatch(l); m != nil {
			sc.value, sc.line, sc.found = m[sc.spec.group], l, true
		}
	}
}
