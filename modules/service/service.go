// Package service implements the service_start and service_stop tasks: start or stop a
// service through its control script (pid file + live process) or systemd, idempotently.
// service_start records the log cursor just before it starts, so that a following wait_log
// reads only what this start wrote.
package service

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/waitlog"
	"github.com/zclconf/go-cty/cty"
)

// The task type names.
const (
	NameStart = "service_start"
	NameStop  = "service_stop"
)

// The methods a service is controlled by.
const (
	MethodScript  = "script"
	MethodSystemd = "systemd"
)

// ResultType is the type of both tasks' results: the log cursor taken just before this task
// started (or stopped) the service ("" when it did nothing) and the pid. The engine adds changed.
var ResultType = cty.Object(map[string]cty.Type{
	"log_cursor": cty.String,
	"pid":        cty.String,
})

func commonAttrs(defaultWait string, waitWhat string) []engine.Attr {
	return []engine.Attr{
		{Name: "method", Type: cty.String, Default: cty.StringVal(MethodScript), Description: "How the service is controlled: \"script\" (a control script taking start|stop, a pid file and a live process) or \"systemd\"."},
		{Name: "script", Type: cty.String, Description: "With method = \"script\": the control script, run as `sh SCRIPT start|stop` (e.g. bin/wso2server.sh)."},
		{Name: "pid_file", Type: cty.String, Description: "With method = \"script\": the pid file the service writes; running means it names a live process."},
		{Name: "unit", Type: cty.String, Description: "With method = \"systemd\": the unit name."},
		{Name: "log_file", Type: cty.String, Description: "The service's log; its cursor (inode:size) is taken just before the change and registered as result.log_cursor for wait_log."},
		{Name: "env", Type: cty.Map(cty.String), Description: "Environment for the control script (JAVA_HOME, JAVA_OPTS...)."},
		{Name: "wait_timeout", Type: cty.String, Default: cty.StringVal(defaultWait), Description: "Longest wait for " + waitWhat + ", as a Go duration."},
	}
}

// service is a decoded task.
type service struct {
	Method  string            `json:"method"`
	Script  string            `json:"script,omitempty"`
	PidFile string            `json:"pid_file,omitempty"`
	Unit    string            `json:"unit,omitempty"`
	LogFile string            `json:"log_file,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Wait    time.Duration     `json:"wait"`
}

func decode(args *engine.Args, defaultWait time.Duration) (*service, error) {
	s := &service{Method: args.String("method"), Script: args.String("script"), PidFile: args.String("pid_file"),
		Unit: args.String("unit"), LogFile: args.String("log_file"), Env: args.StringMap("env"), Wait: defaultWait}
	if s.Method == "" {
		s.Method = MethodScript
	}
	switch s.Method {
	case MethodScript:
		if s.Script == "" {
			return nil, args.Errorf("script", "method = \"script\" needs script")
		}
		if s.PidFile == "" {
			return nil, args.Errorf("pid_file", "method = \"script\" needs pid_file")
		}
	case MethodSystemd:
		if s.Unit == "" {
			return nil, args.Errorf("unit", "method = \"systemd\" needs unit")
		}
	default:
		return nil, args.Errorf("method", "method %q is not \"script\" or \"systemd\"", s.Method)
	}
	for k := range s.Env {
		if !validEnvName(k) {
			return nil, args.Errorf("env", "environment name %q is not a shell variable name", k)
		}
	}
	if w := args.String("wait_timeout"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d <= 0 {
			return nil, args.Errorf("wait_timeout", "wait_timeout %q is not a positive duration", w)
		}
		s.Wait = d
	}
	return s, nil
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

// name is how messages refer to the service.
func (s *service) name() string {
	if s.Method == MethodSystemd {
		return "unit " + s.Unit
	}
	return s.Script
}

// control returns the command line that runs the control script or systemctl with verb.
func (s *service) control(verb string) string {
	if s.Method == MethodSystemd {
		return conn.Join("systemctl", verb, s.Unit)
	}
	argv := []string{}
	if len(s.Env) > 0 {
		argv = append(argv, "env")
		keys := make([]string, 0, len(s.Env))
		for k := range s.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			argv = append(argv, k+"="+s.Env[k])
		}
	}
	argv = append(argv, "sh", s.Script, verb)
	return conn.Join(argv...)
}

// stateFunc defines the shell function svc_state, which prints "state running PID",
// "state stopped" or "state stale PID" (a pid file naming no live process).
func (s *service) stateFunc() string {
	if s.Method == MethodSystemd {
		u := conn.Quote(s.Unit)
		return "svc_state() {\n  a=$(systemctl is-active " + u + " 2>/dev/null); pid=$(systemctl show -p MainPID --value " + u + " 2>/dev/null)\n" +
			"  case \"$a\" in active|activating|reloading) echo \"state running $pid\" ;; *) echo \"state stopped\" ;; esac\n}\n"
	}
	return "svc_state() {\n  pf=" + conn.Quote(s.PidFile) + "\n" + `  pid=
  if [ -s "$pf" ]; then pid=$(head -n 1 "$pf" | tr -dc 0-9); fi
  if [ -n "$pid" ] && { kill -0 "$pid" 2>/dev/null || [ -d "/proc/$pid" ]; }; then echo "state running $pid"
  elif [ -n "$pid" ]; then echo "state stale $pid"
  else echo "state stopped"; fi
}
`
}

// stateScript prints the service's state line.
func (s *service) stateScript() string { return s.stateFunc() + "svc_state\n" }

// waitScript polls (on the host, within one session) until the service is running (want
// "running") or not (want "stopped"; a stale pid file counts), for at most s.Wait. It prints
// the final state line, prefixed with "timeout " when the wait ran out.
func (s *service) waitScript(want string) string {
	steps := int(s.Wait / (200 * time.Millisecond))
	if steps < 1 {
		steps = 1
	}
	match := `"state running "*`
	if want == "stopped" {
		match = `"state stopped"*|"state stale "*`
	}
	return s.stateFunc() + "i=0\nwhile :; do\n  st=$(svc_state)\n" +
		"  case \"$st\" in " + match + ") echo \"$st\"; break ;; esac\n" +
		"  i=$((i + 1)); if [ \"$i\" -ge " + strconv.Itoa(steps) + " ]; then echo \"timeout $st\"; break; fi\n" +
		"  sleep 0.2\ndone\n"
}

// state is what the host said about the service.
type state struct {
	running bool
	pid     string
	cursor  string
	lines   []string
}

func parseState(out string) state {
	var st state
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && f[0] == "state":
			st.running = f[1] == "running"
			st.pid = ""
			if len(f) >= 3 {
				st.pid = f[2]
			}
		case len(f) >= 2 && f[0] == "timeout" && f[1] == "state":
			st.running = len(f) >= 3 && f[2] == "running"
			if len(f) >= 4 {
				st.pid = f[3]
			}
		case len(f) == 2 && f[0] == "cursor":
			st.cursor = f[1]
		case strings.HasPrefix(l, "out "):
			st.lines = append(st.lines, strings.TrimPrefix(l, "out "))
		}
	}
	return st
}

// read returns the service's state and, when a log file is given, its cursor, in one round trip.
func (s *service) read(ctx context.Context, h *engine.Host) (state, error) {
	script := s.stateScript()
	if s.LogFile != "" {
		script += waitlog.CursorScript(s.LogFile) + "\n"
	}
	res, err := h.Run(ctx, conn.Command{Script: script})
	if err != nil {
		return state{}, fmt.Errorf("%s: read state: %w", s.name(), err)
	}
	if !strings.Contains(string(res.Stdout), "state ") {
		return state{}, fmt.Errorf("%s: read state: exit %d: %s", s.name(), res.ExitCode, h.Redact(strings.TrimSpace(string(res.Stderr))))
	}
	return parseState(string(res.Stdout)), nil
}

// transition runs the control verb and waits for the wanted state, in one session. The log
// cursor is taken first, before anything is started or stopped. It returns the final state.
func (s *service) transition(ctx context.Context, h *engine.Host, verb, want string) (state, error) {
	var b strings.Builder
	if s.LogFile != "" {
		b.WriteString(waitlog.CursorScript(s.LogFile) + "\n")
	}
	// A script-started service gets a session of its own (setsid, where util-linux has it), as
	// systemd would give it: isaplay cancelling a later command on the same connection, or
	// closing it, must never take the service down with its process group.
	detach := ""
	if s.Method != MethodSystemd && verb == "start" {
		b.WriteString("D=; if command -v setsid >/dev/null 2>&1; then D=setsid; fi\n")
		detach = "$D "
	}
	b.WriteString("out=$(" + detach + s.control(verb) + " 2>&1 </dev/null); rc=$?\n")
	b.WriteString(`printf '%s\n' "$out" | sed 's/^/out /'` + "\n")
	b.WriteString(`echo "rc $rc"; [ "$rc" = 0 ] || exit 0` + "\n")
	b.WriteString(s.waitScript(want))
	if h.IsPlanning() {
		return state{}, engine.ErrPlanWrite
	}
	wctx, cancel := context.WithTimeout(ctx, s.Wait+time.Minute)
	defer cancel()
	res, err := h.Run(wctx, conn.Command{Script: b.String()})
	if err != nil {
		return state{}, fmt.Errorf("%s %s: %w", s.name(), verb, err)
	}
	out := string(res.Stdout)
	st := parseState(out)
	output := h.Redact(strings.TrimSpace(strings.Join(st.lines, "\n")))
	if rc := rcOf(out); rc != 0 {
		return st, fmt.Errorf("%s %s: exit %d: %s", s.name(), verb, rc, output)
	}
	if strings.Contains(out, "\ntimeout ") || strings.HasPrefix(out, "timeout ") {
		return st, fmt.Errorf("%s %s: not %s after %s (last state: running=%v pid %s); output: %s", s.name(), verb, want, s.Wait, st.running, st.pid, output)
	}
	if (want == "running") != st.running {
		return st, fmt.Errorf("%s %s: not %s; output: %s %s", s.name(), verb, want, output, h.Redact(strings.TrimSpace(string(res.Stderr))))
	}
	return st, nil
}

func rcOf(out string) int {
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "rc "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// undoRecord is the journaled record of a start or stop: how to control the service and what
// this task did. Environment values that are secrets are left out.
type undoRecord struct {
	Service   service `json:"service"`
	Started   bool    `json:"started,omitempty"`
	Stopped   bool    `json:"stopped,omitempty"`
	Restarted bool    `json:"restarted,omitempty"`
}

func newUndo(h *engine.Host, name string, s *service, r undoRecord) engine.Undo {
	r.Service = *s
	if len(s.Env) > 0 {
		r.Service.Env = map[string]string{}
		for k, v := range s.Env {
			if h.Redact(v) == v {
				r.Service.Env[k] = v
			}
		}
	}
	return engine.NewUndo(name, r)
}

func result(cursor, pid cty.Value) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"log_cursor": cursor, "pid": pid})
}
