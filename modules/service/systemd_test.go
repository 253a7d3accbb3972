package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

// fakeSystemctl answers the systemctl verbs service_* uses, for one unit whose main process is
// a real background sleep. systemd itself cannot run in the test environment.
const fakeSystemctl = `#!/bin/sh
state="$FAKE_SYSTEMD_DIR/$(echo "$@" | sed 's/.* //').pid"
alive() { [ -s "$state" ] && kill -0 "$(cat "$state")" 2>/dev/null; }
echo "$@" >> "$FAKE_SYSTEMD_DIR/calls"
case "$1" in
  is-active) if alive; then echo active; else echo inactive; exit 3; fi ;;
  show) if alive; then cat "$state"; else echo 0; fi ;;
  start) alive || { nohup sleep 300 >/dev/null 2>&1 & echo $! > "$state"; } ;;
  stop) if alive; then kill "$(cat "$state")"; rm -f "$state"; fi ;;
  *) echo "unknown verb $1" >&2; exit 2 ;;
esac
`

func TestSystemdMethod(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_SYSTEMD_DIR", state)
	h := engine.NewHost("n1", local.New(), "run1", t.TempDir(), nil)
	ctx := context.Background()
	vals := map[string]cty.Value{"method": cty.StringVal("systemd"), "unit": cty.StringVal("wso2is-analytics.service"), "wait_timeout": cty.StringVal("10s")}

	c, err := StartModule{}.Check(ctx, h, engine.NewArgs(NameStart, vals))
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionRun || c.Summary != "will start unit wso2is-analytics.service" || c.Details[0] != "run: systemctl start wso2is-analytics.service" {
		t.Fatalf("plan = %+v", c)
	}
	if err := (StartModule{}).Apply(ctx, h, c); err != nil {
		t.Fatal(err)
	}
	pid := c.Result.GetAttr("pid").AsString()
	if pid == "" || pid == "0" {
		t.Fatalf("no main pid: %v", c.Result)
	}
	t.Cleanup(func() { _, _ = h.Run(ctx, connScript("systemctl stop wso2is-analytics.service")) })
	if c, _ := (StartModule{}).Check(ctx, h, engine.NewArgs(NameStart, vals)); c.Action != engine.ActionNone {
		t.Fatalf("an active unit is not in sync: %+v", c)
	}
	s, err := StopModule{}.Check(ctx, h, engine.NewArgs(NameStop, vals))
	if err != nil || s.Action != engine.ActionRun || s.Summary != "will stop unit wso2is-analytics.service (pid "+pid+")" {
		t.Fatalf("stop plan = %+v, %v", s, err)
	}
	if err := (StopModule{}).Apply(ctx, h, s); err != nil {
		t.Fatal(err)
	}
	// Undo of the stop starts the unit again; undo of the start stops it.
	if err := (StopModule{}).Revert(ctx, h, s.Undo); err != nil {
		t.Fatal(err)
	}
	if err := (StartModule{}).Revert(ctx, h, c.Undo); err != nil {
		t.Fatal(err)
	}
	calls, err := os.ReadFile(filepath.Join(state, "calls"))
	if err != nil {
		t.Fatal(err)
	}
	var verbs []string
	for _, l := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
		if f := strings.Fields(l); f[0] == "start" || f[0] == "stop" {
			verbs = append(verbs, f[0])
		}
	}
	if strings.Join(verbs, " ") != "start stop start stop" {
		t.Fatalf("systemctl verbs = %v", verbs)
	}
}

func connScript(s string) conn.Command { return conn.Command{Script: s} }
