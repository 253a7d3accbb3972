package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// reset puts the pristine product back into every node's /opt (the bind-mounted directory
// itself stays, only its contents are replaced), removes the nodes' isaplay state and the
// local journals.
func (s *stand) reset() {
	s.t.Helper()
	for i := range s.c.Nodes {
		root := s.c.NodeRoot(i)
		ents, err := os.ReadDir(root)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				s.t.Fatal(err)
			}
		}
		seedProduct(s.t, root, false)
		if err := os.RemoveAll(s.hostState(i)); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := os.RemoveAll(s.state); err != nil {
		s.t.Fatal(err)
	}
}

// nodeIndex returns the index of the node named name.
func (s *stand) nodeIndex(name string) int {
	for i, n := range s.c.Nodes {
		if n.Name == name {
			return i
		}
	}
	s.t.Fatalf("no node %q", name)
	return -1
}

// killTasks are one edit per file module, for the kill tests: 7 changes per node.
var killTasks = []string{taskCommonLink, taskSpark, taskSparkIP, taskOffset, taskNodeID, taskFreshShards, taskDriver}

// TestKillAtEveryJournalRecord kills isaplay with SIGKILL right after each journal record of a
// 3-node run (ISAPLAY_TEST_KILL_AFTER_RECORD=k, for every k from the first record to the
// last), then runs `isaplay rollback --yes`: it must exit 0 and leave every node's /opt
// byte-identical to before, take over the dead run's host locks and release them, and remove
// the run's backups.
func TestKillAtEveryJournalRecord(t *testing.T) {
	start := time.Now()
	s := newStand(t, 3)
	pb := s.writePlaybook("site.hcl", playbook(killTasks...))
	before := s.snapshots()

	// An uninterrupted run gives the number of records; rolling it back is the k = n+1 case.
	r := s.isaplay(nil, "apply", "--yes", pb)
	mustExit(t, r, 0)
	records := len(s.journal(s.onlyRun()))
	if records < 20 {
		t.Fatalf("the run has only %d journal records; the test needs at least 20", records)
	}
	mustExit(t, s.isaplay(nil, "rollback", "--yes"), 0)
	s.requireTrees(before, "after rolling back the uninterrupted run")
	s.requireCleanHosts(s.onlyRun())
	t.Logf("%d journal records per run", records)

	var applyTime, rollbackTime time.Duration
	var failed []int // every k is tried, so one report shows all the failing points
	for k := 1; k <= records; k++ {
		s.reset()
		applyTime += s.killedAfterRecord(k, "apply", "--yes", pb).elapsed
		runID := s.onlyRun()
		lines := s.journal(runID)
		if len(lines) != k {
			t.Fatalf("k=%d: the killed run's journal has %d lines", k, len(lines))
		}
		// Every host with a journaled change holds the dead run's lock.
		locked := map[int]bool{}
		for _, l := range lines {
			if l.Type == "intent" {
				i := s.nodeIndex(l.Record.Host)
				if !locked[i] {
					if lk := s.lockOf(i); !strings.HasPrefix(lk, "run="+runID+" ") {
						t.Fatalf("k=%d: %s has a change of run %s but its lock is %q", k, l.Record.Host, runID, lk)
					}
					locked[i] = true
				}
			}
		}

		rb := s.isaplay(nil, "rollback", "--yes")
		rollbackTime += rb.elapsed
		bad := false
		if rb.killed || rb.code != 0 {
			bad = true
			t.Errorf("k=%d: rollback after the kill exited %d:\n%s", k, rb.code, rb.stdout+rb.stderr)
		}
		for i := range s.c.Nodes {
			if d := diffTrees(before[i], snapshot(t, s.c.NodeRoot(i))); len(d) > 0 {
				bad = true
				t.Errorf("k=%d: %s's /opt differs after the rollback:\n  %s", k, s.c.Nodes[i].Name, strings.Join(d, "\n  "))
			}
		}
		// The hosts with changes had their lock taken over by the rollback and released.
		// (Hosts the dead run locked before journaling a change on them are
		// TestRollbackReleasesLocksOfHostsWithoutChanges' business.)
		for i := range locked {
			if lk := s.lockOf(i); lk != "" && rb.code == 0 {
				bad = true
				t.Errorf("k=%d: %s still holds a lock after the rollback: %s", k, s.c.Nodes[i].Name, strings.TrimSpace(lk))
			}
			if _, err := os.Stat(filepath.Join(s.hostState(i), "runs", runID)); err == nil && rb.code == 0 {
				bad = true
				t.Errorf("k=%d: %s still holds the backups of run %s after a clean rollback", k, s.c.Nodes[i].Name, runID)
			}
		}
		if bad {
			failed = append(failed, k)
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d kill points failed: k = %v", len(failed), records, failed)
	}
	t.Logf("%d kill points: killed applies %s, rollbacks %s, whole test %s", records,
		applyTime.Round(time.Millisecond), rollbackTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestKillDuringRollbackAtEveryRecord applies one edit per file module on 3 nodes (21
// changes), then kills `isaplay rollback` with SIGKILL right after its first journal record,
// 21 times in a row: each
// killed rollback resumes the previous one and reverts exactly one more change. A separate run
// kills the rollback right after its end record. Each time a last `isaplay rollback` must exit
// 0 and leave every node byte-identical to before the run, with the run's locks and backups
// gone and the journal saying rolled_back.
func TestKillDuringRollbackAtEveryRecord(t *testing.T) {
	start := time.Now()
	s := newStand(t, 3)
	pb := s.writePlaybook("site.hcl", playbook(killTasks...))
	before := s.snapshots()
	changes := 3 * len(killTasks)
	killRollback := func(k int, runID string) {
		t.Helper()
		n := len(s.journal(runID))
		s.killedAfterRecord(k, "rollback", "--yes")
		if got := len(s.journal(runID)) - n; got != k {
			t.Fatalf("the rollback killed after record %d wrote %d journal lines", k, got)
		}
	}
	finish := func(what, runID string) {
		t.Helper()
		rb := s.isaplay(nil, "rollback", "--yes")
		if rb.killed || rb.code != 0 {
			t.Fatalf("%s: the last rollback:\n%s", what, rb)
		}
		s.requireRolledBack(runID, before, what+": after the last rollback")
	}

	mustExit(t, s.isaplay(nil, "apply", "--yes", pb), 0)
	runID := s.onlyRun()
	for j := 1; j <= changes; j++ {
		killRollback(1, runID)
		reverted := 0
		for _, l := range s.journal(runID) {
			if l.Type == "revert" && l.OK {
				reverted++
			}
		}
		if reverted != j {
			t.Fatalf("after %d killed rollbacks the journal holds %d successful reverts", j, reverted)
		}
	}
	finish("killed after each revert", runID)

	s.reset()
	mustExit(t, s.isaplay(nil, "apply", "--yes", pb), 0)
	runID = s.onlyRun()
	killRollback(changes+1, runID)
	finish("killed after the end record", runID)
	t.Logf("%d kill points in rollback: %s", changes+1, time.Since(start).Round(time.Millisecond))
}

// TestKillBetweenIntentAndApply kills isaplay right after the intent record of a single change
// (the module's Apply has not started, so nothing on the node changed and no backup
// was saved) for each file module in turn; `isaplay rollback` must exit 0 and leave the node
// byte-identical.
func TestKillBetweenIntentAndApply(t *testing.T) {
	s := newStand(t, 1)
	before := s.snapshots()
	for _, task := range editTasks {
		name := regexp.MustCompile(`task "(\w+)" "([^"]+)"`).FindStringSubmatch(task)
		t.Run(name[1]+" "+name[2], func(t *testing.T) {
			s.t = t
			s.reset()
			pb := s.writePlaybook("one.hcl", playbook(task))
			k := s.recordIndex(pb, func(l journalLine) bool { return l.Type == "intent" })
			s.killedAfterRecord(k, "apply", "--yes", pb)
			if l := s.journal(s.onlyRun()); l[len(l)-1].Type != "intent" {
				t.Fatalf("the last journal line of the killed run is a %q, not the intent", l[len(l)-1].Type)
			}
			s.requireTrees(before, "after the kill")
			rb := s.isaplay(nil, "rollback", "--yes")
			if rb.code != 0 {
				t.Errorf("rollback exited %d:\n%s", rb.code, rb.stdout+rb.stderr)
			}
			s.requireTrees(before, "after the rollback")
			if rb.code == 0 {
				s.requireCleanHosts(s.onlyRun())
			}
		})
	}
}
