package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// setLog replaces node i's wso2carbon.log, keeping its mode and owner.
func (s *stand) setLog(i int, content string) {
	s.t.Helper()
	p := filepath.Join(s.c.NodeRoot(i), "wso2/wso2is-analytics-5.6.0/repository/logs/wso2carbon.log")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// requireAllReverted checks a run's journal: every change has a successful revert line, and
// the changes of tasks other than the failing one number edits (so there was something to roll
// back).
func (s *stand) requireAllReverted(runID string, edits int, failing string) {
	s.t.Helper()
	lines := s.journal(runID)
	intents := map[int]string{}
	reverted := map[int]bool{}
	nEdits := 0
	for _, l := range lines {
		switch l.Type {
		case "intent":
			intents[l.Seq] = fmt.Sprintf("%s %s", l.Record.Host, l.Record.Task)
			if l.Record.Task != failing {
				nEdits++
			}
		case "revert":
			if l.OK {
				reverted[l.Seq] = true
			}
		}
	}
	if nEdits != edits {
		s.t.Errorf("journal of %s has %d edit changes, want %d", runID, nEdits, edits)
	}
	for seq, what := range intents {
		if !reverted[seq] {
			s.t.Errorf("journal of %s: change %d (%s) has no successful revert", runID, seq, what)
		}
	}
}

// taskPortFree is a command that fails on a node whose log shows a BindException.
const taskPortFree = `  task "command" "port free" {
    argv = ["sh", "-c", "! grep -q BindException \"$1\"", "sh", "${var.an_home}/repository/logs/wso2carbon.log"]
  }
`

// TestFailureAtTaskKRollsBackEveryNode fails a run at task k of 10 on one node of 3 and proves
// every node ends byte-identical to before (checksums, modes, owners, link targets), with exit
// code 1 and the journal saying rolled_back. The failure is deterministic: a wait_log task
// ("analytics started") finds java.net.BindException in n2's wso2carbon.log, as when a port
// is taken, while n1 and n3 logged "WSO2 Carbon started" (or a command task greps the log and
// exits 1 on n2). The table moves that task from first to last, so the rollback undoes 0, 4
// and 9 tasks' changes on every node.
func TestFailureAtTaskKRollsBackEveryNode(t *testing.T) {
	n := len(editTasks) + 1
	for _, tc := range []struct {
		k                int
		failing, failure string
	}{
		{1, taskStarted, `n2: .*analytics started.*java\.net\.BindException`},
		{n / 2, taskStarted, `n2: .*analytics started.*java\.net\.BindException`},
		{n / 2, taskPortFree, `n2: .*port free.*exit`},
		{n, taskStarted, `n2: .*analytics started.*java\.net\.BindException`},
	} {
		k := tc.k
		m := regexp.MustCompile(`task "(\w+)" "([^"]+)"`).FindStringSubmatch(tc.failing)
		mod, failingTask := m[1], m[2]
		t.Run(fmt.Sprintf("%s fails at task %d of %d", mod, k, n), func(t *testing.T) {
			s := newStand(t, 3)
			s.setLog(1, bindErrorLog)
			tasks := append([]string{}, editTasks[:k-1]...)
			tasks = append(tasks, tc.failing)
			tasks = append(tasks, editTasks[k-1:]...)
			pb := s.writePlaybook("site.hcl", playbook(tasks...))
			before := s.snapshots()

			r := s.isaplay(nil, "apply", "--yes", pb)
			mustExit(t, r, 1)
			t.Logf("failed apply with rollback: %s", r.elapsed)
			out := r.stdout + r.stderr
			if !regexp.MustCompile(tc.failure).MatchString(out) {
				t.Errorf("the failure does not name n2, the task and the log line:\n%s", r)
			}
			if !regexp.MustCompile(`Rollback: \d+ reverted, 0 failed, 0 refused\.`).MatchString(r.stdout) {
				t.Errorf("no clean rollback report:\n%s", r)
			}
			runID := s.onlyRun()
			if st := s.status(runID); st != "rolled_back" {
				t.Errorf("journal status %q, want rolled_back", st)
			}
			s.requireAllReverted(runID, 3*(k-1), failingTask)
			s.requireTrees(before, "after the rolled-back run")
			s.requireCleanHosts(runID)

			runs := s.isaplay(nil, "runs")
			mustExit(t, runs, 0)
			if !regexp.MustCompile(regexp.QuoteMeta(runID) + `\s+rolled_back\s.*\s0\s*$`).MatchString(strings.TrimSpace(runs.stdout)) {
				t.Errorf("isaplay runs does not show %s rolled_back with 0 pending:\n%s", runID, runs.stdout)
			}
			// Nothing is left to undo.
			r = s.isaplay(nil, "rollback", "--yes")
			mustExit(t, r, 0)
			if !strings.Contains(r.stdout, "nothing left to undo") {
				t.Errorf("a second rollback found something to undo:\n%s", r)
			}
		})
	}
}

// TestFailedBackupRollsBackCleanly makes n2's first file edit fail before it writes anything:
// its backup cannot be saved because n2's isaplay state directory holds a file named "runs"
// where the backup directory must go (as when that disk is full or the directory is not
// writable). The product file on n2 is untouched, so the rollback has nothing to restore for
// that change; it must still end clean: exit 1, rolled_back, every node byte-identical.
func TestFailedBackupRollsBackCleanly(t *testing.T) {
	s := newStand(t, 3)
	if err := os.MkdirAll(s.hostState(1), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.hostState(1), "runs"), []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pb := s.writePlaybook("site.hcl", playbook(editTasks...))
	before := s.snapshots()

	r := s.isaplay(nil, "apply", "--yes", pb)
	if !regexp.MustCompile(`n2: analytics / spark masters: failed`).MatchString(r.stderr) {
		t.Fatalf("n2's spark edit did not fail as arranged:\n%s", r)
	}
	s.requireTrees(before, "after the failed run")
	mustExit(t, r, 1)
	runID := s.onlyRun()
	if st := s.status(runID); st != "rolled_back" {
		t.Errorf("journal status %q, want rolled_back", st)
	}
}

// TestOnFailureStopKeepsChangesForRollback fails the run on n2 with --on-failure=stop: exit 1,
// status failed, every change kept (n1 and n3 hold all edits before the failing task); then
// `isaplay rollback` restores every node byte-identically.
func TestOnFailureStopKeepsChangesForRollback(t *testing.T) {
	s := newStand(t, 3)
	s.setLog(1, bindErrorLog)
	pb := s.writePlaybook("site.hcl", playbook(append(append([]string{}, editTasks...), taskStarted)...))
	before := s.snapshots()
	r := s.isaplay(nil, "apply", "--yes", "--on-failure=stop", pb)
	mustExit(t, r, 1)
	runID := s.onlyRun()
	if !strings.Contains(r.stderr, "isaplay rollback "+runID) {
		t.Errorf("the apply does not say how to undo the run:\n%s", r)
	}
	if strings.Contains(r.stdout, "Rollback:") {
		t.Errorf("--on-failure=stop rolled back:\n%s", r)
	}
	if st := s.status(runID); st != "failed" {
		t.Errorf("journal status %q, want failed", st)
	}
	for i := range s.c.Nodes {
		s.requireEdited(i, before[i])
	}
	s.requireRunsPending(runID, "failed")
	mustExit(t, s.isaplay(nil, "rollback", "--yes"), 0)
	s.requireTrees(before, "after the rollback")
	s.requireCleanHosts(runID)
}

// TestKillDuringAutomaticRollback fails a run on n2 at its last task, so that apply rolls back
// by itself, and kills isaplay right after the first, a middle and the last revert record of
// that automatic rollback, and after its end record. `isaplay rollback` then finishes the job:
// exit 0, every node byte-identical to before, no lock or backup left.
func TestKillDuringAutomaticRollback(t *testing.T) {
	s := newStand(t, 3)
	s.setLog(1, bindErrorLog)
	pb := s.writePlaybook("site.hcl", playbook(append(append([]string{}, editTasks...), taskStarted)...))
	before := s.snapshots()

	// A trial run gives the journal line numbers of the reverts and the end.
	mustExit(t, s.isaplay(nil, "apply", "--yes", pb), 1)
	var reverts []int
	lines := s.journal(s.onlyRun())
	for i, l := range lines {
		if l.Type == "revert" {
			reverts = append(reverts, i+1)
		}
	}
	if len(reverts) < 3 || lines[len(lines)-1].Type != "end" {
		t.Fatalf("the trial run's journal has %d reverts and ends with %q", len(reverts), lines[len(lines)-1].Type)
	}
	s.requireTrees(before, "after the trial run")
	for _, k := range []int{reverts[0], reverts[len(reverts)/2], reverts[len(reverts)-1], len(lines)} {
		s.reset()
		s.setLog(1, bindErrorLog)
		s.killedAfterRecord(k, "apply", "--yes", pb)
		runID := s.onlyRun()
		rb := s.isaplay(nil, "rollback", "--yes")
		if rb.code != 0 {
			t.Errorf("k=%d: the rollback exited %d:\n%s", k, rb.code, rb.stdout+rb.stderr)
		}
		s.requireRolledBack(runID, before, "k="+strconv.Itoa(k)+": after the rollback")
	}
}
