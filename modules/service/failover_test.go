package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
)

// failoverPlaybook starts the nodes one by one, reads their CEP HA roles (G7) and runs the
// playbooks' lib/analytics-failover.hcl (G9) on them, without the Spark check (the stand-in
// serves its web UIs only on addresses of this machine).
const failoverPlaybook = `
variable "cluster_dir" { type = string }

play "start" {
  hosts  = "analytics"
  serial = 1

  task "service_start" "start" {
    script       = "${host.vars.home}/bin/wso2server.sh"
    pid_file     = "${host.vars.home}/wso2carbon.pid"
    log_file     = "${host.vars.home}/repository/logs/wso2carbon.log"
    env          = { JAVA_HOME = "/usr/lib/jvm/standin", STANDIN_CLUSTER_DIR = var.cluster_dir }
    wait_timeout = "30s"
    register     = "start"
  }
  task "wait_log" "ready" {
    path         = "${host.vars.home}/repository/logs/wso2carbon.log"
    from         = result.start.log_cursor
    patterns     = ["Became CEP HA (Active|Passive) Member", "WSO2 Carbon started in \\d+ sec"]
    tolerate     = ["CEP HA State syncing failed,"]
    wait_timeout = "60s"
  }
}

play "verify" {
  hosts = "analytics"

  task "log_compare" "ha role" {
    path     = "${host.vars.home}/repository/logs/wso2carbon.log"
    regex    = "Became CEP HA (Active|Passive|Backup) Member"
    register = "ha_role"
  }
}

play "failover" {
  hosts = "analytics"

  include "failover" {
    source       = %q
    home         = host.vars.home
    env          = { JAVA_HOME = "/usr/lib/jvm/standin", STANDIN_CLUSTER_DIR = var.cluster_dir }
    register     = "fo"
    roles        = { for n, r in results.ha_role : n => lookup(r, "value", "") }
    ips          = { for h in group_hosts("analytics") : h.name => h.vars.ip }
    tolerate     = ["CEP HA State syncing failed,"]
    wait_timeout = "60s"
  }
}
`

// TestPlaybookFailoverThreeNodes runs G9 on three stand-in nodes: an1 is active, an2 and an3
// passive. The plan cannot know which node stops (without spark_ui_url the Spark check is off). At apply an1 stops cleanly, both passive
// nodes see it leave and one of them takes over (they race for the active lock, as every
// passive node of the stand-in does), and an1 rejoins as passive; the component's closing
// assert names the winner.
func TestPlaybookFailoverThreeNodes(t *testing.T) {
	cluster := t.TempDir()
	ips := []string{"10.250.10.11", "10.250.10.12", "10.250.10.13"}
	var nodes []node
	for _, ip := range ips {
		n := newNode(t, nodeConfig{ip: ip, members: ips, domain: "wso2.is.analytics.domain"})
		stopOnCleanup(t, engine.NewHost("x", local.New(), "run1", t.TempDir(), nil), carbon(n, cluster, nil))
		nodes = append(nodes, n)
	}
	lib, err := filepath.Abs(filepath.Join(repoRoot(t), "playbooks/lib/analytics-failover.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	config := loadPlaybook(t, nodes, ips, cluster, fmt.Sprintf(failoverPlaybook, lib))
	ctx := context.Background()

	plan, err := engine.PlanRun(ctx, config())
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, render(t, plan))
	}
	for _, e := range plan.Entries {
		if e.Play == "failover" && e.Task != "failover / spark master alive" && e.Status != engine.StatusUnknown {
			t.Errorf("plan: %s on %s is %s, want known after apply", e.Task, e.Host, e.Status)
		}
	}

	applied, err := engine.ApplyRun(ctx, config())
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, render(t, applied))
	}
	status := map[string]engine.Status{}
	for _, e := range applied.Entries {
		status[e.Host+": "+e.Task] = e.Status
	}
	for k, want := range map[string]engine.Status{
		"an1: failover / stop active": engine.StatusChange, "an1: failover / stopped": engine.StatusChange,
		"an2: failover / stop active": engine.StatusSkipped, "an3: failover / stop active": engine.StatusSkipped,
		"an2: failover / taken over": engine.StatusChange, "an3: failover / taken over": engine.StatusChange,
		"an1: failover / rejoin / started": engine.StatusChange, "an1: failover / another node active": engine.StatusInSync,
	} {
		if status[k] != want {
			t.Errorf("apply: %s is %s, want %s\n%s", k, status[k], want, render(t, applied))
		}
	}
	roles := map[string]int{}
	for i, n := range nodes {
		data, err := os.ReadFile(n.path("repository/logs/wso2carbon.log"))
		if err != nil {
			t.Fatal(err)
		}
		var seq []string
		for _, m := range regexp.MustCompile(`Became CEP HA (Active|Passive) Member`).FindAllStringSubmatch(string(data), -1) {
			seq = append(seq, m[1])
		}
		got := strings.Join(seq, " ")
		if i == 0 && got != "Active Passive" {
			t.Errorf("an1's roles: %s, want Active Passive", got)
		}
		if i > 0 && !strings.Contains(string(data), "Member left [unknown]: /"+ips[0]+":4000") {
			t.Errorf("an%d did not see an1 leave", i+1)
		}
		roles[got]++
	}
	if roles["Passive Active"] != 1 || roles["Passive"] != 1 {
		t.Errorf("want one passive node to take over and the other to stay passive, got %v", roles)
	}
}
