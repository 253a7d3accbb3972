package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// requireRunsPending checks that `isaplay runs` lists runID with status and a non-zero number
// of pending changes.
func (s *stand) requireRunsPending(runID, status string) {
	s.t.Helper()
	r := s.isaplay(nil, "runs")
	mustExit(s.t, r, 0)
	for _, l := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(l)
		if len(f) >= 7 && f[0] == runID {
			if f[1] != status || f[6] == "0" {
				s.t.Errorf("isaplay runs shows %s as %s with %s pending, want %s with changes pending:\n%s", runID, f[1], f[6], status, r.stdout)
			}
			return
		}
	}
	s.t.Errorf("isaplay runs does not list %s:\n%s", runID, r.stdout)
}

// requireEdited fails unless node i still holds the run's edits (its rollback is pending).
func (s *stand) requireEdited(i int, before tree) {
	s.t.Helper()
	want, _ := edited(s.t, before, i, s.c.Nodes[i].Address)
	if d := diffTrees(want, snapshot(s.t, s.c.NodeRoot(i))); len(d) > 0 {
		s.t.Errorf("%s should still hold the run's edits:\n  %s", s.c.Nodes[i].Name, strings.Join(d, "\n  "))
	}
}

// runToGate starts an apply of the edits followed by a gate task (the caller opened the
// gates of n1 and n2), and returns once every node has made the edits, so n3 is at its closed
// gate. It returns the running apply and its run id.
func (s *stand) runToGate() (*proc, string) {
	s.t.Helper()
	pb := s.writePlaybook("site.hcl", playbook(append(append([]string{}, editTasks...), taskGate)...))
	p := s.startIsaplay(nil, "apply", "--yes", pb)
	runID := strings.Fields(p.waitLine(regexp.MustCompile(`^Applying run \S+`), time.Minute))[2]
	for _, n := range s.c.Nodes {
		p.waitLine(regexp.MustCompile(`^`+n.Name+`: analytics / analytics log level: changed`), time.Minute)
	}
	return p, runID
}

// requireOnlyN3Pending checks a 3-node run whose rollback could not reach n3: the journal says
// rollback_incomplete, `isaplay runs` shows it pending, n1 and n2 are as before and n3 keeps
// its edits.
func (s *stand) requireOnlyN3Pending(runID string, before []tree) {
	s.t.Helper()
	if st := s.status(runID); st != "rollback_incomplete" {
		s.t.Errorf("journal status %q, want rollback_incomplete", st)
	}
	s.requireRunsPending(runID, "rollback_incomplete")
	for i := 0; i < 2; i++ {
		if d := diffTrees(before[i], snapshot(s.t, s.c.NodeRoot(i))); len(d) > 0 {
			s.t.Errorf("%s was not rolled back:\n  %s", s.c.Nodes[i].Name, strings.Join(d, "\n  "))
		}
	}
	s.requireEdited(2, before[2])
}

// TestNodeKilledMidRun kills n3's whole process tree (sshd, sessions, commands) while the run
// waits at a gate task after every node made its edits. The other nodes roll back to
// byte-identical trees; the apply exits 3 with the journal saying rollback_incomplete and
// `isaplay runs` showing changes pending; n3 keeps its edits. Once n3 is back, `isaplay
// rollback` completes the job and exits 0.
func TestNodeKilledMidRun(t *testing.T) {
	s := newStand(t, 3)
	openGate(t, s.c.NodeRoot(0))
	openGate(t, s.c.NodeRoot(1))
	before := s.snapshots()
	p, runID := s.runToGate()
	if err := s.c.Nodes[2].Kill(); err != nil {
		t.Fatal(err)
	}
	r := p.wait(2 * time.Minute)
	mustExit(t, r, 3)
	if !regexp.MustCompile(`(?m)^n3: analytics / gate: failed`).MatchString(r.stderr) {
		t.Errorf("the apply does not report n3's gate task failing:\n%s", r)
	}
	if !strings.Contains(r.stderr, "isaplay rollback "+runID) {
		t.Errorf("the apply does not say to run isaplay rollback %s:\n%s", runID, r)
	}
	s.requireOnlyN3Pending(runID, before)

	if err := s.c.Nodes[2].Restart(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	rb := s.isaplay(nil, "rollback", "--yes", runID)
	mustExit(t, rb, 0)
	s.requireRolledBack(runID, before, "after the rollback with n3 back")
}

// TestRollbackWhileNodeDown applies successfully, kills n3, and rolls back: n1 and n2 are
// restored, the rollback exits 3 and `isaplay runs` shows n3's changes pending; after n3
// restarts, a second rollback restores it and exits 0.
func TestRollbackWhileNodeDown(t *testing.T) {
	s := newStand(t, 3)
	pb := s.writePlaybook("site.hcl", playbook(editTasks...))
	before := s.snapshots()
	mustExit(t, s.isaplay(nil, "apply", "--yes", pb), 0)
	runID := s.onlyRun()
	if err := s.c.Nodes[2].Kill(); err != nil {
		t.Fatal(err)
	}
	rb := s.isaplay(nil, "rollback", "--yes")
	mustExit(t, rb, 3)
	if want := fmt.Sprintf("Rollback: %d reverted, %d failed, 0 refused.", 2*len(editTasks), len(editTasks)); !strings.Contains(rb.stdout, want) {
		t.Errorf("want %q (n3's changes failed):\n%s", want, rb)
	}
	if !regexp.MustCompile(`(?m)^\s*! n3: `).MatchString(rb.stdout) {
		t.Errorf("the rollback does not name n3 as failed:\n%s", rb)
	}
	s.requireOnlyN3Pending(runID, before)

	if err := s.c.Nodes[2].Restart(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	rb = s.isaplay(nil, "rollback", "--yes")
	mustExit(t, rb, 0)
	if want := fmt.Sprintf("Rollback: %d reverted, 0 failed, 0 refused.", len(editTasks)); !strings.Contains(rb.stdout, want) {
		t.Errorf("want n3's changes reverted (%q):\n%s", want, rb)
	}
	s.requireTrees(before, "after the second rollback")
	s.requireCleanHosts(runID)
}

// TestNodeHungMidRun freezes n3 (SIGSTOP of its whole process tree) while the run waits at n3's
// gate: keepalives must notice within their bound (3 unanswered probes 5 s apart) and fail n3's
// task with an error naming n3, instead of hanging until the gate's 120 s timeout. n1 and n2
// roll back; once n3 is resumed, `isaplay rollback` restores it.
func TestNodeHungMidRun(t *testing.T) {
	s := newStand(t, 3)
	openGate(t, s.c.NodeRoot(0))
	openGate(t, s.c.NodeRoot(1))
	before := s.snapshots()
	p, runID := s.runToGate()
	if err := s.c.Nodes[2].Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	line := p.waitLine(regexp.MustCompile(`^n3: analytics / gate: failed`), 40*time.Second)
	detected := time.Since(stopped)
	t.Logf("hang detected after %s: %s", detected.Round(time.Millisecond), line)
	if !strings.Contains(line, "keepalive") {
		t.Errorf("n3's failure does not say the keepalives went unanswered: %s", line)
	}
	r := p.wait(time.Minute)
	t.Logf("apply ended %s after the stop", time.Since(stopped).Round(time.Millisecond))
	mustExit(t, r, 3)
	if since := time.Since(stopped); since > 45*time.Second {
		t.Errorf("the apply took %s after n3 hung; keepalives bound it to about 15 s plus the rollback", since)
	}
	if st := s.status(runID); st != "rollback_incomplete" {
		t.Errorf("journal status %q, want rollback_incomplete", st)
	}
	for i := 0; i < 2; i++ {
		if d := diffTrees(before[i], snapshot(t, s.c.NodeRoot(i))); len(d) > 0 {
			t.Errorf("%s was not rolled back:\n  %s", s.c.Nodes[i].Name, strings.Join(d, "\n  "))
		}
	}
	s.requireEdited(2, before[2])

	if err := s.c.Nodes[2].Cont(); err != nil {
		t.Fatal(err)
	}
	rb := s.isaplay(nil, "rollback", "--yes")
	mustExit(t, rb, 0)
	s.requireTrees(before, "after the rollback with n3 resumed")
	s.requireCleanHosts(runID)
}

// TestNodeHungBeforeRun freezes n2 before a plan: the TCP connection is accepted by the kernel
// but sshd never answers, so only the connect timeout can end the wait. The plan must fail
// naming n2, within the connect timeout and its retries, with n1 and n3 planned as usual.
func TestNodeHungBeforeRun(t *testing.T) {
	s := newStand(t, 3)
	pb := s.writePlaybook("site.hcl", playbook(editTasks...))
	if err := s.c.Nodes[1].Stop(); err != nil {
		t.Fatal(err)
	}
	defer s.c.Nodes[1].Cont()
	r := s.isaplay(nil, "plan", pb)
	t.Logf("plan with n2 hung: exit %d after %s", r.code, r.elapsed.Round(time.Millisecond))
	mustExit(t, r, 1)
	if !regexp.MustCompile(`(?m)^Error: .*\bn2\b`).MatchString(r.stderr) {
		t.Errorf("the plan's error does not name n2:\n%s", r)
	}
	for _, n := range []string{"n1", "n3"} {
		if !strings.Contains(r.stdout, "host "+n) {
			t.Errorf("%s was not planned:\n%s", n, r)
		}
	}
	if r.elapsed > time.Minute {
		t.Errorf("the plan took %s with one hung node; 3 connect attempts of 10 s bound it", r.elapsed)
	}
}
