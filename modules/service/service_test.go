package service

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/modules/logcompare"
	"github.com/isaplay/isaplay/modules/waitlog"
	"github.com/zclconf/go-cty/cty"
)

func strs(s ...string) cty.Value {
	vs := make([]cty.Value, len(s))
	for i, x := range s {
		vs[i] = cty.StringVal(x)
	}
	return cty.ListVal(vs)
}

// carbon returns service arguments for a stand-in node in the given cluster directory.
func carbon(n node, clusterDir string, extra map[string]cty.Value) *engine.Args {
	m := map[string]cty.Value{
		"script":       cty.StringVal(n.path("bin/wso2server.sh")),
		"pid_file":     cty.StringVal(n.path("wso2carbon.pid")),
		"log_file":     cty.StringVal(n.path("repository/logs/wso2carbon.log")),
		"wait_timeout": cty.StringVal("30s"),
		"env": cty.MapVal(map[string]cty.Value{
			"JAVA_HOME":           cty.StringVal("/usr/lib/jvm/standin"),
			"STANDIN_CLUSTER_DIR": cty.StringVal(clusterDir),
		}),
	}
	for k, v := range extra {
		m[k] = v
	}
	return engine.NewArgs(NameStart, m)
}

// stopOnCleanup stops a node whatever the test did.
func stopOnCleanup(t *testing.T, h *engine.Host, a *engine.Args) {
	t.Cleanup(func() {
		c, err := StopModule{}.Check(context.Background(), h, a)
		if err == nil && c.Action != engine.ActionNone {
			_ = StopModule{}.Apply(context.Background(), h, c)
		}
	})
}

func apply(t *testing.T, m engine.Module, h *engine.Host, a *engine.Args) *engine.Change {
	t.Helper()
	c, err := m.Check(context.Background(), h, a)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionNone {
		if err := m.Apply(context.Background(), h, c); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func wait(h *engine.Host, n node, from cty.Value, patterns []string, fail []string, tolerate []string) (*engine.Change, error) {
	vals := map[string]cty.Value{
		"path":         cty.StringVal(n.path("repository/logs/wso2carbon.log")),
		"from":         from,
		"patterns":     strs(patterns...),
		"wait_timeout": cty.StringVal("60s"),
	}
	if len(fail) > 0 {
		vals["fail_patterns"] = strs(fail...)
	}
	if len(tolerate) > 0 {
		vals["tolerate"] = strs(tolerate...)
	}
	a := engine.NewArgs(waitlog.Name, vals)
	c, err := waitlog.Module{}.Check(context.Background(), h, a)
	if err != nil || c.Action == engine.ActionNone {
		return c, err
	}
	return c, waitlog.Module{}.Apply(context.Background(), h, c)
}

// failLines are the spec's §7 failure lines wait_log fails fast on.
var failLines = []string{
	`java\.net\.BindException: Address already in use`,
	`CEP started with clustering enabled, but SingleNode configuration given\.`,
	`Hostname : \S+ defined for (eventSync|management) configuration is invalid`,
	`Cannot start CEP HA Snapshot Server on port`,
	`localMemberHost is configured to use the loopback address`,
	`Error initializing analytics executor:`,
	`CEP HA State syncing failed,`,
}

// TestOrderedHAStart is phase E on two stand-in nodes: an1 starts and proves it is the active
// member; only then an2 starts and proves it is passive; an1 then sees an2 join. A re-run is
// in sync with nothing to wait for; stopping the active member fails over; undo stops.
func TestOrderedHAStart(t *testing.T) {
	cluster := t.TempDir()
	ips := []string{"10.250.0.11", "10.250.0.12"}
	an1 := newNode(t, nodeConfig{ip: ips[0], members: ips, domain: "wso2.is.analytics.domain"})
	an2 := newNode(t, nodeConfig{ip: ips[1], members: ips, domain: "wso2.is.analytics.domain"})
	h1 := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	h2 := engine.NewHost("an2", local.New(), "run1", t.TempDir(), nil)
	a1, a2 := carbon(an1, cluster, nil), carbon(an2, cluster, nil)
	stopOnCleanup(t, h1, a1)
	stopOnCleanup(t, h2, a2)

	// The plan: both will start, with the cursor known only after apply.
	plan, err := StartModule{}.Check(context.Background(), h1.Planning(), a1)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Action != engine.ActionRun || plan.Summary != "will start "+an1.path("bin/wso2server.sh") || plan.Risks[0] != "starts a service" ||
		plan.Result.GetAttr("log_cursor").IsKnown() {
		t.Fatalf("plan = %+v", plan)
	}

	// E1/E2.
	s1 := apply(t, StartModule{}, h1, a1)
	if _, err := wait(h1, an1, s1.Result.GetAttr("log_cursor"), []string{
		`Using wka based membership management scheme`,
		`Hazelcast initialized in \d+ms`,
		`Local member: \[[0-9a-f-]+\] - .*10\.250\.0\.11`,
		`CEP HA Snapshot Server started on 10\.250\.0\.11:10005`,
		`Became CEP HA Active Member`,
		`\[Spark init\] Starting SPARK in Carbon clustering mode\.`,
		`\[Spark init - master\] Started SPARK MASTER in spark://10\.250\.0\.11:7078 with webUI port : 8082`,
		`WSO2 Carbon started in \d+ sec`,
		`Mgt Console URL  : https://.*:9444/carbon/`,
	}, failLines, nil); err != nil {
		t.Fatal(err)
	}
	// an2 has not been started before an1 was ready.
	if _, err := os.Stat(an2.path("repository/logs/wso2carbon.log")); !os.IsNotExist(err) {
		t.Fatalf("an2 has a log before its start: %v", err)
	}

	// E3/E4: the passive member, tolerating the transient sync failure.
	s2 := apply(t, StartModule{}, h2, a2)
	w2, err := wait(h2, an2, s2.Result.GetAttr("log_cursor"), []string{
		`Became CEP HA (?P<role>Active|Passive) Member`,
		`CEP HA State syncing started\.\.`,
		`CEP HA State successfully synced\.`,
		`\[Spark init - master\] Started SPARK MASTER in spark://10\.250\.0\.12:7078`,
		`\[Spark init - clustered\] Redundant master count reached\. Starting workers in all members\.\.\.`,
		`\[Spark init - worker\] Started SPARK WORKER in 10\.250\.0\.12:11001 with webUI port 11501 with Masters \[`,
		`WSO2 Carbon started in \d+ sec`,
	}, failLines, []string{`CEP HA State syncing failed, No execution plans exist for tenant  -1234`})
	if err != nil {
		t.Fatal(err)
	}
	if role := w2.Result.GetAttr("captures").Index(cty.StringVal("role")).AsString(); role != "Passive" {
		t.Fatalf("an2 became %s", role)
	}
	if w2.Result.GetAttr("tolerated").AsBigFloat().String() != "1" {
		t.Fatalf("tolerated = %v", w2.Result.GetAttr("tolerated"))
	}

	// E5: an1, from its own start's cursor, sees an2 join and starts its worker and the client.
	if _, err := wait(h1, an1, s1.Result.GetAttr("log_cursor"), []string{
		`Member joined \[[0-9a-f-]+\]: \S*/10\.250\.0\.12:4000`,
		`\[Spark init - worker\] Started SPARK WORKER in 10\.250\.0\.11:11001`,
		`\[Spark init - client\] Started Spark CLIENT in the cluster pointing to MASTER spark://`,
	}, failLines[:6], nil); err != nil {
		t.Fatal(err)
	}

	// E6: each node logged its own analytics node ID (my-node-id.dat created at first start).
	ids := map[string]string{}
	for name, x := range map[string]struct {
		h *engine.Host
		n node
	}{"an1": {h1, an1}, "an2": {h2, an2}} {
		c, err := logcompare.Module{}.Check(context.Background(), x.h, engine.NewArgs(logcompare.Name, map[string]cty.Value{
			"path": cty.StringVal(x.n.path("repository/logs/wso2carbon.log")), "regex": cty.StringVal(`My Analytics Node ID: (\S+)`)}))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = c.Result.GetAttr("value").AsString()
		data, err := os.ReadFile(x.n.path("repository/data/my-node-id.dat"))
		if err != nil || strings.TrimSpace(string(data)) != ids[name] {
			t.Fatalf("%s logged node ID %q, file holds %q (%v)", name, ids[name], data, err)
		}
	}
	if ids["an1"] == ids["an2"] {
		t.Fatalf("both nodes have node ID %s", ids["an1"])
	}

	// Idempotent re-run: both are running, so in sync, and the waits are skipped.
	for _, x := range []struct {
		h *engine.Host
		n node
		a *engine.Args
	}{{h1, an1, a1}, {h2, an2, a2}} {
		c, err := StartModule{}.Check(context.Background(), x.h.Planning(), x.a)
		if err != nil {
			t.Fatal(err)
		}
		if c.Action != engine.ActionNone || !strings.HasSuffix(c.Summary, ")") || c.Result.GetAttr("log_cursor").AsString() != "" {
			t.Fatalf("re-run of a running node: %+v", c)
		}
		w, err := wait(x.h.Planning(), x.n, c.Result.GetAttr("log_cursor"), []string{`WSO2 Carbon started`}, nil, nil)
		if err != nil || w.Action != engine.ActionNone {
			t.Fatalf("wait after an in-sync start: %+v, %v", w, err)
		}
	}

	// Fail-over (G9): stopping the active member makes the passive one active.
	stop1 := engine.NewArgs(NameStop, map[string]cty.Value{
		"script": a1.Value("script"), "pid_file": a1.Value("pid_file"), "log_file": a1.Value("log_file"),
		"env": a1.Value("env"), "wait_timeout": cty.StringVal("30s"),
	})
	cur2 := cursorNow(t, h2, an2)
	st1 := apply(t, StopModule{}, h1, stop1)
	if st1.Action != engine.ActionRun || !strings.HasPrefix(st1.Summary, "will stop ") {
		t.Fatalf("stop = %+v", st1)
	}
	if _, err := wait(h1, an1, st1.Result.GetAttr("log_cursor"), []string{`Shutdown complete`, `Halting JVM`}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := wait(h2, an2, cty.StringVal(cur2), []string{`Member left \[\S+\]: /10\.250\.0\.11:4000`, `Became CEP HA Active Member`}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := (StopModule{}).Check(context.Background(), h1, stop1); c.Action != engine.ActionNone {
		t.Fatalf("a stopped node is not in sync for service_stop: %+v", c)
	}
	// Undo of the stop starts an1 again; it rejoins as the passive member.
	cur1 := cursorNow(t, h1, an1)
	if err := (StopModule{}).Revert(context.Background(), h1, st1.Undo); err != nil {
		t.Fatal(err)
	}
	if _, err := wait(h1, an1, cty.StringVal(cur1), []string{`Became CEP HA Passive Member`, `WSO2 Carbon started`}, failLines[:6], nil); err != nil {
		t.Fatal(err)
	}

	// Undo of an2's start stops it, and is idempotent.
	for i := 0; i < 2; i++ {
		if err := (StartModule{}).Revert(context.Background(), h2, s2.Undo); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := (StartModule{}).Check(context.Background(), h2, a2); c.Action != engine.ActionRun {
		t.Fatalf("an2 still running after undo: %+v", c)
	}
}

// TestPassiveSurvivesLockGoneMidCheck: the active member's lock may vanish (its node shutting
// down) between a passive node's look at it and its stat of the heartbeat. The passive node must
// take over, not die without a word. A stat wrapper on the node's PATH removes the lock just
// before the first such stat once the test arms it, so the race is hit every time.
func TestPassiveSurvivesLockGoneMidCheck(t *testing.T) {
	realStat, err := exec.LookPath("stat")
	if err != nil {
		t.Fatal(err)
	}
	cluster, wrap := t.TempDir(), t.TempDir()
	armed := filepath.Join(wrap, "armed")
	// The stat the node runs: once armed, the lock goes just before its heartbeat is looked at.
	wrapper := "#!/bin/sh\nfor a; do\n  case \"$a\" in */cep-active/heartbeat)\n    rm " + conn.Quote(armed) +
		" 2>/dev/null && rm -rf -- \"${a%/heartbeat}\" ;;\n  esac\ndone\nexec " + conn.Quote(realStat) + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(wrap, "stat"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	// Another node holds the lock, fresh for as long as the test runs.
	lock := filepath.Join(cluster, "lockrace", "cep-active")
	if err := os.MkdirAll(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"owner": "00000000-0000-0000-0000-000000000001\n", "heartbeat": ""} {
		if err := os.WriteFile(filepath.Join(lock, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := newNode(t, nodeConfig{ip: "10.250.6.11", members: []string{"10.250.6.11"}, domain: "lockrace"})
	h := engine.NewHost("an2", local.New(), "run1", t.TempDir(), nil)
	a := carbon(n, cluster, map[string]cty.Value{"env": cty.MapVal(map[string]cty.Value{
		"JAVA_HOME":           cty.StringVal("/usr/lib/jvm/standin"),
		"STANDIN_CLUSTER_DIR": cty.StringVal(cluster),
		"STANDIN_STALE":       cty.StringVal("3600"),
		"PATH":                cty.StringVal(wrap + ":" + os.Getenv("PATH")),
	})})
	stopOnCleanup(t, h, a)
	s := apply(t, StartModule{}, h, a)
	if _, err := wait(h, n, s.Result.GetAttr("log_cursor"), []string{`Became CEP HA Passive Member`, `Starting polling event receivers`}, failLines[:6], nil); err != nil {
		t.Fatal(err)
	}

	cur := cursorNow(t, h, n)
	if err := os.WriteFile(armed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wait(h, n, cty.StringVal(cur), []string{`Became CEP HA Active Member`}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(armed); !os.IsNotExist(err) {
		t.Fatalf("the lock was not removed mid-check (armed: %v)", err)
	}
	if c, err := (StartModule{}).Check(context.Background(), h.Planning(), a); err != nil || c.Action != engine.ActionNone {
		t.Fatalf("the node is not running after taking over: %+v, %v", c, err)
	}
}

func cursorNow(t *testing.T, h *engine.Host, n node) string {
	t.Helper()
	res, err := h.Run(context.Background(), conn.Command{Script: waitlog.CursorScript(n.path("repository/logs/wso2carbon.log"))})
	if err != nil {
		t.Fatal(err)
	}
	c, err := waitlog.CursorFromOutput(string(res.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// TestWrongModeFailsWithTail: a node whose event-processor.xml still enables Single before HA
// logs the wrong-mode warning, and the wait fails at once with the log's last lines.
func TestWrongModeFailsWithTail(t *testing.T) {
	cluster := t.TempDir()
	n := newNode(t, nodeConfig{ip: "10.250.1.11", members: []string{"10.250.1.11"}, domain: "d", singleModeLeftOn: true})
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	a := carbon(n, cluster, nil)
	stopOnCleanup(t, h, a)
	s := apply(t, StartModule{}, h, a)
	_, err := wait(h, n, s.Result.GetAttr("log_cursor"), []string{`Became CEP HA Active Member`, `WSO2 Carbon started`}, failLines, nil)
	if err == nil || !strings.Contains(err.Error(), "failure line after") ||
		!strings.Contains(err.Error(), "WARN {org.wso2.carbon.event.processor.manager.core.internal.util.ManagementModeConfigurationLoader} -  CEP started with clustering enabled, but SingleNode configuration given.") ||
		!strings.Contains(err.Error(), "last 20 lines of "+n.path("repository/logs/wso2carbon.log")) {
		t.Fatalf("want the wrong-mode failure with the log tail, got %v", err)
	}
}

// TestStartFailures: an unset JAVA_HOME fails the start with the script's own message, and a
// node that never writes a pid file times out.
func TestStartFailures(t *testing.T) {
	n := newNode(t, nodeConfig{ip: "10.250.2.11", members: []string{"10.250.2.11"}, domain: "d"})
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	a := carbon(n, t.TempDir(), map[string]cty.Value{"env": cty.MapVal(map[string]cty.Value{"JAVA_HOME": cty.StringVal("")})})
	c, err := StartModule{}.Check(context.Background(), h, a)
	if err != nil {
		t.Fatal(err)
	}
	err = StartModule{}.Apply(context.Background(), h, c)
	if err == nil || !strings.Contains(err.Error(), "exit 1: You must set the JAVA_HOME variable before running CARBON.") {
		t.Fatalf("want the JAVA_HOME failure, got %v", err)
	}

	// A control script that returns 0 but starts nothing.
	dir := t.TempDir()
	script := filepath.Join(dir, "ctl.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	a = engine.NewArgs(NameStart, map[string]cty.Value{
		"script": cty.StringVal(script), "pid_file": cty.StringVal(filepath.Join(dir, "x.pid")), "wait_timeout": cty.StringVal("1s"),
	})
	c, err = StartModule{}.Check(context.Background(), h, a)
	if err != nil {
		t.Fatal(err)
	}
	err = StartModule{}.Apply(context.Background(), h, c)
	if err == nil || !strings.Contains(err.Error(), "not running after 1s") {
		t.Fatalf("want a start timeout, got %v", err)
	}
}

func TestArgsAndRestart(t *testing.T) {
	h := engine.NewHost("n", local.New(), "run1", t.TempDir(), nil)
	ctx := context.Background()
	for _, tt := range []struct {
		vals map[string]cty.Value
		want string
	}{
		{map[string]cty.Value{"pid_file": cty.StringVal("/x")}, "needs script"},
		{map[string]cty.Value{"script": cty.StringVal("/x")}, "needs pid_file"},
		{map[string]cty.Value{"method": cty.StringVal("systemd")}, "needs unit"},
		{map[string]cty.Value{"method": cty.StringVal("init")}, `method "init" is not`},
		{map[string]cty.Value{"script": cty.StringVal("/x"), "pid_file": cty.StringVal("/p"), "env": cty.MapVal(map[string]cty.Value{"A;B": cty.StringVal("")})}, "not a shell variable name"},
	} {
		_, err := StartModule{}.Check(ctx, h, engine.NewArgs(NameStart, tt.vals))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: want %q, got %v", tt.vals, tt.want, err)
		}
	}

	// A running service with restart = true restarts, and the new log cursor is registered.
	n := newNode(t, nodeConfig{ip: "10.250.3.11", members: []string{"10.250.3.11"}, domain: "d"})
	a := carbon(n, t.TempDir(), nil)
	stopOnCleanup(t, h, a)
	s := apply(t, StartModule{}, h, a)
	if _, err := wait(h, n, s.Result.GetAttr("log_cursor"), []string{`WSO2 Carbon started`}, nil, nil); err != nil {
		t.Fatal(err)
	}
	ar := carbon(n, a.Value("env").Index(cty.StringVal("STANDIN_CLUSTER_DIR")).AsString(), map[string]cty.Value{"restart": cty.True})
	plan, err := StartModule{}.Check(ctx, h.Planning(), ar)
	if err != nil || plan.Action != engine.ActionRun || !strings.HasPrefix(plan.Summary, "will restart ") || plan.Risks[0] != "restarts a service" {
		t.Fatalf("restart plan: %+v %v", plan, err)
	}
	r := apply(t, StartModule{}, h, ar)
	if r.Result.GetAttr("pid").AsString() == s.Result.GetAttr("pid").AsString() {
		t.Fatal("restart kept the same pid")
	}
	if _, err := wait(h, n, r.Result.GetAttr("log_cursor"), []string{`Starting WSO2 Carbon`, `WSO2 Carbon started`}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// restart = unknown during a plan: it may restart.
	unk := carbon(n, "x", map[string]cty.Value{"restart": cty.UnknownVal(cty.Bool)})
	plan, err = StartModule{}.Check(ctx, h.Planning(), unk)
	if err != nil || plan.Action != engine.ActionRun || plan.Unknown == "" {
		t.Fatalf("unknown restart: %+v %v", plan, err)
	}
}

// TestPortClashFailsFast: a second node on the same address and port offset cannot bind the
// management console port; its wait fails at once on the BindException with the log tail.
func TestPortClashFailsFast(t *testing.T) {
	cluster := t.TempDir()
	ip := "10.250.4.11"
	first := newNode(t, nodeConfig{ip: ip, members: []string{ip}, domain: "clash-a"})
	second := newNode(t, nodeConfig{ip: ip, members: []string{ip}, domain: "clash-b"})
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	a1, a2 := carbon(first, cluster, nil), carbon(second, cluster, nil)
	stopOnCleanup(t, h, a1)
	stopOnCleanup(t, h, a2)
	s1 := apply(t, StartModule{}, h, a1)
	if _, err := wait(h, first, s1.Result.GetAttr("log_cursor"), []string{`WSO2 Carbon started`}, failLines, nil); err != nil {
		t.Fatal(err)
	}
	s2 := apply(t, StartModule{}, h, a2)
	_, err := wait(h, second, s2.Result.GetAttr("log_cursor"), []string{`WSO2 Carbon started`}, failLines, nil)
	if err == nil || !strings.Contains(err.Error(), "java.net.BindException: Address already in use (10.250.4.11:9444)") ||
		!strings.Contains(err.Error(), "last 20 lines of") {
		t.Fatalf("want the BindException with the log tail, got %v", err)
	}
}

// TestStandinIsHonest: configuration mistakes from the spec's §7 produce their failure lines,
// and a wait with the catalogue's fail patterns stops on them.
func TestStandinIsHonest(t *testing.T) {
	tests := []struct {
		name string
		cfg  nodeConfig
		want string
	}{
		{"HA host names left at 0.0.0.0", nodeConfig{ip: "10.250.5.11", haHostsLeft: true}, "Hostname : 0.0.0.0 defined for eventSync configuration is invalid"},
		{"localMemberHost left at loopback", nodeConfig{ip: "127.0.0.1"}, "localMemberHost is configured to use the loopback address"},
		{"symlink path missing", nodeConfig{ip: "10.250.5.13", symlink: "/nonexistent/is-analytics"},
			"Error initializing analytics executor: Unable to create the extra spark classpath with CarbonHome specified, does not exist: /nonexistent/is-analytics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.members, tt.cfg.domain = []string{tt.cfg.ip}, "honest"
			n := newNode(t, tt.cfg)
			h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
			a := carbon(n, t.TempDir(), nil)
			stopOnCleanup(t, h, a)
			s := apply(t, StartModule{}, h, a)
			_, err := wait(h, n, s.Result.GetAttr("log_cursor"), []string{`WSO2 Carbon started`, `Became CEP HA Active Member`}, failLines, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want a failure on %q, got %v", tt.want, err)
			}
		})
	}
}
