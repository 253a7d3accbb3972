package pattern2test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPattern2Failover applies pattern2.hcl with start_servers and failover_test (G9) on the
// stand-in analytics nodes (failover_test alone is refused at plan time). The plan shows the failover as known after apply (which node is
// active is read at apply). The first apply starts the cluster (an1 active), then stops an1:
// an2 must log the takeover after an1's stop, its Spark master must answer ALIVE, and an1 must
// come back passive. A second apply fails over the other way, so it stops the node the checks
// found active (an2), not the first one. An apply without failover_test then changes nothing.
func TestPattern2Failover(t *testing.T) {
	e := &env{Env: NewEnv(t, EnvOptions{Dir: t.TempDir(), Domain: fmt.Sprintf("p2failover%d", os.Getpid()), Secrets: passwords})}
	vars, err := os.ReadFile(e.Vars)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.Vars, append(vars, "failover_test     = true\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without start_servers the test cannot run: the plan says so and nothing is applied.
	if out, err := e.runErr("plan"); err == nil || !strings.Contains(out, "failover_test needs start_servers = true") {
		t.Fatalf("plan with failover_test and without start_servers: %v\n%s", err, out)
	}
	e.startServers(t, "")
	an1, an2 := e.An[0], e.An[1]
	logOf := func(ip string) string {
		return string(e.nodeFile(t, ip, AnalyticsHome+"/repository/logs/wso2carbon.log"))
	}

	plan := e.run(t, "plan")
	e.noSecrets(t, "plan", plan)
	for _, task := range []string{"before stop", "stop active", "stopped", "taken over", "spark master alive", "rejoin / start", "rejoin / started"} {
		want := regexp.MustCompile(`(?m)^\s*\? failover analytics / failover / ` + regexp.QuoteMeta(task) + ` \(\w+\): known after apply`)
		if !want.MatchString(plan) {
			t.Errorf("plan does not show %q as known after apply:\n%s", task, plan)
		}
	}

	out := e.run(t, "apply", "--yes")
	e.noSecrets(t, "apply", out)
	expectFailover(t, out, "n2", "n3")
	log1, log2 := logOf(an1), logOf(an2)
	// an1 was active, stopped cleanly, and rejoined passive; an2 was passive, saw an1 leave and
	// took over (in either order), not before an1 began to shut down.
	inOrder(t, "an1", log1, "Became CEP HA Active Member", "Shutdown hook triggered", "Shutdown complete", "Halting JVM", "Starting WSO2 Carbon...", "Became CEP HA Passive Member", "WSO2 Carbon started in")
	inOrder(t, "an2", log2, "Became CEP HA Passive Member", "Member left [unknown]: /"+an1+":4000")
	inOrder(t, "an2", log2, "Became CEP HA Passive Member", "Became CEP HA Active Member")
	if down, up := stampOf(t, log1, "Shutdown hook triggered"), stampOf(t, log2, "Became CEP HA Active Member"); up < down {
		t.Errorf("an2 became active at %s, before an1 began to shut down at %s", up, down)
	}
	if got := roles(log1); got != "Active Passive" {
		t.Errorf("an1's roles: %s, want Active Passive", got)
	}
	if got := roles(log2); got != "Passive Active" {
		t.Errorf("an2's roles: %s, want Passive Active", got)
	}
	for ip, want := range map[string]string{an1: "STANDBY", an2: "ALIVE"} {
		if st := sparkStatus(t, ip); st != want {
			t.Errorf("Spark master on %s is %s, want %s", ip, st, want)
		}
	}

	// Again: the checks now find an2 active, so an2 is the one stopped and an1 takes over.
	out = e.run(t, "apply", "--yes")
	e.noSecrets(t, "second apply", out)
	expectFailover(t, out, "n3", "n2")
	if got := roles(logOf(an1)); got != "Active Passive Active" {
		t.Errorf("an1's roles: %s, want Active Passive Active", got)
	}
	if got := roles(logOf(an2)); got != "Passive Active Passive" {
		t.Errorf("an2's roles: %s, want Passive Active Passive", got)
	}

	// Without the test, the checks pass on the failed-over cluster and nothing changes.
	vars, err = os.ReadFile(e.Vars)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.Vars, []byte(strings.Replace(string(vars), "failover_test     = true", "failover_test     = false", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if again := e.run(t, "apply", "--yes"); !zeroChanges.MatchString(again) {
		t.Errorf("apply without failover_test:\n%s", again)
	}
}

// expectFailover checks an apply's lines: stopped is stopped and started again, taker takes
// over (CEP and Spark master), and the roles check after it holds.
func expectFailover(t *testing.T, out, stopped, taker string) {
	t.Helper()
	for _, want := range []string{
		`(?m)^Applied: \d+ changed, \d+ in sync, 0 known after apply, \d+ skipped, 0 failed, 5 hosts\.$`,
		`(?m)^` + taker + `: failover analytics / failover / before stop: in_sync`,
		`(?m)^` + stopped + `: failover analytics / failover / stop active: changed`,
		`(?m)^` + stopped + `: failover analytics / failover / stopped: changed`,
		`(?m)^` + taker + `: failover analytics / failover / taken over: changed`,
		`(?m)^` + taker + `: failover analytics / failover / spark master alive: in_sync`,
		`(?m)^` + stopped + `: failover analytics / failover / rejoin / start: changed`,
		`(?m)^` + stopped + `: failover analytics / failover / rejoin / started: changed`,
		`(?m)^n2: failover analytics / failover / another node active: in_sync`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apply output lacks %s:\n%s", want, out)
		}
	}
	for _, never := range []string{
		`(?m)^` + taker + `: failover analytics / failover / stop active: changed`,
		`(?m)^` + stopped + `: failover analytics / failover / taken over: changed`,
	} {
		if regexp.MustCompile(never).MatchString(out) {
			t.Errorf("apply output has %s:\n%s", never, out)
		}
	}
}

// inOrder fails unless each line is found in log after the one before it.
func inOrder(t *testing.T, name, log string, lines ...string) {
	t.Helper()
	at := 0
	for _, l := range lines {
		i := strings.Index(log[at:], l)
		if i < 0 {
			t.Errorf("%s's log has no %q after %q", name, l, log[max(0, at-200):at])
			return
		}
		at += i + len(l)
	}
}

// stampOf is the timestamp ([date time,ms], which sorts as text) of the first line of log that
// contains substr.
func stampOf(t *testing.T, log, substr string) string {
	t.Helper()
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, substr) {
			if m := stampField.FindStringSubmatch(l); m != nil {
				return m[1]
			}
		}
	}
	t.Fatalf("no timestamped line with %q", substr)
	return ""
}

var stampField = regexp.MustCompile(`^TID: \[[^\]]*\] \[[^\]]*\] \[([^\]]+)\]`)

var roleLine = regexp.MustCompile(`Became CEP HA (Active|Passive|Backup) Member`)

// roles lists the CEP HA roles a log records, in order.
func roles(log string) string {
	var out []string
	for _, m := range roleLine.FindAllStringSubmatch(log, -1) {
		out = append(out, m[1])
	}
	return strings.Join(out, " ")
}

var statusField = regexp.MustCompile(`"status": *"([A-Z_]+)"`)

// sparkStatus asks the Spark master web UI of the node at ip for its status (8081 + offset 1).
func sparkStatus(t *testing.T, ip string) string {
	t.Helper()
	resp, err := http.Get("http://" + ip + ":8082/json/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := statusField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("Spark master on %s: no status in %q", ip, body)
	}
	return string(m[1])
}
