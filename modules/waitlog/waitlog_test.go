package waitlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

// countingConn counts the commands run on it, to prove one session per wait.
type countingConn struct {
	conn.Conn
	runs atomic.Int32
}

func (c *countingConn) Run(ctx context.Context, cmd conn.Command) (conn.Result, error) {
	c.runs.Add(1)
	return c.Conn.Run(ctx, cmd)
}

func carbonLine(level, msg string) string {
	cls := "org.wso2.carbon.core.internal.StartupFinalizerServiceComponent"
	return fmt.Sprintf("TID: [-1234] [] [2026-11-25 10:00:00,123] %5s {%s} -  %s {%s}\n", level, cls, msg, cls)
}

func appendFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l); err != nil {
			t.Fatal(err)
		}
	}
}

func cursorOf(t *testing.T, path string) string {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Sys().(*syscall.Stat_t).Ino, st.Size())
}

func args(path string, vals map[string]cty.Value) *engine.Args {
	m := map[string]cty.Value{"path": cty.StringVal(path)}
	for k, v := range vals {
		m[k] = v
	}
	return engine.NewArgs(Name, m)
}

func strs(s ...string) cty.Value {
	vs := make([]cty.Value, len(s))
	for i, x := range s {
		vs[i] = cty.StringVal(x)
	}
	return cty.ListVal(vs)
}

// run checks and applies a wait_log task, with lines appended by during (which may run
// concurrently with the wait) after Apply has started.
func run(t *testing.T, h *engine.Host, a *engine.Args) (*engine.Change, error) {
	t.Helper()
	ctx := context.Background()
	c, err := Module{}.Check(ctx, h, a)
	if err != nil {
		return nil, err
	}
	if c.Action == engine.ActionNone {
		return c, nil
	}
	return c, Module{}.Apply(ctx, h, c)
}

func TestWaitNeverMatchesLinesBeforeCursor(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	appendFile(t, log, carbonLine("INFO", "WSO2 Carbon started in 61 sec"), carbonLine("INFO", "Became CEP HA Active Member"))
	from := cursorOf(t, log)
	appendFile(t, log, carbonLine("INFO", "Starting WSO2 Carbon..."), carbonLine("INFO", "WSO2 Carbon started in 7 sec"))

	cc := &countingConn{Conn: local.New()}
	h := engine.NewHost("n1", cc, "run1", dir, nil)
	c, err := run(t, h, args(log, map[string]cty.Value{
		"from":         cty.StringVal(from),
		"patterns":     strs(`WSO2 Carbon started in (?P<secs>\d+) sec`),
		"wait_timeout": cty.StringVal("20s"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Result.GetAttr("captures").Index(cty.StringVal("secs")).AsString()
	if got != "7" {
		t.Fatalf("matched a line from before the cursor: secs=%s", got)
	}
	if n := cc.runs.Load(); n != 1 {
		t.Fatalf("wait used %d remote sessions, want 1", n)
	}

	// Only old lines: the same wait times out and shows the log's tail.
	_, err = run(t, h, args(log, map[string]cty.Value{
		"from":         cty.StringVal(cursorOf(t, log)),
		"patterns":     strs(`WSO2 Carbon started`, `Became CEP HA Active Member`),
		"wait_timeout": cty.StringVal("1s"),
	}))
	if err == nil || !timedOut.MatchString(err.Error()) || !strings.Contains(err.Error(), "still missing: WSO2 Carbon started, Became CEP HA Active Member") {
		t.Fatalf("want a timeout naming both patterns, got %v", err)
	}
	if !strings.Contains(err.Error(), "last 20 lines of "+log) || !strings.Contains(err.Error(), "WSO2 Carbon started in 7 sec") {
		t.Fatalf("timeout does not show the log tail: %v", err)
	}
}

var timedOut = regexp.MustCompile(`timed out after \d+s \(\d+ new lines\)`)

// TestWaitTaskTimeout: the task's own timeout (a deadline on the context) ends the wait with
// the same report as wait_timeout.
func TestWaitTaskTimeout(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	appendFile(t, log, carbonLine("INFO", "Starting WSO2 Carbon..."))
	h := engine.NewHost("n1", local.New(), "run1", dir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	c, err := Module{}.Check(ctx, h, args(log, map[string]cty.Value{"patterns": strs(`WSO2 Carbon started`)}))
	if err != nil {
		t.Fatal(err)
	}
	err = Module{}.Apply(ctx, h, c)
	if err == nil || !timedOut.MatchString(err.Error()) || !strings.Contains(err.Error(), "Starting WSO2 Carbon...") {
		t.Fatalf("want a timeout report with the log tail, got %v", err)
	}
}

func TestWaitFollowsLinesWrittenDuringTheWait(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	appendFile(t, log, carbonLine("INFO", "old"))
	from := cursorOf(t, log)
	h := engine.NewHost("n1", local.New(), "run1", dir, nil)

	seen := make(chan string, 100)
	testHookLine = func(l string) { seen <- l }
	defer func() { testHookLine = nil }()
	appendFile(t, log, carbonLine("INFO", "Starting WSO2 Carbon..."))
	done := make(chan error, 1)
	go func() {
		_, err := run(t, h, args(log, map[string]cty.Value{
			"from":     cty.StringVal(from),
			"patterns": strs(`Starting WSO2 Carbon`, `Became CEP HA (?P<role>Active|Passive) Member`),
		}))
		done <- err
	}()
	<-seen // the wait is following the file now
	appendFile(t, log, carbonLine("INFO", "Became CEP HA Passive Member"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitFailurePatternsAndTolerated(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		wantErr string
	}{
		{
			name:    "wrong mode fails at once",
			lines:   []string{carbonLine("WARN", "CEP started with clustering enabled, but SingleNode configuration given."), carbonLine("INFO", "filler")},
			wantErr: "failure line after 1 new lines: " + strings.TrimSpace(carbonLine("WARN", "CEP started with clustering enabled, but SingleNode configuration given.")),
		},
		{
			name: "tolerated sync failure then success",
			lines: []string{carbonLine("INFO", "Became CEP HA Passive Member"), carbonLine("ERROR", "CEP HA State syncing failed, No execution plans exist for tenant  -1234"),
				carbonLine("INFO", "CEP HA State successfully synced.")},
		},
		{
			name:    "bind exception",
			lines:   []string{carbonLine("ERROR", "java.net.BindException: Address already in use")},
			wantErr: "java.net.BindException: Address already in use",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "wso2carbon.log")
			appendFile(t, log, tt.lines...)
			h := engine.NewHost("n1", local.New(), "run1", dir, nil)
			_, err := run(t, h, args(log, map[string]cty.Value{
				"from":          cty.StringVal("beginning"),
				"patterns":      strs(`Became CEP HA Passive Member`, `CEP HA State successfully synced\.`),
				"fail_patterns": strs(`java\.net\.BindException`, `SingleNode configuration given`, `CEP HA State syncing failed`),
				"tolerate":      strs(`CEP HA State syncing failed, No execution plans exist`),
				"wait_timeout":  cty.StringVal("20s"),
			}))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "last 20 lines of") {
				t.Fatalf("want error with %q and the log tail, got %v", tt.wantErr, err)
			}
		})
	}
}

func TestWaitFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	appendFile(t, log, carbonLine("INFO", "Became CEP HA Active Member"))
	from := cursorOf(t, log)
	// After the cursor: a line in the old file, then the daily roll, then the new file.
	appendFile(t, log, carbonLine("INFO", "Hazelcast initialized in 120ms"))
	if err := os.Rename(log, log+".2026-11-24"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, carbonLine("INFO", "WSO2 Carbon started in 9 sec"))

	h := engine.NewHost("n1", local.New(), "run1", dir, nil)
	seen := make(chan string, 100)
	testHookLine = func(l string) { seen <- l }
	defer func() { testHookLine = nil }()
	done := make(chan error, 1)
	go func() {
		_, err := run(t, h, args(log, map[string]cty.Value{
			"from":          cty.StringVal(from),
			"patterns":      strs(`Hazelcast initialized`, `WSO2 Carbon started`, `Member joined`),
			"fail_patterns": strs(`Became CEP HA Active Member`),
			"wait_timeout":  cty.StringVal("20s"),
		}))
		done <- err
	}()
	<-seen
	<-seen
	// A second rotation while the wait follows the file by name.
	if err := os.Rename(log, log+".2026-11-25"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, carbonLine("INFO", "Member joined [1f]: /10.0.0.12:4000"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitFileCreatedAfterCursorAndTruncated(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "logs", "wso2carbon.log")
	h := engine.NewHost("n1", local.New(), "run1", dir, nil)
	res, err := h.Run(context.Background(), conn.Command{Script: CursorScript(log)})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := CursorFromOutput(string(res.Stdout))
	if err != nil || cur != (Cursor{}) {
		t.Fatalf("cursor of a missing file = %v, %v", cur, err)
	}
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, carbonLine("INFO", "Starting WSO2 Carbon..."))
	if _, err := run(t, h, args(log, map[string]cty.Value{"from": cty.StringVal(cur.String()), "patterns": strs(`Starting WSO2 Carbon`), "wait_timeout": cty.StringVal("20s")})); err != nil {
		t.Fatal(err)
	}

	// A file now shorter than the cursor was truncated: read from its start.
	from := cursorOf(t, log)
	if err := os.WriteFile(log, []byte(carbonLine("INFO", "Halting JVM")), 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, "")
	if _, err := run(t, h, args(log, map[string]cty.Value{"from": cty.StringVal(from), "patterns": strs(`Halting JVM`), "wait_timeout": cty.StringVal("20s")})); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	h := engine.NewHost("n1", local.New(), "run1", dir, nil)
	ctx := context.Background()

	c, err := Module{}.Check(ctx, h.Planning(), args(log, map[string]cty.Value{"from": cty.UnknownVal(cty.String), "patterns": strs("a", "b")}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionRun || c.Summary != "will wait for 2 patterns in "+log+" (timeout 5m0s)" || c.Result.IsKnown() {
		t.Fatalf("plan = %+v", c)
	}
	c, err = Module{}.Check(ctx, h.Planning(), args(log, map[string]cty.Value{"from": cty.StringVal(""), "patterns": strs("a")}))
	if err != nil || c.Action != engine.ActionNone || !c.Result.GetAttr("skipped").True() {
		t.Fatalf("empty from: %+v %v", c, err)
	}
	_, err = Module{}.Check(ctx, h, args(log, map[string]cty.Value{"patterns": strs("a(")}))
	if err == nil || !strings.Contains(err.Error(), `pattern "a(" does not compile`) {
		t.Fatalf("bad regex: %v", err)
	}
	_, err = Module{}.Check(ctx, h, args(log, map[string]cty.Value{"from": cty.StringVal("12"), "patterns": strs("a")}))
	if err == nil || !strings.Contains(err.Error(), "not inode:offset") {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestWaitFromEndRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wso2carbon.log")
	appendFile(t, log, carbonLine("INFO", "password s3cr3t in an old line"))
	h := engine.NewHost("n1", local.New(), "run1", dir, nil)
	h.AddSecret("s3cr3t")
	ctx := context.Background()
	c, err := Module{}.Check(ctx, h, args(log, map[string]cty.Value{"patterns": strs(`Access denied`), "fail_patterns": strs(`Access denied for user`), "wait_timeout": cty.StringVal("20s")}))
	if err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, carbonLine("ERROR", "Access denied for user 'wso2'@'x' (using password: s3cr3t)"))
	err = Module{}.Apply(ctx, h, c)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "(using password: (sensitive))") {
		t.Fatalf("want a redacted failure, got %v", err)
	}
}
