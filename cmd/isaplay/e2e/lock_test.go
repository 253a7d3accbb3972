package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// taskInSync changes nothing on a freshly seeded node: /opt/wso2/current already points there.
const taskInSync = `  task "symlink" "current stays" {
    path   = "/opt/wso2/current"
    target = "wso2is-analytics-5.5.0"
  }
`

// taskN1Only changes n1 only.
const taskN1Only = `  task "properties_set" "n1 log level" {
    when = host.name == "n1"
    path = "${var.an_home}/repository/conf/log4j.properties"
    set  = { "log4j.logger.org.wso2" = "DEBUG" }
  }
`

// recordIndex applies pb once without interruption and returns the 1-based number of the first
// journal line for which match is true, then rolls the run back and resets the nodes, so that
// a kill hook can aim at that record whatever else the journal holds.
func (s *stand) recordIndex(pb string, match func(journalLine) bool) int {
	s.t.Helper()
	mustExit(s.t, s.isaplay(nil, "apply", "--yes", pb), 0)
	idx := 0
	for i, l := range s.journal(s.onlyRun()) {
		if match(l) {
			idx = i + 1
			break
		}
	}
	if idx == 0 {
		s.t.Fatal("no such journal record in the trial run")
	}
	mustExit(s.t, s.isaplay(nil, "rollback", "--yes"), 0)
	s.reset()
	return idx
}

// killedAfterRecord runs isaplay with args and the kill hook aimed at journal record k (see
// recordIndex), and fails the test unless the hook killed it.
func (s *stand) killedAfterRecord(k int, args ...string) result {
	s.t.Helper()
	r := s.isaplay([]string{"ISAPLAY_TEST_KILL_AFTER_RECORD=" + strconv.Itoa(k)}, args...)
	if !r.killed {
		s.t.Fatalf("isaplay %s was not killed after record %d:\n%s", strings.Join(args, " "), k, r)
	}
	return r
}

// TestRollbackReleasesLocksOfHostsWithoutChanges kills isaplay right after n1's change record,
// at a point where every host is locked (the first task, in sync everywhere, connected and
// locked all three) but only n1 has a change. `isaplay rollback` must release the dead run's
// lock on every host, as the lock error message promises ("`isaplay rollback RUN-ID` releases
// it"), so that the next apply is not refused.
func TestRollbackReleasesLocksOfHostsWithoutChanges(t *testing.T) {
	s := newStand(t, 3)
	pb := s.writePlaybook("site.hcl", playbook(taskInSync, taskN1Only))
	k := s.recordIndex(pb, func(l journalLine) bool { return l.Type == "intent" })
	before := s.snapshots()

	s.killedAfterRecord(k, "apply", "--yes", pb)
	runID := s.onlyRun()
	for i, n := range s.c.Nodes {
		if lk := s.lockOf(i); !strings.HasPrefix(lk, "run="+runID+" ") {
			t.Fatalf("before the rollback %s's lock is %q, want the dead run %s's", n.Name, lk, runID)
		}
	}
	s.requireRollbackReleases(runID, pb, before)
}

// requireRollbackReleases checks that `isaplay rollback` of the killed run exits 0, restores the
// trees and releases every lock, and that the next apply of pb runs.
func (s *stand) requireRollbackReleases(runID, pb string, before []tree) {
	s.t.Helper()
	rb := s.isaplay(nil, "rollback", "--yes")
	mustExit(s.t, rb, 0)
	s.requireTrees(before, "after the rollback")
	for i, n := range s.c.Nodes {
		if lk := s.lockOf(i); lk != "" {
			s.t.Errorf("after `isaplay rollback %s`, %s still holds its lock: %s", runID, n.Name, strings.TrimSpace(lk))
		}
	}
	if next := s.isaplay(nil, "apply", "--yes", pb); next.code != 0 {
		s.t.Errorf("the next apply after the rollback is refused:\n%s", next)
	}
}

// TestRollbackReleasesLocksTakenBeforeTheirRecord kills isaplay right after the first host's
// lock record of a 10-node run whose only task is in sync everywhere. By then the other hosts
// have connected and taken their locks too, and wait for the journal (each record is fsynced
// under one mutex) to record theirs: locks the journal does not name. `isaplay rollback` must
// still release every one (for example, with the lock recorded in the journal before it is
// taken: releasing is conditional on the run id anyway).
func TestRollbackReleasesLocksTakenBeforeTheirRecord(t *testing.T) {
	s := newStand(t, 10)
	pb := s.writePlaybook("site.hcl", playbook(taskInSync, taskN1Only))
	k := s.recordIndex(pb, func(l journalLine) bool { return l.Type == "lock" })
	before := s.snapshots()
	s.killedAfterRecord(k, "apply", "--yes", pb)
	runID := s.onlyRun()
	locked := 0
	for i := range s.c.Nodes {
		if strings.HasPrefix(s.lockOf(i), "run="+runID+" ") {
			locked++
		}
	}
	t.Logf("the killed run journaled 1 lock and held %d", locked)
	s.requireRollbackReleases(runID, pb, before)
}

// TestSecondApplyRefusedByStaleLock: a run killed right after its one change record (on n1)
// leaves its lock; a
// second apply on the same hosts is refused, naming the dead run's id, controller and pid, and
// changes nothing anywhere.
func TestSecondApplyRefusedByStaleLock(t *testing.T) {
	s := newStand(t, 3)
	pb := s.writePlaybook("site.hcl", playbook(taskN1Only))
	k := s.recordIndex(pb, func(l journalLine) bool { return l.Type == "intent" })
	before := s.snapshots()

	killed := s.startIsaplay([]string{"ISAPLAY_TEST_KILL_AFTER_RECORD=" + strconv.Itoa(k)}, "apply", "--yes", pb)
	pid := killed.cmd.Process.Pid
	if r := killed.wait(time.Minute); !r.killed {
		t.Fatalf("isaplay was not killed:\n%s", r)
	}
	deadRun := s.onlyRun()
	host, _ := os.Hostname()

	other := s.writePlaybook("other.hcl", playbook(taskLog4j))
	r := s.isaplay(nil, "apply", "--yes", other)
	mustExit(t, r, 1)
	holder := regexp.MustCompile(`n1 is locked by another run \(run=` + regexp.QuoteMeta(deadRun) +
		` controller=` + regexp.QuoteMeta(host) + ` pid=` + strconv.Itoa(pid) + ` since=[^)]+\)`)
	if !holder.MatchString(r.stdout + r.stderr) {
		t.Errorf("the refusal does not name the holder (run %s, controller %s, pid %d):\n%s", deadRun, host, pid, r)
	}
	if !strings.Contains(r.stdout+r.stderr, "isaplay rollback") {
		t.Errorf("the refusal does not say how to clear the lock:\n%s", r)
	}
	// n1 held the dead run's change; the refused run changed nothing on any node.
	for i := range s.c.Nodes {
		if i == 0 {
			continue
		}
		if d := diffTrees(before[i], snapshot(t, s.c.NodeRoot(i))); len(d) > 0 {
			t.Errorf("%s changed although the second apply was refused:\n  %s", s.c.Nodes[i].Name, strings.Join(d, "\n  "))
		}
	}
	if lk := s.lockOf(0); !strings.HasPrefix(lk, "run="+deadRun+" ") {
		t.Errorf("n1's lock changed hands: %q", lk)
	}
}

// TestSecondApplyRefusedByLiveHolder holds a first apply at a gate task (wait_log) on n1, after
// it has changed and locked every node, and starts a second apply meanwhile: the second is
// refused naming the first's run id, this controller and the first's pid, and changes nothing.
// Opening the gate then lets the first finish normally and release its locks.
func TestSecondApplyRefusedByLiveHolder(t *testing.T) {
	s := newStand(t, 3)
	openGate(t, s.c.NodeRoot(1))
	openGate(t, s.c.NodeRoot(2))
	first := s.startIsaplay(nil, "apply", "--yes", s.writePlaybook("first.hcl", playbook(taskSpark, taskGate)))
	line := first.waitLine(regexp.MustCompile(`^Applying run (\S+)`), time.Minute)
	firstRun := strings.Fields(line)[2]
	// Each node's spark edit is done, so each node is locked, and n1 is waiting at the gate.
	for _, n := range s.c.Nodes {
		first.waitLine(regexp.MustCompile(`^`+n.Name+`: analytics / spark masters: changed`), time.Minute)
	}
	mid := s.snapshots()

	second := s.isaplay(nil, "apply", "--yes", s.writePlaybook("second.hcl", playbook(taskLog4j)))
	mustExit(t, second, 1)
	host, _ := os.Hostname()
	holder := regexp.MustCompile(`is locked by another run \(run=` + regexp.QuoteMeta(firstRun) +
		` controller=` + regexp.QuoteMeta(host) + ` pid=` + strconv.Itoa(first.cmd.Process.Pid) + ` since=`)
	if !holder.MatchString(second.stdout + second.stderr) {
		t.Errorf("the refusal does not name the live holder (run %s, pid %d):\n%s", firstRun, first.cmd.Process.Pid, second)
	}
	s.requireTrees(mid, "after the refused second apply")

	openGate(t, s.c.NodeRoot(0))
	r := first.wait(time.Minute)
	mustExit(t, r, 0)
	if st := s.status(firstRun); st != "applied" {
		t.Errorf("first run's status %q, want applied", st)
	}
	s.requireCleanHosts("")
}

// TestConcurrentAppliesNeverInterleave starts two applies on the same 3 nodes at the same
// moment, five times; they edit different files. Whatever the interleaving, the host locks
// make each run all-or-nothing: a run that exits 0 has its edits on every node, a run that
// exits 1 has none left anywhere, no node holds a lock afterwards, and neither command hangs.
func TestConcurrentAppliesNeverInterleave(t *testing.T) {
	s := newStand(t, 3)
	pbA := s.writePlaybook("a.hcl", playbook(taskSpark))
	pbB := s.writePlaybook("b.hcl", playbook(taskLog4j))
	const (
		sparkRel = "wso2/wso2is-analytics-5.6.0/repository/conf/analytics/spark/spark-defaults.conf"
		log4jRel = "wso2/wso2is-analytics-5.6.0/repository/conf/log4j.properties"
	)
	outcomes := map[string]int{}
	for round := 1; round <= 5; round++ {
		s.reset()
		before := s.snapshots()
		var editedA, editedB []tree
		for i, n := range s.c.Nodes {
			all, _ := edited(t, before[i], i, n.Address)
			a, b := copyTree(before[i]), copyTree(before[i])
			a[sparkRel], b[log4jRel] = all[sparkRel], all[log4jRel]
			editedA, editedB = append(editedA, a), append(editedB, b)
		}
		a := s.startIsaplay(nil, "apply", "--yes", pbA)
		b := s.startIsaplay(nil, "apply", "--yes", pbB)
		ra, rb := a.wait(time.Minute), b.wait(time.Minute)
		for _, r := range []result{ra, rb} {
			if r.killed || (r.code != 0 && r.code != 1) {
				t.Fatalf("round %d: want exit 0 or 1:\n%s", round, r)
			}
			if r.code == 1 && !strings.Contains(r.stdout+r.stderr, "is locked by another run") {
				t.Errorf("round %d: a run failed for another reason than the lock:\n%s", round, r)
			}
		}
		outcomes[fmt.Sprintf("A exit %d, B exit %d", ra.code, rb.code)]++
		for i, n := range s.c.Nodes {
			want := copyTree(before[i])
			if ra.code == 0 {
				want[sparkRel] = editedA[i][sparkRel]
			}
			if rb.code == 0 {
				want[log4jRel] = editedB[i][log4jRel]
			}
			if d := diffTrees(want, snapshot(t, s.c.NodeRoot(i))); len(d) > 0 {
				t.Errorf("round %d (A exit %d, B exit %d): %s holds a mix:\n  %s", round, ra.code, rb.code, n.Name, strings.Join(d, "\n  "))
			}
		}
		s.requireCleanHosts("")
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

func copyTree(in tree) tree {
	out := make(tree, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
