package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRollbackRefusesDriftedFileUnlessForced applies the edits on 2 nodes, then someone else
// changes spark-defaults.conf on n1. `isaplay rollback` shows the undo plan and,
// without a terminal and without --yes, asks nothing and changes nothing. With --yes it
// reverts everything else, refuses that file with a diff of the original against what is there
// now, keeps the other person's bytes and exits 3. With --force it restores the original and
// exits 0, leaving both nodes byte-identical to before the run.
func TestRollbackRefusesDriftedFileUnlessForced(t *testing.T) {
	s := newStand(t, 2)
	pb := s.writePlaybook("site.hcl", playbook(editTasks...))
	before := s.snapshots()
	mustExit(t, s.isaplay(nil, "apply", "--yes", pb), 0)
	runID := s.onlyRun()

	const rel = "wso2/wso2is-analytics-5.6.0/repository/conf/analytics/spark/spark-defaults.conf"
	p := filepath.Join(s.c.NodeRoot(0), rel)
	applied, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	theirs := strings.Replace(string(applied), "\nspark.ui.port 4040\n", "\nspark.ui.port 4041\n", 1)
	if theirs == string(applied) {
		t.Fatal("spark.ui.port 4040 not found in spark-defaults.conf")
	}
	if err := os.WriteFile(p, []byte(theirs), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(theirs))
	theirsSHA := hex.EncodeToString(sum[:])
	drifted := s.snapshots()

	// No terminal, no --yes: the undo plan is shown with the drift, nothing is done.
	r := s.isaplay(nil, "rollback")
	mustExit(t, r, 1)
	// (Drift is checked just before each revert, once the newer changes are undone, so the
	// plan lists the change without judging it.)
	if !strings.Contains(r.stdout, "- n1: analytics / spark masters (properties_set, applied)") {
		t.Errorf("the undo plan does not list n1's spark-defaults.conf change:\n%s", r)
	}
	if !strings.Contains(r.stderr, "--yes") {
		t.Errorf("the refusal to ask does not mention --yes:\n%s", r)
	}
	s.requireTrees(drifted, "after a rollback that had no terminal to ask on")

	r = s.isaplay(nil, "rollback", "--yes")
	mustExit(t, r, 3)
	if want := fmt.Sprintf("Rollback: %d reverted, 0 failed, 1 refused.", 2*len(editTasks)-1); !strings.Contains(r.stdout, want) {
		t.Errorf("want %q:\n%s", want, r)
	}
	for _, want := range []string{
		"! n1: analytics / spark masters: refused: /opt/" + rel + " was changed since this run",
		"-spark.ui.port 4040", "+spark.ui.port 4041", "-carbon.spark.master.count  1", "+carbon.spark.master.count  2",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the refusal does not show %q:\n%s", want, r)
		}
	}
	if st := s.status(runID); st != "rollback_incomplete" {
		t.Errorf("journal status %q, want rollback_incomplete", st)
	}
	s.requireRunsPending(runID, "rollback_incomplete")
	// n2 is back; n1 is back except the refused file, which keeps the other person's bytes.
	want := []tree{{}, before[1]}
	for k, v := range before[0] {
		want[0][k] = v
	}
	e := want[0][rel]
	e.SHA256 = theirsSHA
	want[0][rel] = e
	s.requireTrees(want, "after the rollback that refused one file")

	r = s.isaplay(nil, "rollback", "--yes", "--force")
	mustExit(t, r, 0)
	if !regexp.MustCompile(`Rollback: 1 reverted, 0 failed, 0 refused\.`).MatchString(r.stdout) {
		t.Errorf("want the refused change reverted:\n%s", r)
	}
	s.requireRolledBack(runID, before, "after the forced rollback")
}

// TestPruneRemovesHostBackups applies twice (two runs with backups on every node), then `isaplay
// runs --prune --keep 1` removes the older run's journal and its backups on the nodes, keeping
// the newer one's; --keep 0 removes the rest.
func TestPruneRemovesHostBackups(t *testing.T) {
	s := newStand(t, 2)
	mustExit(t, s.isaplay(nil, "apply", "--yes", s.writePlaybook("a.hcl", playbook(taskSpark))), 0)
	first := s.onlyRun()
	mustExit(t, s.isaplay(nil, "apply", "--yes", s.writePlaybook("b.hcl", playbook(taskLog4j))), 0)
	var second string
	for _, id := range s.runIDs() {
		if id != first {
			second = id
		}
	}
	backups := func(i int, run string) bool {
		_, err := os.Stat(filepath.Join(s.hostState(i), "runs", run))
		return err == nil
	}
	for i, n := range s.c.Nodes {
		if !backups(i, first) || !backups(i, second) {
			t.Fatalf("%s lacks the backups of the two runs", n.Name)
		}
	}
	r := s.isaplay(nil, "runs", "--prune", "--keep", "1")
	mustExit(t, r, 0)
	if ids := s.runIDs(); len(ids) != 1 || ids[0] != second {
		t.Errorf("after --keep 1 the journals are %v, want only %s", ids, second)
	}
	for i, n := range s.c.Nodes {
		if backups(i, first) || !backups(i, second) {
			t.Errorf("%s: after --keep 1 the older run's backups are there: %v, the newer's: %v", n.Name, backups(i, first), backups(i, second))
		}
	}
	mustExit(t, s.isaplay(nil, "runs", "--prune", "--keep", "0"), 0)
	for i, n := range s.c.Nodes {
		if backups(i, second) {
			t.Errorf("%s: after --keep 0 the run's backups are still there", n.Name)
		}
	}
	if ids := s.runIDs(); len(ids) != 0 {
		t.Errorf("after --keep 0 the journals are %v", ids)
	}
}
