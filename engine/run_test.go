package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
)

// Two tasks edit one file, and a third writes into a directory an earlier task creates: the plan
// shows each exact change, and apply does exactly that.
func TestPlanSeesEarlierTasks(t *testing.T) {
	f := newFixture(t, `
play "deps" {
  hosts = "app"
  task "append_line" "first" {
    path = "${host.vars.root}/app.conf"
    line = "a = 1"
  }
  task "append_line" "second" {
    path = "${host.vars.root}/app.conf"
    line = "b = ${host.vars.ip}"
  }
  task "mkdir" "conf dir" {
    path = "${host.vars.root}/conf.d"
  }
  task "append_line" "into new dir" {
    path = "${host.vars.root}/conf.d/extra.conf"
    line = "extra"
  }
}
`, 2, engine.VarInputs{})
	p := f.plan(t)
	golden(t, "plan_deps.golden", f.render(t, p, false))
	if p.Summary.Change != 8 || p.Summary.Failed != 0 {
		t.Fatalf("summary = %+v, want 8 changes", p.Summary)
	}
	cfg := f.config()
	cfg.Reviewed = p
	rec := &recorder{}
	cfg.Journal = rec
	if _, err := engine.ApplyRun(context.Background(), cfg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for i, ip := range []string{"10.0.0.1", "10.0.0.2"} {
		root := filepath.Join(f.dir, "n"+string(rune('1'+i)))
		got, _ := os.ReadFile(filepath.Join(root, "app.conf"))
		if string(got) != "a = 1\nb = "+ip+"\n" {
			t.Errorf("app.conf on n%d = %q", i+1, got)
		}
		got, _ = os.ReadFile(filepath.Join(root, "conf.d/extra.conf"))
		if string(got) != "extra\n" {
			t.Errorf("extra.conf on n%d = %q", i+1, got)
		}
	}
	if len(rec.intents) != 8 || rec.done != 8 {
		t.Errorf("journal got %d intents, %d done; want 8, 8", len(rec.intents), rec.done)
	}
	again := f.plan(t)
	if again.HasChanges() || again.Summary.InSync != 8 {
		t.Errorf("second plan = %+v, want 8 in sync", again.Summary)
	}
}

// A change that differs from the reviewed plan is refused.
func TestApplyRefusesDrift(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "append_line" "one" {
    path = "${host.vars.root}/f"
    line = "x"
  }
}
`, 1, engine.VarInputs{})
	p := f.plan(t)
	write(t, filepath.Join(f.dir, "n1/f"), "someone else\n")
	cfg := f.config()
	cfg.Reviewed = p
	_, err := engine.ApplyRun(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "drift") {
		t.Fatalf("apply after drift: err = %v, want drift", err)
	}
	got, _ := os.ReadFile(filepath.Join(f.dir, "n1/f"))
	if string(got) != "someone else\n" {
		t.Errorf("file changed despite drift: %q", got)
	}
}

func TestLanguage(t *testing.T) {
	tests := []struct {
		name     string
		playbook string
		hosts    int
		in       engine.VarInputs
		// want maps host -> task -> status
		want map[string]map[string]engine.Status
		// check is run on the plan
		check func(t *testing.T, f *fixture, p *engine.Plan)
	}{
		{
			name: "when and host.index",
			playbook: `
play "p" {
  hosts = "app"
  task "append_line" "first only" {
    path = "${host.vars.root}/f"
    line = "x"
    when = host.index == 0
  }
}`,
			hosts: 2,
			want:  map[string]map[string]engine.Status{"n1": {"first only": engine.StatusChange}, "n2": {"first only": engine.StatusSkipped}},
		},
		{
			name: "run_once",
			playbook: `
play "p" {
  hosts = "app"
  task "append_line" "once" {
    path     = "${host.vars.root}/f"
    line     = "x"
    run_once = true
  }
}`,
			hosts: 3,
			want:  map[string]map[string]engine.Status{"n1": {"once": engine.StatusChange}},
		},
		{
			name: "hosts override and list of hosts",
			playbook: `
play "p" {
  hosts = ["n2", "n1"]
  task "append_line" "all" {
    path = "${host.vars.root}/f"
    line = "x"
  }
  task "append_line" "only n3" {
    path  = "${host.vars.root}/g"
    line  = "x"
    hosts = "n3"
  }
}`,
			hosts: 3,
			want: map[string]map[string]engine.Status{
				"n1": {"all": engine.StatusChange}, "n2": {"all": engine.StatusChange}, "n3": {"only n3": engine.StatusChange}},
		},
		{
			name: "group_hosts lists the group in inventory order",
			playbook: `
locals {
  members = join(",", [for h in group_hosts("app") : h.vars.ip])
}
play "p" {
  hosts = "app"
  task "append_line" "members" {
    path = "${host.vars.root}/members"
    line = local.members
  }
}`,
			hosts: 2,
			check: func(t *testing.T, f *fixture, p *engine.Plan) {
				for _, e := range p.Entries {
					if !strings.Contains(e.Change.Diff, "+10.0.0.1,10.0.0.2") {
						t.Errorf("%s: diff %q lacks the member list", e.Host, e.Change.Diff)
					}
				}
			},
		},
		{
			name: "results of earlier tasks: known in plan when the module knows them",
			playbook: `
play "p" {
  hosts = "app"
  task "append_line" "one" {
    path     = "${host.vars.root}/f"
    line     = "x"
    register = "one"
  }
  task "append_line" "uses result" {
    path = "${host.vars.root}/g"
    line = "lines=${result.one.lines} hosts=${length(results.one)}"
  }
}`,
			hosts: 2,
			check: func(t *testing.T, f *fixture, p *engine.Plan) {
				for _, e := range p.Entries {
					if e.Task == "uses result" && !strings.Contains(e.Change.Diff, "+lines=1 hosts=") {
						t.Errorf("%s: diff %q", e.Host, e.Change.Diff)
					}
				}
			},
		},
		{
			name: "templatefile keeps literal placeholders",
			playbook: `
play "p" {
  hosts = "app"
  task "append_line" "tmpl" {
    path = "${host.vars.root}/f"
    line = templatefile("t.tmpl", { ip = host.vars.ip })
  }
}`,
			hosts: 1,
			check: func(t *testing.T, f *fixture, p *engine.Plan) {
				if d := p.Entries[0].Change.Diff; !strings.Contains(d, "+host=10.0.0.1 home=${carbon.home}") {
					t.Errorf("diff %q", d)
				}
			},
		},
		{
			name: "tags select tasks",
			playbook: `
play "p" {
  hosts = "app"
  task "append_line" "tagged" {
    path = "${host.vars.root}/f"
    line = "x"
    tags = ["conf"]
  }
  task "append_line" "untagged" {
    path = "${host.vars.root}/g"
    line = "x"
  }
}`,
			hosts: 1,
			in:    engine.VarInputs{},
			want:  map[string]map[string]engine.Status{"n1": {"tagged": engine.StatusChange}},
			check: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.playbook, tc.hosts, tc.in)
			write(t, filepath.Join(f.dir, "t.tmpl"), "host=${ip} home=$${carbon.home}")
			cfg := f.config()
			if tc.name == "tags select tasks" {
				cfg.Tags = []string{"conf"}
			}
			p, err := engine.PlanRun(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				got := map[string]map[string]engine.Status{}
				for _, e := range p.Entries {
					if got[e.Host] == nil {
						got[e.Host] = map[string]engine.Status{}
					}
					got[e.Host][e.Task] = e.Status
				}
				if len(got) != len(tc.want) {
					t.Fatalf("hosts = %v, want %v", got, tc.want)
				}
				for h, tasks := range tc.want {
					for task, st := range tasks {
						if got[h][task] != st {
							t.Errorf("%s / %s = %q, want %q (all: %v)", h, task, got[h][task], st, got)
						}
					}
					if len(got[h]) != len(tasks) {
						t.Errorf("%s ran %v, want %v", h, got[h], tasks)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, f, p)
			}
		})
	}
}

// serial = 1 runs the whole play on one host before the next; lockstep runs each task on
// every host before the next task.
func TestSerialAndLockstepOrder(t *testing.T) {
	for _, tc := range []struct {
		serial string
		want   string
	}{
		{"", "n1:a n2:a n1:b n2:b"},
		{"serial = 1", "n1:a n1:b n2:a n2:b"},
	} {
		f := newFixture(t, `
play "p" {
  hosts = "app"
  `+tc.serial+`
  task "append_line" "a" {
    path = "${host.vars.root}/f"
    line = "a"
  }
  task "append_line" "b" {
    path = "${host.vars.root}/f"
    line = "b"
  }
}`, 2, engine.VarInputs{})
		cfg := f.config()
		cfg.Forks = 1
		var order []string
		cfg.Events = func(ev engine.Event) {
			if ev.Kind == "task_done" {
				order = append(order, ev.Host+":"+ev.Task)
			}
		}
		if _, err := engine.PlanRun(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(order, " "); got != tc.want {
			t.Errorf("%q: order %q, want %q", tc.serial, got, tc.want)
		}
	}
}

// --limit restricts where tasks run but never what group_hosts() returns.
func TestLimitKeepsGroupMembers(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "append_line" "members" {
    path = "${host.vars.root}/m"
    line = join(",", [for h in group_hosts("app") : h.name])
  }
}`, 3, engine.VarInputs{})
	cfg := f.config()
	cfg.Limit = []string{"n2"}
	p, err := engine.PlanRun(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 1 || p.Entries[0].Host != "n2" || !strings.Contains(p.Entries[0].Change.Diff, "+n1,n2,n3") {
		t.Fatalf("entries = %+v", p.Entries)
	}
}

// A failed host stops; the others finish the task; every error is reported.
func TestApplyFailureReportsEveryHost(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "append_line" "one" {
    path = "${host.vars.root}/f"
    line = "x"
    fail_apply = host.name != "n1"
  }
  task "append_line" "two" {
    path = "${host.vars.root}/g"
    line = "x"
  }
}`, 3, engine.VarInputs{})
	cfg := f.config()
	p, err := engine.ApplyRun(context.Background(), cfg)
	if !errors.Is(err, engine.ErrRunFailed) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "n2: p/one") || !strings.Contains(err.Error(), "n3: p/one") {
		t.Errorf("error does not name both hosts: %v", err)
	}
	if p.Summary.Failed != 2 || p.Summary.Change != 1 {
		t.Errorf("summary %+v", p.Summary)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "n1/f")); err != nil {
		t.Errorf("n1 did not finish the task: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "n1/g")); err == nil {
		t.Errorf("the run went on to task two after a failure")
	}
}

// The hosts a playbook's plays name literally are known from its parsed file alone; computed
// ones and names the inventory lacks are left out, each host comes once.
func TestLiteralPlayHosts(t *testing.T) {
	p := hclparse.NewParser()
	inv, diags := inventory.LoadBytes(p, []byte(`
host "a1" {
  connection = "local"
  groups     = ["app"]
}
host "a2" {
  connection = "local"
  groups     = ["app"]
}
host "db" {
  connection = "local"
  groups     = ["db"]
}
host "lb" {
  connection = "local"
  groups     = ["lb"]
}
`), "hosts.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, tc := range []struct{ plays, want string }{
		{`play "p" { hosts = "app" }`, "a1 a2"},
		{`play "p" { hosts = ["db", "a2", "app"] }`, "db a2 a1"},
		{`play "p" { hosts = "all" }`, "a1 a2 db lb"},
		{`play "p" { hosts = var.x ? ["lb"] : [] }`, ""},
		{`play "p" { hosts = upper("app") }`, ""},
		{`play "p" { hosts = "nope" }
play "q" { hosts = "db" }`, "db"},
		{`play "p" { hosts = "app" }
play "q" { hosts = "a1" }`, "a1 a2"},
	} {
		f, diags := p.ParseHCL([]byte(tc.plays), tc.plays)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		var got []string
		for _, h := range engine.LiteralPlayHosts(f, inv) {
			got = append(got, h.Name)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: %q, want %q", tc.plays, strings.Join(got, " "), tc.want)
		}
	}
}

func TestLimited(t *testing.T) {
	h := &inventory.Host{Name: "an1", Groups: []string{"analytics"}}
	for _, tc := range []struct {
		limit []string
		want  bool
	}{
		{nil, true},
		{[]string{"an1"}, true},
		{[]string{"an*"}, true},
		{[]string{"analytics"}, true},
		{[]string{"all"}, true},
		{[]string{"is1", "identity"}, false},
	} {
		if got := engine.Limited(tc.limit, h); got != tc.want {
			t.Errorf("Limited(%v) = %v, want %v", tc.limit, got, tc.want)
		}
	}
}
