package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestInterruptRollsBack sends Ctrl-C (SIGINT) to an apply while n3 waits at its gate after
// every node made its edits and n1 and n2 passed their gates: the running wait is cancelled, no further task starts, and the
// run is rolled back on every node (exit 1, rolled_back, byte-identical trees, no locks).
func TestInterruptRollsBack(t *testing.T) {
	s := newStand(t, 3)
	openGate(t, s.c.NodeRoot(0))
	openGate(t, s.c.NodeRoot(1))
	before := s.snapshots()
	p, runID := s.runToGate()
	// n1 and n2 passed their open gates; n3 waits at its closed one.
	p.waitLine(regexp.MustCompile(`^n1: analytics / gate: changed`), time.Minute)
	p.waitLine(regexp.MustCompile(`^n2: analytics / gate: changed`), time.Minute)
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	p.waitLine(regexp.MustCompile(`^Interrupt: stopping the running tasks`), 30*time.Second)
	r := p.wait(time.Minute)
	mustExit(t, r, 1)
	if want := fmt.Sprintf("Rollback: %d reverted, 0 failed, 0 refused.", 3*len(editTasks)+3); !strings.Contains(r.stdout, want) {
		t.Errorf("want every edit and the 3 gate waits reverted (%q):\n%s", want, r)
	}
	if !regexp.MustCompile(`(?m)^n3: analytics / gate: failed .*context canceled`).MatchString(r.stderr) {
		t.Errorf("n3's wait was not cancelled by the interrupt:\n%s", r)
	}
	if strings.Contains(r.stderr, "n1: analytics / gate: failed") || strings.Contains(r.stderr, "n2: analytics / gate: failed") {
		t.Errorf("a finished gate task failed:\n%s", r)
	}
	if st := s.status(runID); st != "rolled_back" {
		t.Errorf("journal status %q, want rolled_back", st)
	}
	s.requireTrees(before, "after the interrupted run")
	s.requireCleanHosts(runID)
}
