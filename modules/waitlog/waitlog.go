// Package waitlog implements the wait_log task: follow a log file on the host from a cursor
// (typically recorded by service_start just before it started the service) until every
// required pattern has appeared, failing at once on a failure pattern and after a timeout.
// It also implements log_cursor, a task that only records a cursor: a wait for what a task on
// another host makes this host log (a passive node taking over when the active one stops)
// reads from a cursor taken on this host before that task.
package waitlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type name.
const Name = "wait_log"

// Module is the wait_log task type.
type Module struct{}

var _ engine.Module = Module{}
var _ engine.Validator = Module{}

// ResultType is the type of a wait_log task's result: the matched lines in pattern order, the
// named regex groups they captured, and how many new lines were read.
var ResultType = cty.Object(map[string]cty.Type{
	"skipped":    cty.Bool,
	"matched":    cty.List(cty.String),
	"captures":   cty.Map(cty.String),
	"lines_read": cty.Number,
	"tolerated":  cty.Number,
})

// Schema declares wait_log's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Follow a log file on the host from a cursor and wait until every required pattern has appeared (any order), " +
			"failing at once on a failure pattern. One streaming session per wait; lines written before the cursor never match; rotation is followed.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, Description: "The log file on the host."},
			{Name: "from", Type: cty.String, Description: "Where to start reading: a cursor \"inode:offset\" (result.log_cursor of service_start, service_stop or log_cursor), \"end\" (the file's end when the task starts; the default) or \"beginning\". An empty string means the preceding start did nothing, so there is nothing to wait for."},
			{Name: "patterns", Type: cty.List(cty.String), Required: true, Description: "Regular expressions (Go RE2 syntax) that must all match a new line, in any order. Named groups (?P<name>...) are registered in result.captures."},
			{Name: "fail_patterns", Type: cty.List(cty.String), Description: "Regular expressions that fail the task as soon as a new line matches one."},
			{Name: "tolerate", Type: cty.List(cty.String), Description: "Regular expressions of transient lines that never fail the task, even when a fail pattern matches them."},
			{Name: "wait_timeout", Type: cty.String, Default: cty.StringVal("300s"), Description: "Longest wait, as a Go duration."},
			{Name: "tail_lines", Type: cty.Number, Default: cty.NumberIntVal(20), Description: "How many last lines of the log a failure shows."},
		},
		Example: `task "wait_log" "an1_up" {
  path          = "${var.an_home}/repository/logs/wso2carbon.log"
  from          = result.start_an1.log_cursor
  patterns      = ["Became CEP HA Active Member", "WSO2 Carbon started in \\d+ sec"]
  fail_patterns = ["java\\.net\\.BindException", "CEP started with clustering enabled, but SingleNode configuration given"]
  tolerate      = ["CEP HA State syncing failed,"]
  wait_timeout  = "300s"
}`,
	}
}

// spec is a decoded wait_log task.
type spec struct {
	path     string
	patterns []*regexp.Regexp
	fail     []*regexp.Regexp
	tolerate []*regexp.Regexp
	timeout  time.Duration
	tail     int
}

func compileList(args *engine.Args, name string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range args.Strings(name) {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, args.Errorf(name, "pattern %q does not compile: %v", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func decode(args *engine.Args) (*spec, error) {
	s := &spec{path: args.String("path"), tail: args.Int("tail_lines", 20)}
	if s.path == "" {
		return nil, args.Errorf("path", "path is empty")
	}
	var err error
	if s.patterns, err = compileList(args, "patterns"); err != nil {
		return nil, err
	}
	if len(s.patterns) == 0 {
		return nil, args.Errorf("patterns", "at least one pattern is required")
	}
	if s.fail, err = compileList(args, "fail_patterns"); err != nil {
		return nil, err
	}
	if s.tolerate, err = compileList(args, "tolerate"); err != nil {
		return nil, err
	}
	to := args.String("wait_timeout")
	if to == "" {
		to = "300s"
	}
	if s.timeout, err = time.ParseDuration(to); err != nil || s.timeout <= 0 {
		return nil, args.Errorf("wait_timeout", "wait_timeout %q is not a positive duration", to)
	}
	return s, nil
}

// Validate checks the patterns and the timeout without a host.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	if _, err := decode(args); err != nil {
		var ae *engine.ArgError
		if errors.As(err, &ae) {
			return hcl.Diagnostics{args.Diag(ae.Arg, "Invalid wait_log argument", ae.Msg)}
		}
		return hcl.Diagnostics{args.Diag("", "Invalid wait_log argument", err.Error())}
	}
	return nil
}

// private is what Check hands to Apply.
type private struct {
	spec   *spec
	cursor Cursor
}

// Check decides where to read from. It never waits: waiting is Apply's job. While planning the
// result is unknown; an explicit empty `from` (nothing was started) is in sync.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	s, err := decode(args)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("will wait for %d pattern%s in %s (timeout %s)", len(s.patterns), plural(len(s.patterns)), s.path, s.timeout)
	details := make([]string, 0, len(s.patterns))
	for _, p := range s.patterns {
		details = append(details, "wait for: "+h.Redact(p.String()))
	}
	for _, p := range s.fail {
		details = append(details, "fail on:  "+h.Redact(p.String()))
	}
	c := &engine.Change{Action: engine.ActionRun, Summary: summary, Details: details,
		Unknown: "the log lines are known after apply", Result: cty.UnknownVal(ResultType)}

	from := args.Value("from")
	var cur Cursor
	switch {
	case !from.IsKnown():
		return c, nil
	case args.Has("from") && from.AsString() == "":
		return &engine.Change{Action: engine.ActionNone, Summary: "nothing was started: no wait", Result: skippedResult()}, nil
	case !args.Has("from") || from.AsString() == "end":
		if h.IsPlanning() {
			return c, nil
		}
		res, err := h.Run(ctx, conn.Command{Script: CursorScript(s.path)})
		if err != nil {
			return nil, fmt.Errorf("%s: read the end of the log: %w", s.path, err)
		}
		if cur, err = CursorFromOutput(string(res.Stdout)); err != nil {
			return nil, fmt.Errorf("%s: %w (%s)", s.path, err, h.Redact(strings.TrimSpace(string(res.Stderr))))
		}
	case from.AsString() == "beginning":
		cur = Cursor{}
	default:
		if cur, err = ParseCursor(from.AsString()); err != nil {
			return nil, args.Errorf("from", "%v", err)
		}
	}
	c.Private = &private{spec: s, cursor: cur}
	return c, nil
}

// Apply streams the log on one session and returns when every pattern has matched, a failure
// pattern matched, or the timeout passed. A failure shows the last lines of the log.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	p, ok := c.Private.(*private)
	if !ok {
		return fmt.Errorf("wait_log: apply without a checked change")
	}
	s := p.spec
	began := time.Now()
	wctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	m := newMatcher(s, cancel)
	backstop := int(s.timeout/time.Second) + 30
	res, runErr := h.Run(wctx, conn.Command{Script: followScript(s.path, p.cursor, backstop), Stdout: m})
	m.flush()
	st := m.state()

	switch {
	case st.done:
		c.Result = st.result(h.Redact)
		return nil
	case st.failLine != "":
		return fmt.Errorf("%s: failure line after %d new lines: %s\n%s", s.path, st.lines, h.Redact(st.failLine), tailOf(ctx, h, s))
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%s: %w", s.path, ctx.Err())
	case wctx.Err() != nil:
		// Our wait_timeout or the task's own timeout (a deadline on ctx) ran out.
		took := time.Since(began).Round(time.Second)
		msg := fmt.Sprintf("%s: timed out after %s (%d new lines); still missing: %s", s.path, took, st.lines, h.Redact(strings.Join(st.missing(), ", ")))
		if st.tolerated > 0 {
			msg += fmt.Sprintf(" (%d tolerated transient lines seen, last: %s)", st.tolerated, h.Redact(st.lastTolerated))
		}
		return errors.New(msg + "\n" + tailOf(ctx, h, s))
	case runErr != nil:
		return fmt.Errorf("%s: follow the log: %w", s.path, runErr)
	default:
		return fmt.Errorf("%s: following the log stopped (exit %d: %s); still missing: %s\n%s", s.path, res.ExitCode,
			h.Redact(strings.TrimSpace(string(res.Stderr))), h.Redact(strings.Join(st.missing(), ", ")), tailOf(ctx, h, s))
	}
}

// Revert does nothing: waiting changes nothing.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error { return nil }

// tailOf returns the last lines of the log, redacted, for an error message. It uses its own
// short deadline so that a timed-out wait still shows them.
func tailOf(ctx context.Context, h *engine.Host, s *spec) string {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	res, err := h.Run(tctx, conn.Command{Script: fmt.Sprintf("tail -n %d -- %s", s.tail, conn.Quote(s.path))})
	if err != nil {
		return fmt.Sprintf("(could not read the last lines of %s: %v)", s.path, err)
	}
	out := strings.TrimRight(string(res.Stdout), "\n")
	if out == "" {
		return fmt.Sprintf("(%s is empty or missing)", s.path)
	}
	return fmt.Sprintf("last %d lines of %s:\n%s", s.tail, s.path, h.Redact(out))
}

func skippedResult() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"skipped":    cty.True,
		"matched":    cty.ListValEmpty(cty.String),
		"captures":   cty.MapValEmpty(cty.String),
		"lines_read": cty.NumberIntVal(0),
		"tolerated":  cty.NumberIntVal(0),
	})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// testHookLine, when set by a test, sees every new line as it is read.
var testHookLine func(string)

// matcher is the io.Writer the log streams into: it splits lines and matches them.
type matcher struct {
	spec   *spec
	cancel context.CancelFunc
	mu     sync.Mutex
	buf    []byte
	st     status
}

type status struct {
	spec          *spec
	matched       []string // per pattern, the line that matched it
	captures      map[string]string
	lines         int
	tolerated     int
	lastTolerated string
	failLine      string
	done          bool
}

func newMatcher(s *spec, cancel context.CancelFunc) *matcher {
	return &matcher{spec: s, cancel: cancel, st: status{spec: s, matched: make([]string, len(s.patterns)), captures: map[string]string{}}}
}

func (m *matcher) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.done || m.st.failLine != "" {
		return len(p), nil
	}
	m.buf = append(m.buf, p...)
	for {
		i := bytes.IndexByte(m.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(m.buf[:i]), "\r")
		m.buf = m.buf[i+1:]
		if m.line(line) {
			m.cancel()
			break
		}
	}
	return len(p), nil
}

// flush matches a last line that had no newline yet.
func (m *matcher) flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.buf) > 0 && !m.st.done && m.st.failLine == "" {
		m.line(strings.TrimRight(string(m.buf), "\r"))
	}
	m.buf = nil
}

// line handles one new line and reports whether the wait is over.
func (m *matcher) line(l string) bool {
	st := &m.st
	st.lines++
	if testHookLine != nil {
		testHookLine(l)
	}
	for _, re := range m.spec.tolerate {
		if re.MatchString(l) {
			st.tolerated++
			st.lastTolerated = l
			return false
		}
	}
	for _, re := range m.spec.fail {
		if re.MatchString(l) {
			st.failLine = l
			return true
		}
	}
	for i, re := range m.spec.patterns {
		if st.matched[i] != "" {
			continue
		}
		sub := re.FindStringSubmatch(l)
		if sub == nil {
			continue
		}
		st.matched[i] = l
		for j, name := range re.SubexpNames() {
			if name != "" && j < len(sub) {
				if _, seen := st.captures[name]; !seen {
					st.captures[name] = sub[j]
				}
			}
		}
	}
	for _, l := range st.matched {
		if l == "" {
			return false
		}
	}
	st.done = true
	return true
}

func (m *matcher) state() status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

func (st status) missing() []string {
	var out []string
	for i, l := range st.matched {
		if l == "" {
			out = append(out, st.spec.patterns[i].String())
		}
	}
	return out
}

func (st status) result(redact func(string) string) cty.Value {
	lines := make([]cty.Value, len(st.matched))
	for i, l := range st.matched {
		lines[i] = cty.StringVal(redact(l))
	}
	caps := cty.MapValEmpty(cty.String)
	if len(st.captures) > 0 {
		m := map[string]cty.Value{}
		for k, v := range st.captures {
			m[k] = cty.StringVal(redact(v))
		}
		caps = cty.MapVal(m)
	}
	matched := cty.ListValEmpty(cty.String)
	if len(lines) > 0 {
		matched = cty.ListVal(lines)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"skipped":    cty.False,
		"matched":    matched,
		"captures":   caps,
		"lines_read": cty.NumberIntVal(int64(st.lines)),
		"tolerated":  cty.NumberIntVal(int64(st.tolerated)),
	})
}
