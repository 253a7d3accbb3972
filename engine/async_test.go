package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/zclconf/go-cty/cty"
)

// gates are named events that gate tasks wait for and open, so that a test can tell tasks that
// run alongside each other from tasks that run one after the other without timing anything.
var gates sync.Map // name -> *gateEvent

type gateEvent struct {
	once sync.Once
	ch   chan struct{}
}

// gateRun makes the gate names of one test run its own ("G-" becomes "G<k>-").
var gateRuns atomic.Int64

func gateRun(playbook string) string {
	return strings.ReplaceAll(playbook, "\"G-", fmt.Sprintf("\"G%d-", gateRuns.Add(1)))
}

func gateNamed(name string) *gateEvent {
	g, _ := gates.LoadOrStore(name, &gateEvent{ch: make(chan struct{})})
	return g.(*gateEvent)
}

// gate is a test module: a change whose Apply waits for a gate to open, then opens another or
// fails, and can insist that a gate is open already.
type gate struct{}

func (gate) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: waits for and opens gates.",
		Attrs: []engine.Attr{
			{Name: "wait", Type: cty.String, Description: "gate to wait for (10s at most)"},
			{Name: "open", Type: cty.String, Description: "gate to open once done"},
			{Name: "require", Type: cty.String, Description: "gate that must be open already"},
			{Name: "fail", Type: cty.Bool, Description: "fail after waiting"},
		}}
}

type gateSpec struct {
	wait, open, require string
	fail                bool
}

func (gate) Check(_ context.Context, _ *engine.Host, a *engine.Args) (*engine.Change, error) {
	return &engine.Change{Action: engine.ActionRun, Summary: "gate",
		Private: gateSpec{a.String("wait"), a.String("open"), a.String("require"), a.Bool("fail")}}, nil
}

func (gate) Apply(ctx context.Context, _ *engine.Host, c *engine.Change) error {
	s := c.Private.(gateSpec)
	if s.require != "" {
		select {
		case <-gateNamed(s.require).ch:
		default:
			return fmt.Errorf("gate %s is not open", s.require)
		}
	}
	if s.wait != "" {
		select {
		case <-gateNamed(s.wait).ch:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("gate %s never opened", s.wait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail {
		return errors.New("failed on purpose")
	}
	if s.open != "" {
		g := gateNamed(s.open)
		g.once.Do(func() { close(g.ch) })
	}
	return nil
}

func (gate) Revert(context.Context, *engine.Host, engine.Undo) error { return nil }

// An async task's change is applied while the play goes on (it waits for a later task), and
// the play ends only once it is done (the next play finds it done).
func TestAsyncRunsAlongside(t *testing.T) {
	f := newFixture(t, gateRun(`
play "p" {
  hosts = "app"
  task "gate" "load" {
    run_once = true
    async    = true
    wait     = "G-next"
    open     = "G-loaded"
  }
  task "gate" "next" {
    open = "G-next"
  }
}
play "q" {
  hosts = "app"
  task "gate" "after" {
    require = "G-loaded"
  }
}`), 2, engine.VarInputs{})
	cfg := f.config()
	var mu sync.Mutex
	var order []string
	cfg.Events = func(ev engine.Event) {
		if ev.Kind == "task_done" {
			mu.Lock()
			order = append(order, ev.Host+":"+ev.Task)
			mu.Unlock()
		}
	}
	p, err := engine.ApplyRun(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.Change != 5 {
		t.Errorf("summary %+v, want 5 changes", p.Summary)
	}
	// load could only end once a next opened its gate (it ran alongside); it ends before play
	// q's tasks do.
	if len(order) != 5 || !strings.HasSuffix(order[3], ":after") || !strings.HasSuffix(order[4], ":after") {
		t.Errorf("task ends %q: load ends before every after", strings.Join(order, " "))
	}
}

// A failed async change stops the run: the play's end finds it, and the next play does not run.
func TestAsyncFailureStopsTheRun(t *testing.T) {
	f := newFixture(t, gateRun(`
play "p" {
  hosts = "app"
  task "gate" "load" {
    run_once = true
    async    = true
    wait     = "G-next"
    fail     = true
  }
  task "gate" "next" {
    open = "G-next"
  }
}
play "q" {
  hosts = "app"
  task "gate" "after" {
  }
}`), 2, engine.VarInputs{})
	cfg := f.config()
	j := &journalLog{}
	cfg.Journal = j
	p, err := engine.ApplyRun(context.Background(), cfg)
	if !errors.Is(err, engine.ErrRunFailed) || !strings.Contains(err.Error(), "n1: p/load: failed on purpose") {
		t.Fatalf("err = %v", err)
	}
	// Journaled in order, as for any task: its intent before the next task's, its failure once
	// it ended (after a next task's intent: it waited for one).
	log := strings.Join(j.lines, "\n")
	if !strings.HasPrefix(log, "intent n1 load\n") || !strings.Contains(log, "done n1 load failed") ||
		strings.Index(log, " next") > strings.Index(log, "done n1 load failed") {
		t.Errorf("journal:\n%s", log)
	}
	for _, e := range p.Entries {
		if e.Play == "q" {
			t.Errorf("play q ran on %s after the failure", e.Host)
		}
		if e.Task == "load" && e.Status != engine.StatusFailed {
			t.Errorf("load: status %s", e.Status)
		}
	}
}

// What async cannot be is refused before anything runs, at the argument.
func TestAsyncRefused(t *testing.T) {
	for _, tc := range []struct {
		name, task, want string
	}{
		{"file task", `task "held_file" "x" {
    path    = "${host.vars.root}/x"
    content = "x"
    async   = true
  }`, "pb.hcl:7,15-19: Invalid async; A held_file task writes files"},
		{"register", `task "gate" "x" {
    async    = true
    register = "x"
  }`, "pb.hcl:6,16-19: Invalid register; An async task has no result"},
		{"null", `task "gate" "x" {
    async = null
  }`, "pb.hcl:5,13-17: Invalid async; async must be true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "\nplay \"p\" {\n  hosts = \"app\"\n  "+tc.task+"\n}\n", 1, engine.VarInputs{})
			_, err := engine.PlanRun(context.Background(), f.config())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
