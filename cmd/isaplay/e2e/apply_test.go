package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// edited returns what the edit tasks make of node i's /opt tree, given the tree before and
// the node's address: the edited files' new digests (mode and owner kept), the two links, the
// new node id and driver (owned by the login user, root), the removed shard allocation.
func edited(t testing.TB, before tree, i int, address string) (tree, map[string]string) {
	t.Helper()
	ref := wso2ref.Dir(t)
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(ref, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	replace := func(s, old, new string) string {
		if strings.Count(s, old) != 1 {
			t.Fatalf("reference file changed: %q occurs %d times", old, strings.Count(s, old))
		}
		return strings.Replace(s, old, new, 1)
	}
	files := map[string]string{
		"wso2/wso2is-analytics-5.6.0/repository/conf/analytics/spark/spark-defaults.conf": replace(replace(read("repository/conf/analytics/spark/spark-defaults.conf"),
			"\ncarbon.spark.master.count  1\n", "\ncarbon.spark.master.count  2\n"),
			"\n# carbon.das.symbolic.link /home/ubuntu/das/das_symlink/\n", "\ncarbon.das.symbolic.link /opt/wso2/is-analytics\n"),
		"wso2/wso2is-analytics-5.6.0/bin/load-spark-env-vars.sh": replace(read("bin/load-spark-env-vars.sh"),
			"export CARBON_SPARK_HOME=$CARBON_HOME\n", "export CARBON_SPARK_HOME=$CARBON_HOME\nexport SPARK_LOCAL_IP="+address+"\n"),
		"wso2/wso2is-analytics-5.6.0/repository/conf/log4j.properties": replace(read("repository/conf/log4j.properties"),
			"\nlog4j.logger.org.wso2=INFO\n", "\nlog4j.logger.org.wso2=DEBUG\n"),
		"wso2/wso2is-analytics-5.6.0/repository/conf/carbon.xml": replace(read("repository/conf/carbon.xml"),
			"<Offset>1</Offset>", "<Offset>2</Offset>"),
	}
	want := tree{}
	for p, e := range before {
		want[p] = e
	}
	for p, data := range files {
		e := want[p]
		e.SHA256 = sha(data)
		want[p] = e
	}
	cur := want["wso2/current"]
	cur.Target = "wso2is-analytics-5.6.0"
	want["wso2/current"] = cur
	want["wso2/is-analytics"] = entry{Type: "symlink", Mode: fs.ModeSymlink, Target: anHome}
	nodeID := fmt.Sprintf("wso2is-analytics-%d", i+1)
	want["wso2/wso2is-analytics-5.6.0/repository/data/my-node-id.dat"] = entry{Type: "file", Mode: 0o644, SHA256: sha(nodeID)}
	want["wso2/wso2is-analytics-5.6.0/repository/components/lib/"+driverJar] = entry{Type: "file", Mode: 0o644, SHA256: sha(string(jarBytes(t)))}
	delete(want, "wso2/wso2is-analytics-5.6.0/repository/data/local-shard-allocation-config.conf")
	files["wso2/wso2is-analytics-5.6.0/repository/data/my-node-id.dat"] = nodeID
	return want, files
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestApplyThenNoChanges plans and applies the WSO2 edits (every file module) on 2 and on 10 nodes: the plan
// touches nothing, the apply leaves exactly the expected bytes, modes, owners and links on every
// node (each with its own address), and a second apply finds nothing to do.
func TestApplyThenNoChanges(t *testing.T) {
	for _, n := range []int{2, 10} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			s := newStand(t, n)
			pb := s.writePlaybook("site.hcl", playbook(editTasks...))
			before := s.snapshots()

			start := time.Now()
			r := s.isaplay(nil, "plan", "--detailed-exitcode", pb)
			mustExit(t, r, 2)
			t.Logf("plan with changes on %d nodes: %s", n, r.elapsed.Round(time.Millisecond))
			for _, node := range s.c.Nodes {
				if !strings.Contains(r.stdout, "host "+node.Name) {
					t.Errorf("the plan does not show host %s:\n%s", node.Name, r.stdout)
				}
			}
			if want := fmt.Sprintf("%d to change", len(editTasks)*n); !strings.Contains(r.stdout, want) {
				t.Errorf("the plan's summary does not say %q:\n%s", want, r.stdout)
			}
			s.requireTrees(before, "after plan")

			r = s.isaplay(nil, "apply", "--yes", pb)
			mustExit(t, r, 0)
			t.Logf("first apply on %d nodes: %s", n, r.elapsed.Round(time.Millisecond))
			runID := s.onlyRun()
			if st := s.status(runID); st != "applied" {
				t.Errorf("journal status %q, want applied", st)
			}
			for i, node := range s.c.Nodes {
				want, files := edited(t, before[i], i, node.Address)
				if d := diffTrees(want, snapshot(t, s.c.NodeRoot(i))); len(d) > 0 {
					t.Errorf("%s after apply differs from the expected tree:\n  %s", node.Name, strings.Join(d, "\n  "))
				}
				for rel, data := range files {
					if got := s.readNode(i, "/opt/"+rel); got != data {
						t.Errorf("%s: /opt/%s: got\n%s\nwant\n%s", node.Name, rel, got, data)
					}
				}
			}
			s.requireCleanHosts("")
			afterApply := s.snapshots()

			r = s.isaplay(nil, "apply", "--yes", pb)
			mustExit(t, r, 0)
			t.Logf("second (no-change) apply on %d nodes: %s", n, r.elapsed.Round(time.Millisecond))
			if !strings.Contains(r.stdout, "No changes") {
				t.Errorf("second apply did not report No changes:\n%s", r)
			}
			if strings.Contains(r.stdout, "Applying run") {
				t.Errorf("second apply started a run:\n%s", r)
			}
			if ids := s.runIDs(); len(ids) != 1 {
				t.Errorf("second apply journaled a run: %v", ids)
			}
			s.requireTrees(afterApply, "after the second apply")
			mustExit(t, s.isaplay(nil, "plan", "--detailed-exitcode", pb), 0)
			t.Logf("whole test on %d nodes: %s", n, time.Since(start).Round(time.Millisecond))
		})
	}
}
