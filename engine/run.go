package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/sourcegraph/conc/pool"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// Config is everything a plan or an apply needs.
type Config struct {
	Playbook  *Playbook
	Inventory *inventory.Inventory
	Registry  *Registry
	// Vars are the resolved variables (ResolveVariables).
	Vars     map[string]cty.Value
	Redactor *Redactor
	// Limit restricts the hosts tasks run on: host names, group names or globs. It never changes
	// what group_hosts() returns.
	Limit []string
	// Tags selects tasks whose tags (or their play's) include one of these; "always" always runs.
	Tags []string
	// Forks is how many hosts run at once (default 50).
	Forks int
	// RunID names the run; backups on hosts live under it.
	RunID string
	// Conns opens and keeps host connections; the caller closes it.
	Conns *Conns
	// Lock takes each host's lock before the first change (apply).
	Lock bool
	// Events, when set, receives progress events; it must be safe for concurrent use.
	Events func(Event)
	// Journal receives write-ahead records during apply; nil during plan.
	Journal Journal
	// Files maps and records controller files (offline bundles); nil reads them where they are.
	Files *ControllerFiles
	// Reviewed, when set during apply, is the plan the operator reviewed: a change whose digest
	// differs from its entry there is refused as drift.
	Reviewed *Plan
}

// Event is a progress report from the executor; renderers draw it, the executor never prints.
type Event struct {
	Kind    string // "task_start", "task_done", "connect", "write" (a host's held file writes made)
	Play    string
	Task    string
	Host    string
	Status  Status
	Elapsed time.Duration
	Err     error
}

// Journal records changes before they are made, so they can be undone later.
type Journal interface {
	// Intent is written and synced before a change is applied on a host.
	Intent(rec Record) error
	// Done records that the change was applied (err nil) or failed.
	Done(rec Record, err error) error
}

// LockRecorder is implemented by journals that record the hosts whose lock a run took, so a
// rollback releases every one of them, also on hosts the run did not change.
type LockRecorder interface {
	Locked(host string) error
}

// Record is one change in the journal.
type Record struct {
	Seq    int    `json:"seq"`
	Host   string `json:"host"`
	Play   string `json:"play"`
	Task   string `json:"task"`
	Module string `json:"module"`
	Undo   Undo   `json:"undo"`
	// Secrets names, for each sensitive argument that is exactly a playbook variable, that
	// variable, so a later rollback can ask for it again; values are never journaled.
	Secrets map[string]string `json:"secrets,omitempty"`
}

type hostState struct {
	inv     *inventory.Host
	idx     int
	once    sync.Once
	connErr error
	plan    *Host // planning view with its overlay, kept across tasks
	results map[string]cty.Value
	failed  error
	mu      sync.Mutex
	hostObj cty.Value // the host object of expressions, for hostIdx
	hostIdx int
	// status is what each task did on this host, by name and by "play/name".
	status map[string]Status
	// scopes caches the evaluation contexts of component scopes (see scopeContext).
	scopes map[*scope]scopeCtx
	// aheadPlay is the play this host last read ahead for; args are the task arguments that
	// read-ahead evaluated, for execute to reuse (see taskArgs).
	aheadPlay *Play
	args      map[*Task]argsAhead
	// writes holds the file writes of consecutive file tasks during an apply (see writeBehind).
	writes *writeBehind
}

type argsAhead struct {
	args    *Args
	version int
	index   int
}

func (hs *hostState) setStatus(t *Task, st Status) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.status == nil {
		hs.status = map[string]Status{}
	}
	hs.status[t.Name] = st
	hs.status[t.ID] = st
}

// hasFailed reports whether the host failed (an async task's failure is set from its goroutine).
func (hs *hostState) hasFailed() bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.failed != nil
}

func (hs *hostState) statusOf(task string) (Status, bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	st, ok := hs.status[task]
	return st, ok
}

type mode int

const (
	modeValidate mode = iota
	modePlan
	modeApply
)

type runner struct {
	cfg    Config
	mode   mode
	apply  bool
	fns    map[string]function.Function
	locals cty.Value
	varObj cty.Value
	// resVersion counts registrations; allResults caches the results object at that version.
	resVersion int
	allResults cty.Value
	allVersion int
	hosts      map[string]*hostState
	results    map[string]map[string]cty.Value // register name -> host -> value
	resMu      sync.RWMutex
	plan       *Plan
	planMu     sync.Mutex
	fnMu       sync.Mutex
	fnByDir    map[string]map[string]function.Function
	seq        int
	seqMu      sync.Mutex
	errs       *multierror.Error
	errMu      sync.Mutex
	diags      hcl.Diagnostics // validate mode: every host's diagnostics, deduplicated
	seenDg     map[string]bool
	// readsResults caches, by *Task, whether its arguments may read results (see argsReadResults),
	// and by *scope whether a component's inputs may (see scopeReadsResults).
	readsResults sync.Map
	// playName is the play running, for events.
	playName string
	// background counts the async tasks' changes being applied (see execute).
	background sync.WaitGroup
}

// ErrRunFailed is returned when at least one host failed; the plan holds each host's error.
var ErrRunFailed = errors.New("run failed")

// PlanRun computes what applying the playbook would change, reading every host and never
// writing. Host failures are in the plan's entries and the returned error.
func PlanRun(ctx context.Context, cfg Config) (*Plan, error) {
	r, err := newRunner(cfg, modePlan)
	if err != nil {
		return nil, err
	}
	return r.run(ctx)
}

// ApplyRun applies the playbook: for each task and host, Check, journal the undo record, Apply.
// It stops a host at its first failure; the other hosts finish the task in progress.
func ApplyRun(ctx context.Context, cfg Config) (*Plan, error) {
	r, err := newRunner(cfg, modeApply)
	if err != nil {
		return nil, err
	}
	return r.run(ctx)
}

// Validate evaluates every task's arguments for every host it would run on, converts them to
// the modules' types and runs the modules' own validation, without connecting to any host.
// Results of earlier tasks are unknown.
func Validate(ctx context.Context, cfg Config) hcl.Diagnostics {
	r, err := newRunner(cfg, modeValidate)
	if err != nil {
		return asDiags(err)
	}
	_, err = r.run(ctx)
	var diags hcl.Diagnostics
	if errors.As(err, &diags) {
		return diags
	}
	return r.diags
}

func asDiags(err error) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if errors.As(err, &diags) {
		return diags
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: err.Error()}}
}

func newRunner(cfg Config, m mode) (*runner, error) {
	apply := m == modeApply
	if cfg.Forks <= 0 {
		cfg.Forks = 50
	}
	if cfg.Redactor == nil {
		cfg.Redactor = NewRedactor()
	}
	if cfg.RunID == "" {
		cfg.RunID = "plan"
	}
	r := &runner{cfg: cfg, mode: m, apply: apply, hosts: map[string]*hostState{}, results: map[string]map[string]cty.Value{},
		plan: &Plan{FormatVersion: PlanFormatVersion, Playbook: cfg.Playbook.File}}
	r.fns = runFunctions(cfg.Playbook.Dir, cfg.Inventory, cfg.Files)
	for i, h := range cfg.Inventory.Hosts {
		r.hosts[h.Name] = &hostState{inv: h, idx: i, results: map[string]cty.Value{}}
	}
	locals, diags := EvalLocals(cfg.Playbook, cfg.Vars, r.fns)
	if diags.HasErrors() {
		return nil, diags
	}
	r.locals = locals
	r.varObj = objectOf(cfg.Vars)
	return r, nil
}

// EvalLocals evaluates the playbook's locals in dependency order.
func EvalLocals(pb *Playbook, vars map[string]cty.Value, fns map[string]function.Function) (cty.Value, hcl.Diagnostics) {
	return evalLocalsIn(pb.Locals, objectOf(vars), fns)
}

// evalLocalsIn evaluates locals in dependency order, each seeing var and the locals before it.
func evalLocalsIn(list []*hcl.Attribute, varObj cty.Value, fns map[string]function.Function) (cty.Value, hcl.Diagnostics) {
	done := map[string]cty.Value{}
	pending := append([]*hcl.Attribute{}, list...)
	var diags hcl.Diagnostics
	for len(pending) > 0 {
		progress := false
		var next []*hcl.Attribute
		for _, a := range pending {
			ready := true
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() != "local" || len(tr) < 2 {
					continue
				}
				if at, ok := tr[1].(hcl.TraverseAttr); ok {
					if _, have := done[at.Name]; !have {
						ready = false
					}
				}
			}
			if !ready {
				next = append(next, a)
				continue
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": varObj, "local": objectOf(done)}, Functions: fns}
			v, d := a.Expr.Value(ctx)
			diags = append(diags, d...)
			done[a.Name] = v
			progress = true
		}
		if !progress {
			for _, a := range next {
				diags = append(diags, errAt(a.Range, "Invalid local", fmt.Sprintf("Local %q refers to an undeclared local or to itself through a cycle.", a.Name)))
			}
			break
		}
		pending = next
	}
	return objectOf(done), diags
}

func objectOf(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

func (r *runner) run(ctx context.Context) (*Plan, error) {
	defer r.background.Wait() // returns on errors below too
	r.connectAll(ctx)
	for pi, pl := range r.cfg.Playbook.Plays {
		if err := ctx.Err(); err != nil {
			r.addErr(err)
			break
		}
		if !r.playSelected(pl) {
			continue
		}
		r.playName = pl.Name
		playHosts, diags := r.resolveHosts(pl.Hosts, "hosts")
		if diags.HasErrors() {
			return nil, diags
		}
		serial, diags := r.serial(pl, len(playHosts))
		if diags.HasErrors() {
			return nil, diags
		}
		for start := 0; start < len(playHosts); start += serial {
			end := min(start+serial, len(playHosts))
			batch := playHosts[start:end]
			for _, t := range pl.Tasks {
				if err := ctx.Err(); err != nil {
					r.addErr(err)
					break
				}
				async, diags := r.asyncTask(t, batch, playHosts)
				if diags.HasErrors() {
					r.barrier(ctx, false)
					return nil, diags
				}
				// Held writes are made before a task of another kind runs anywhere, but for one
				// that changes only a service; an async task makes its own host's (see execute).
				_, files := t.mod.(FileWriter)
				_, service := t.mod.(ServiceOnly)
				if r.apply && r.taskSelected(t) && !async && !service && (files || !r.runsNowhere(t, batch, playHosts)) {
					r.barrier(ctx, files)
					if r.runErr() != nil {
						goto done
					}
				}
				if err := r.runTask(ctx, pi, t, batch, playHosts, async); err != nil {
					r.barrier(ctx, false)
					return nil, err
				}
				// With a journal (apply), a failed host stops the whole run after this task:
				// the rollback policy decides what happens next.
				if r.apply && r.runErr() != nil {
					goto done
				}
			}
			if r.apply {
				// The held writes are made while async tasks may still run; the play (or batch
				// of hosts) ends once both are done.
				r.barrier(ctx, false)
				r.background.Wait()
				if r.runErr() != nil {
					goto done
				}
			}
		}
	}
done:
	if r.apply {
		r.barrier(ctx, false)
		r.background.Wait()
	}
	r.plan.finish()
	if err := r.runErr(); err != nil {
		return r.plan, fmt.Errorf("%w: %w", ErrRunFailed, err)
	}
	return r.plan, nil
}

// barrier makes the writes every host holds (in parallel) and then lets file tasks hold theirs
// (open) or not.
func (r *runner) barrier(ctx context.Context, open bool) {
	p := pool.New().WithMaxGoroutines(r.cfg.Forks)
	for _, hs := range r.hosts {
		if hs.writes == nil {
			continue
		}
		hs.writes.setOpen(open)
		if !open && hs.writes.holding() {
			p.Go(func() { hs.writes.flush(ctx) }) // each held change reports its own outcome
		}
	}
	p.Wait()
}

// asyncTask evaluates a task's async argument, once per task, on the batch's first host. An
// async task must not write files (their writes are held and made in batches, in order) nor
// register a result (later tasks would read it before it exists).
func (r *runner) asyncTask(t *Task, batch, playHosts []*hostState) (bool, hcl.Diagnostics) {
	a, ok := t.common["async"]
	if !ok || !r.taskSelected(t) || len(batch) == 0 {
		return false, nil
	}
	v, diags := r.valueIn(a.Expr, t.scope, batch[0], playHosts) // only what async reads
	if diags.HasErrors() {
		return false, diags
	}
	if v, _ = v.Unmark(); v.Type() != cty.Bool || !v.IsKnown() || v.IsNull() {
		return false, hcl.Diagnostics{errAt(a.Expr.Range(), "Invalid async", "async must be true or false, known before the task runs.")}
	}
	if !v.True() {
		return false, nil
	}
	if _, files := t.mod.(FileWriter); files {
		return false, hcl.Diagnostics{errAt(a.Expr.Range(), "Invalid async",
			fmt.Sprintf("A %s task writes files, which are held and made in batches in task order: it cannot be async.", t.Module))}
	}
	if reg, ok := t.common["register"]; ok {
		return false, hcl.Diagnostics{errAt(reg.Expr.Range(), "Invalid register",
			"An async task has no result while the play goes on: it cannot register one.")}
	}
	return true, nil
}

// runsNowhere reports whether t's conditions (its includes' and its own when) are known to be
// false on every host of the batch: it runs nowhere, so it needs no barrier. They are evaluated
// as execute will, from the same results.
func (r *runner) runsNowhere(t *Task, batch, playHosts []*hostState) bool {
	a, has := t.common["when"]
	if _, ok := t.common["hosts"]; ok || (!has && len(t.when) == 0) {
		return false
	}
	conds := t.when
	if has {
		conds = append(slices.Clip(t.when), scopedExpr{a.Expr, t.scope})
	}
	for _, hs := range batch {
		if !r.limited(hs) || hs.hasFailed() {
			continue
		}
		if ok, known, diags := r.conditions(conds, hs, playHosts); diags.HasErrors() || !known || ok {
			return false
		}
	}
	return true
}

// fail marks the task failed on the host and, unless its errors are ignored, the host failed.
func (r *runner) fail(t *Task, hs *hostState, playHosts []*hostState, e *Entry, err error) {
	r.failIgnoring(t, hs, e, err, r.ignoreErrors(t, hs, playHosts))
}

// failIgnoring is fail with the task's ignore_errors already evaluated.
func (r *runner) failIgnoring(t *Task, hs *hostState, e *Entry, err error, ignore bool) {
	e.Status = StatusFailed
	e.Error = r.cfg.Redactor.Redact(errorText(err))
	if ignore {
		e.Reason = "error ignored"
		return
	}
	hs.mu.Lock()
	hs.failed = err
	hs.mu.Unlock()
	r.addErr(fmt.Errorf("%s: %s: %s", hs.inv.Name, t.ID, e.Error))
}

// ended ends a change whose end was held (its writes made or its async Apply done, or failed):
// the journal's done record, the entry's status and the task's end event. ignore is the task's
// ignore_errors, evaluated in order: the host's evaluation caches are the later tasks' by now.
func (r *runner) ended(t *Task, hs *hostState, rec Record, e *Entry, err error, ignore bool) {
	if r.cfg.Journal != nil {
		if jerr := r.cfg.Journal.Done(rec, err); jerr != nil && err == nil {
			err = fmt.Errorf("journal: %w", jerr)
		}
	}
	if err != nil {
		r.failIgnoring(t, hs, e, err, ignore)
		hs.setStatus(t, e.Status)
	}
	r.event(Event{Kind: "task_done", Play: t.Play.Name, Task: t.Name, Host: hs.inv.Name, Status: e.Status, Elapsed: e.took, Err: err})
}

// runErr is every host's error so far, or nil (async tasks add theirs while the run goes on).
func (r *runner) runErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.errs.ErrorOrNil()
}

func (r *runner) addErr(err error) {
	r.errMu.Lock()
	r.errs = multierror.Append(r.errs, err)
	r.errs.ErrorFormat = hostErrors
	r.errMu.Unlock()
}

// hostErrors formats one error per line, each already prefixed with host and task.
func hostErrors(errs []error) string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d hosts failed:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

func (r *runner) addDiags(diags hcl.Diagnostics) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if r.seenDg == nil {
		r.seenDg = map[string]bool{}
	}
	for _, d := range diags {
		key := d.Summary + d.Detail
		if d.Subject != nil {
			key += d.Subject.String()
		}
		if !r.seenDg[key] {
			r.seenDg[key] = true
			r.diags = append(r.diags, d)
		}
	}
}

func (r *runner) record(e *Entry) {
	r.planMu.Lock()
	r.plan.Entries = append(r.plan.Entries, e)
	r.planMu.Unlock()
}

func (r *runner) event(ev Event) {
	if r.cfg.Events != nil {
		r.cfg.Events(ev)
	}
}

// connectAll opens, in parallel, the connection of every host the plays will run on, so that a
// later play does not wait for its handshakes. A failure is kept and reported by the host's
// first task.
func (r *runner) connectAll(ctx context.Context) {
	if r.mode == modeValidate {
		return
	}
	seen := map[*hostState]bool{}
	var all []*hostState
	for _, pl := range r.cfg.Playbook.Plays {
		if !r.playSelected(pl) {
			continue
		}
		hosts, diags := r.resolveHosts(pl.Hosts, "hosts")
		if diags.HasErrors() {
			continue
		}
		for _, hs := range hosts {
			if !seen[hs] && r.limited(hs) {
				seen[hs] = true
				all = append(all, hs)
			}
		}
	}
	p := pool.New().WithMaxGoroutines(r.cfg.Forks)
	for _, hs := range all {
		p.Go(func() { r.connect(ctx, hs) })
	}
	p.Wait()
}

// playContext is the evaluation context without a host: var, local and functions.
func (r *runner) playContext() *hcl.EvalContext {
	return &hcl.EvalContext{Variables: map[string]cty.Value{"var": r.varObj, "local": r.locals}, Functions: r.fns}
}

// resolveHosts evaluates a hosts expression: a group name, "all", a host name, or a list of them.
// The result is in inventory order for groups and in the given order for lists, before --limit.
func (r *runner) resolveHosts(expr hcl.Expression, what string) ([]*hostState, hcl.Diagnostics) {
	return r.resolveHostsIn(expr, what, r.playContext())
}

// staticContext evaluates a task's host-independent arguments (hosts, run_once, tags): the
// playbook's scope, or for a component's task its scope as seen from the batch's first host.
func (r *runner) staticContext(t *Task, batch []*hostState) *hcl.EvalContext {
	if t.scope == nil || t.scope.parent == nil || len(batch) == 0 {
		return r.playContext()
	}
	ctx, diags := r.taskContext(t, batch[0], batch)
	if diags.HasErrors() {
		return r.playContext()
	}
	return ctx
}

func (r *runner) resolveHostsIn(expr hcl.Expression, what string, ctx *hcl.EvalContext) ([]*hostState, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	v, _ = v.UnmarkDeep()
	var names []string
	switch {
	case v.Type() == cty.String:
		names = []string{v.AsString()}
	case v.CanIterateElements() && !v.Type().IsMapType() && !v.Type().IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.Type() != cty.String {
				return nil, hcl.Diagnostics{errAt(expr.Range(), "Invalid hosts", fmt.Sprintf("%s must be a group name, \"all\", or a list of host or group names.", what))}
			}
			names = append(names, e.AsString())
		}
	default:
		return nil, hcl.Diagnostics{errAt(expr.Range(), "Invalid hosts", fmt.Sprintf("%s must be a group name, \"all\", or a list of host or group names.", what))}
	}
	hosts, unknown := hostsNamed(r.cfg.Inventory, names)
	if len(unknown) > 0 {
		return nil, hcl.Diagnostics{errAt(expr.Range(), "Unknown host or group",
			fmt.Sprintf("%q is neither a group nor a host of the inventory %s.", unknown[0], r.cfg.Inventory.File))}
	}
	out := make([]*hostState, len(hosts))
	for i, h := range hosts {
		out[i] = r.hosts[h.Name]
	}
	return out, nil
}

// hostsNamed returns the hosts of the groups and hosts named, each once, groups in inventory
// order; unknown are the names that are neither.
func hostsNamed(inv *inventory.Inventory, names []string) (hosts []*inventory.Host, unknown []string) {
	seen := map[string]bool{}
	add := func(h *inventory.Host) {
		if !seen[h.Name] {
			seen[h.Name] = true
			hosts = append(hosts, h)
		}
	}
	for _, n := range names {
		if g, ok := inv.Groups[n]; ok {
			for _, h := range g {
				add(h)
			}
		} else if h, ok := inv.Lookup(n); ok {
			add(h)
		} else {
			unknown = append(unknown, n)
		}
	}
	return hosts, unknown
}

// LiteralPlayHosts returns the hosts that the plays of a parsed playbook file name literally
// (hosts is a string or a list of strings that reads nothing), in play order: hosts a command
// will certainly connect to, known before the rest of the playbook is loaded. Plays whose hosts
// are computed, and names the inventory does not know, are left out.
func LiteralPlayHosts(f *hcl.File, inv *inventory.Inventory) []*inventory.Host {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var names []string
	for _, b := range body.Blocks {
		a, ok := b.Body.Attributes["hosts"]
		if b.Type != "play" || !ok || len(a.Expr.Variables()) > 0 {
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		vals := []cty.Value{v}
		if v.Type() != cty.String && v.CanIterateElements() && !v.Type().IsMapType() && !v.Type().IsObjectType() {
			vals = v.AsValueSlice()
		}
		for _, e := range vals {
			if e.Type() == cty.String && !e.IsNull() {
				names = append(names, e.AsString())
			}
		}
	}
	hosts, _ := hostsNamed(inv, names)
	return hosts
}

func (r *runner) serial(pl *Play, n int) (int, hcl.Diagnostics) {
	if pl.Serial == nil || n == 0 {
		return max(n, 1), nil
	}
	v, diags := pl.Serial.Value(r.playContext())
	if diags.HasErrors() {
		return 0, diags
	}
	v, _ = v.Unmark()
	if v.IsNull() {
		return n, nil
	}
	if v.Type() == cty.String && strings.HasSuffix(v.AsString(), "%") {
		var pct int
		if _, err := fmt.Sscanf(v.AsString(), "%d%%", &pct); err == nil && pct > 0 && pct <= 100 {
			return max(1, n*pct/100), nil
		}
	}
	num, err := convert.Convert(v, cty.Number)
	if err == nil {
		if i, acc := num.AsBigFloat().Int64(); acc == big.Exact && i > 0 {
			return int(i), nil
		}
	}
	return 0, hcl.Diagnostics{errAt(pl.Serial.Range(), "Invalid serial", "serial must be a whole number above 0 or a percentage such as \"50%\".")}
}

func (r *runner) limited(h *hostState) bool {
	return Limited(r.cfg.Limit, h.inv)
}

// Limited reports whether host h is within limit (--limit: host names, shell patterns of host
// names, group names or "all"); every host is when limit is empty.
func Limited(limit []string, h *inventory.Host) bool {
	if len(limit) == 0 {
		return true
	}
	for _, pat := range limit {
		if pat == h.Name {
			return true
		}
		if ok, _ := path.Match(pat, h.Name); ok {
			return true
		}
		for _, g := range h.Groups {
			if g == pat {
				return true
			}
		}
		if pat == "all" {
			return true
		}
	}
	return false
}

func (r *runner) playSelected(pl *Play) bool {
	if len(r.cfg.Tags) == 0 {
		return true
	}
	if pl.Tags != nil && r.tagsMatch(pl.Tags) {
		return true
	}
	for _, t := range pl.Tasks {
		if a, ok := t.common["tags"]; ok && r.tagsMatch(a.Expr) {
			return true
		}
	}
	return false
}

func (r *runner) tagsMatch(expr hcl.Expression) bool {
	v, diags := expr.Value(r.playContext())
	if diags.HasErrors() || v.IsNull() || !v.CanIterateElements() {
		return false
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() != cty.String {
			continue
		}
		if e.AsString() == "always" {
			return true
		}
		for _, want := range r.cfg.Tags {
			if e.AsString() == want {
				return true
			}
		}
	}
	return false
}

func (r *runner) taskSelected(t *Task) bool {
	if len(r.cfg.Tags) == 0 {
		return true
	}
	if t.Play.Tags != nil && r.tagsMatch(t.Play.Tags) {
		return true
	}
	a, ok := t.common["tags"]
	return ok && r.tagsMatch(a.Expr)
}

// runTask runs (or plans) one task on the batch, all hosts in parallel, and waits for all.
func (r *runner) runTask(ctx context.Context, pi int, t *Task, batch, playHosts []*hostState, async bool) error {
	if !r.taskSelected(t) {
		return nil
	}
	hosts := batch
	if a, ok := t.common["hosts"]; ok {
		override, diags := r.resolveHostsIn(a.Expr, "hosts", r.staticContext(t, batch))
		if diags.HasErrors() {
			return diags
		}
		hosts = override
	}
	var run []*hostState
	for _, h := range hosts {
		if r.limited(h) && !h.hasFailed() {
			run = append(run, h)
		}
	}
	if a, ok := t.common["run_once"]; ok {
		v, diags := a.Expr.Value(r.staticContext(t, batch))
		if diags.HasErrors() {
			return diags
		}
		if v, _ = v.Unmark(); v.Type() == cty.Bool && v.IsKnown() && v.True() && len(run) > 1 {
			run = run[:1]
		}
	}
	p := pool.New().WithMaxGoroutines(r.cfg.Forks)
	for _, hs := range run {
		p.Go(func() { r.runOnHost(ctx, pi, t, hs, playHosts, async) })
	}
	p.Wait()
	return nil
}

func (r *runner) connect(ctx context.Context, hs *hostState) error {
	hs.once.Do(func() {
		start := time.Now()
		var c conn.Conn
		c, hs.connErr = r.cfg.Conns.Get(ctx, hs.inv)
		if hs.connErr == nil && r.apply && r.cfg.Lock {
			// The lock is journaled before it is taken, so a controller killed in between leaves
			// no lock the journal does not name (releasing checks the run id, so an extra record
			// is harmless).
			if lr, ok := r.cfg.Journal.(LockRecorder); ok {
				hs.connErr = lr.Locked(hs.inv.Name)
			}
			if hs.connErr == nil {
				hs.connErr = r.cfg.Conns.Lock(ctx, hs.inv, r.cfg.RunID)
			}
		}
		if hs.connErr == nil {
			if r.apply {
				flushes := 0
				hs.writes = newWriteBehind(c, func(d time.Duration, err error) {
					flushes++
					r.event(Event{Kind: "write", Play: r.playName, Host: hs.inv.Name, Task: fmt.Sprintf("file writes #%d", flushes), Elapsed: d, Err: err})
				})
				c = hs.writes
			}
			base := NewHost(hs.inv.Name, c, r.cfg.RunID, hs.inv.StateDir, r.cfg.Redactor)
			base.Address = hs.inv.Address
			base.Vars = hs.inv.Vars
			base.statusOf = hs.statusOf
			hs.plan = base.Planning()
		}
		r.event(Event{Kind: "connect", Host: hs.inv.Name, Elapsed: time.Since(start), Err: hs.connErr})
	})
	return hs.connErr
}

func (r *runner) runOnHost(ctx context.Context, pi int, t *Task, hs *hostState, playHosts []*hostState, async bool) {
	start := time.Now()
	e := &Entry{Play: t.Play.Name, Task: t.Name, Module: t.Module, Host: hs.inv.Name, Async: async, playIdx: pi, taskIdx: t.Index, hostIdx: hs.idx}
	r.event(Event{Kind: "task_start", Play: t.Play.Name, Task: t.Name, Host: hs.inv.Name})
	if hs.aheadPlay != t.Play && r.mode != modeValidate {
		hs.aheadPlay = t.Play
		r.prefetchPlay(ctx, t.Play, hs, playHosts)
	}
	err := r.executeSafely(ctx, t, hs, playHosts, e)
	if err != nil {
		r.fail(t, hs, playHosts, e, err)
	}
	hs.setStatus(t, e.Status)
	r.record(e)
	if e.background != nil {
		r.background.Add(1)
		go e.background() // it reports the task's end
		return
	}
	if e.held {
		e.took = time.Since(start)
		return // its end is reported once its writes are made (ended)
	}
	r.event(Event{Kind: "task_done", Play: t.Play.Name, Task: t.Name, Host: hs.inv.Name, Status: e.Status, Elapsed: time.Since(start), Err: err})
}

// prefetchPlay reads ahead, before the play's first task on this host, every file the play's
// tasks will read whole (arguments marked HostFile) and every path they will stat (PathStatter)
// that is known now, so that their Checks need no round trip of their own. The arguments it
// evaluates are kept for execute. Tasks whose condition is already false are left out.
func (r *runner) prefetchPlay(ctx context.Context, pl *Play, hs *hostState, playHosts []*hostState) {
	hs.args = map[*Task]argsAhead{}
	var files []string
	var stats []StatPath
	for _, t := range pl.Tasks {
		statter, _ := t.mod.(PathStatter)
		if statter == nil && !t.schema.readsHostFiles() || !r.taskSelected(t) {
			continue
		}
		args, ok := r.evalArgsAhead(t, hs, playHosts)
		if !ok {
			continue
		}
		files = append(files, hostFiles(t.schema.Attrs, args)...)
		for _, bs := range t.schema.Blocks {
			for _, b := range args.BlocksOf(bs.Type) {
				files = append(files, hostFiles(bs.Attrs, b)...)
			}
		}
		if statter != nil && args.whollyKnown() {
			stats = append(stats, statter.StatPaths(args)...)
		}
	}
	if r.connect(ctx, hs) != nil {
		return
	}
	hs.plan.prefetch(ctx, files, stats)
}

// hostFiles returns the known values of the attributes marked HostFile.
func hostFiles(attrs []Attr, args *Args) []string {
	var out []string
	for _, a := range attrs {
		if !a.HostFile {
			continue
		}
		if v := args.Value(a.Name); !v.IsNull() && v.IsKnown() && v.Type() == cty.String {
			out = append(out, v.AsString())
		}
	}
	return out
}

// evalArgsAhead evaluates t's arguments on hs before the play and keeps them for execute; ok is
// false when they failed to evaluate or the task's condition is known to be false already.
func (r *runner) evalArgsAhead(t *Task, hs *hostState, playHosts []*hostState) (*Args, bool) {
	// The version is read first: a result registered meanwhile makes the arguments stale.
	r.resMu.RLock()
	version := r.resVersion
	r.resMu.RUnlock()
	if ok, known, diags := r.includeWhen(t, hs, playHosts); !diags.HasErrors() && known && !ok {
		return nil, false
	}
	evalCtx, diags := r.taskContext(t, hs, playHosts)
	if diags.HasErrors() {
		return nil, false
	}
	if common, diags := evalCommon(t, evalCtx); !diags.HasErrors() && !common.whenUnknown && !common.when {
		return nil, false
	}
	args, diags := evalArgs(t, evalCtx, r.cfg.Redactor, r.cfg.Files)
	if diags.HasErrors() {
		return nil, false
	}
	hs.args[t] = argsAhead{args: args, version: version, index: indexOf(hs, playHosts)}
	return args, true
}

// taskArgs returns t's arguments on hs: those the read-ahead evaluated while they are still
// what an evaluation now would give (no result registered since, unless they cannot read one,
// and the host at the same place in the play), else evaluated in evalCtx. Modules only read
// Args, so one value can serve both.
func (r *runner) taskArgs(t *Task, hs *hostState, playHosts []*hostState, evalCtx *hcl.EvalContext) (*Args, hcl.Diagnostics) {
	if a, ok := hs.args[t]; ok {
		delete(hs.args, t)
		r.resMu.RLock()
		version := r.resVersion
		r.resMu.RUnlock()
		if a.index == indexOf(hs, playHosts) && (a.version == version || !r.argsReadResults(t)) {
			return a.args, nil
		}
	}
	return evalArgs(t, evalCtx, r.cfg.Redactor, r.cfg.Files)
}

// argsReadResults reports whether an expression t's arguments are evaluated from (its own and
// its nested blocks' arguments, the inputs and locals of the component scopes it is in) refers
// to result or results.
func (r *runner) argsReadResults(t *Task) bool {
	if v, ok := r.readsResults.Load(t); ok {
		return v.(bool)
	}
	reads := r.scopeReadsResults(t.scope)
	for _, a := range t.attrs {
		reads = reads || refersToResults(a.Expr)
	}
	for _, b := range t.blocks {
		for _, a := range b.attrs {
			reads = reads || refersToResults(a.Expr)
		}
	}
	r.readsResults.Store(t, reads)
	return reads
}

// refersToResults reports whether expr refers to result or results.
func refersToResults(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		if n := tr.RootName(); n == "result" || n == "results" {
			return true
		}
	}
	return false
}

// executeSafely turns a module's panic into that host's task error, so one bad module cannot
// take the run (and its journal and rollback) down with it.
func (r *runner) executeSafely(ctx context.Context, t *Task, hs *hostState, playHosts []*hostState, e *Entry) (err error) {
	defer recoverModule(t, &err)
	return r.execute(ctx, t, hs, playHosts, e)
}

// applySafely is Apply with a module's panic turned into an error.
func applySafely(ctx context.Context, t *Task, h *Host, c *Change) (err error) {
	defer recoverModule(t, &err)
	return t.mod.Apply(ctx, h, c)
}

// recoverModule, deferred around module code, turns its panic into *err.
func recoverModule(t *Task, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("module %s panicked: %v", t.Module, p)
	}
}

func (r *runner) ignoreErrors(t *Task, hs *hostState, playHosts []*hostState) bool {
	a, ok := t.common["ignore_errors"]
	if !ok {
		return false
	}
	ctx, diags := r.taskContext(t, hs, playHosts)
	if diags.HasErrors() {
		return false
	}
	v, diags := a.Expr.Value(ctx)
	v, _ = v.Unmark()
	return !diags.HasErrors() && v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() && v.True()
}

// execute checks a task on a host and, during an apply, applies its change (in the background
// when e.Async).
func (r *runner) execute(ctx context.Context, t *Task, hs *hostState, playHosts []*hostState, e *Entry) error {
	if r.mode != modeValidate {
		// An include's condition is settled first: a task it switches off is never evaluated in
		// its component's scope, whose inputs may be costly and may only make sense when it is on.
		whenOK, whenKnown, diags := r.includeWhen(t, hs, playHosts)
		if diags.HasErrors() {
			return diags
		}
		if !whenKnown || !whenOK {
			name, diags := r.registerName(t, hs, playHosts)
			if diags.HasErrors() {
				return diags
			}
			if !whenKnown {
				e.Status, e.Reason = StatusUnknown, "condition known after apply"
				r.register(t, hs, name, cty.DynamicVal)
			} else {
				e.Status, e.Reason = StatusSkipped, "the include's condition is false"
				r.register(t, hs, name, skippedResult)
			}
			return nil
		}
	}
	evalCtx, diags := r.taskContext(t, hs, playHosts)
	if diags.HasErrors() {
		if r.mode == modeValidate {
			r.addDiags(diags)
			return nil
		}
		return diags
	}
	common, diags := evalCommon(t, evalCtx)
	if diags.HasErrors() {
		if r.mode == modeValidate {
			r.addDiags(diags)
			return nil
		}
		return diags
	}
	if r.mode == modeValidate {
		whenOK, whenKnown, diags := r.includeWhen(t, hs, playHosts)
		if diags.HasErrors() {
			r.addDiags(diags)
			return nil
		}
		// Arguments are checked on every host where the task may run: a condition known to be
		// false (an optional part switched off by a null input) skips them.
		if (!whenOK && whenKnown) || (!common.whenUnknown && !common.when) {
			e.Status = StatusSkipped
			r.register(t, hs, common.register, cty.DynamicVal)
			return nil
		}
		args, diags := evalArgs(t, evalCtx, r.cfg.Redactor, r.cfg.Files)
		if v, ok := t.mod.(Validator); ok && !diags.HasErrors() && args.whollyKnown() {
			diags = append(diags, v.Validate(args)...)
		}
		r.addDiags(diags)
		e.Status = StatusUnknown
		r.register(t, hs, common.register, cty.DynamicVal)
		return nil
	}
	if common.whenUnknown {
		e.Status, e.Reason = StatusUnknown, "condition known after apply"
		r.register(t, hs, common.register, cty.DynamicVal)
		return nil
	}
	if !common.when {
		e.Status, e.Reason = StatusSkipped, "condition is false"
		r.register(t, hs, common.register, skippedResult)
		return nil
	}
	args, diags := r.taskArgs(t, hs, playHosts, evalCtx)
	if diags.HasErrors() {
		return diags
	}
	if !args.whollyKnown() {
		if r.apply {
			return fmt.Errorf("arguments still unknown during apply")
		}
		e.Status, e.Reason = StatusUnknown, "arguments known after apply"
		e.Change = &Change{Action: ActionRun, Summary: "known after apply", Unknown: "its arguments depend on results of earlier tasks"}
		r.register(t, hs, common.register, cty.DynamicVal)
		return nil
	}
	if err := r.connect(ctx, hs); err != nil {
		return err
	}
	cancel := context.CancelFunc(func() {})
	if common.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, common.timeout)
	}
	defer func() { cancel() }() // an async task's change takes it along
	h := hs.plan
	if r.apply {
		live := *hs.plan
		live.overlay = nil
		h = &live
	}
	taskHost := *h
	taskHost.Become = common.become || hs.inv.Become
	c, err := t.mod.Check(ctx, &taskHost, args)
	if err != nil {
		return err
	}
	redactChange(c, r.cfg.Redactor)
	e.Change = c
	if c.Action == ActionNone {
		e.Status = StatusInSync
		r.register(t, hs, common.register, resultOf(c, false))
		return nil
	}
	e.Digest = changeDigest(c)
	if !r.apply {
		e.Status = StatusChange
		if c.Unknown != "" {
			e.Status = StatusUnknown
		}
		hs.plan.overlay.apply(c.Effects)
		res := resultOf(c, true)
		if c.Result == cty.NilVal {
			res = cty.DynamicVal
		}
		r.register(t, hs, common.register, res)
		return nil
	}
	if err := r.checkReviewed(e); err != nil {
		return err
	}
	_, service := t.mod.(ServiceOnly)
	if e.Async && !service && hs.writes != nil {
		// What the tasks before it hold on its host is made first; the writes of later tasks
		// are held while it runs (it uses the connection around them).
		if err := hs.writes.flush(ctx); err != nil {
			return fmt.Errorf("the writes held before it: %w", err)
		}
	}
	rec := Record{Host: hs.inv.Name, Play: t.Play.Name, Task: t.Name, Module: t.Module, Undo: c.Undo, Secrets: secretSources(t, args)}
	if r.cfg.Journal != nil {
		r.seqMu.Lock()
		r.seq++
		rec.Seq = r.seq
		r.seqMu.Unlock()
		if err := r.cfg.Journal.Intent(rec); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	// What was read ahead is forgotten before Apply too: an Apply that verifies what it wrote
	// must see the host, not the state before its change. A change to a service only leaves
	// the host's files as they were read.
	forget := func() {
		if !service {
			hs.plan.forget(c.Effects)
		}
	}
	if e.Async {
		forget() // what later tasks read of its effects is read again
		r.applyInBackground(ctx, t, hs, playHosts, e, rec, &taskHost, c, cancel)
		cancel = func() {}
		return nil
	}
	var mark writeMark
	if hs.writes != nil {
		mark = hs.writes.mark()
	}
	forget()
	applyErr := t.mod.Apply(ctx, &taskHost, c)
	forget()
	if applyErr == nil {
		hs.plan.remember(c.Effects)
	}
	if hs.writes != nil {
		if applyErr != nil {
			hs.writes.drop(mark)
		} else if ignore := r.ignoreErrors(t, hs, playHosts); hs.writes.hold(mark, func(err error) { r.ended(t, hs, rec, e, err, ignore) }) {
			// Journaled as done once the writes are made, at the next barrier.
			e.Status, e.held = StatusChange, true
			r.register(t, hs, common.register, resultOf(c, true))
			return nil
		}
	}
	if r.cfg.Journal != nil {
		if err := r.cfg.Journal.Done(rec, applyErr); err != nil && applyErr == nil {
			applyErr = fmt.Errorf("journal: %w", err)
		}
	}
	if applyErr != nil {
		return applyErr
	}
	e.Status = StatusChange
	r.register(t, hs, common.register, resultOf(c, true))
	return nil
}

// applyInBackground makes e's background: applying an async task's change while the play goes
// on, then journaling it done and reporting the task's end (ended, as for held writes).
// Its host reads the connection directly: neither the read-ahead, which later tasks use, nor
// the write-behind, whose writes are later tasks', are its.
func (r *runner) applyInBackground(ctx context.Context, t *Task, hs *hostState, playHosts []*hostState, e *Entry, rec Record, h *Host, c *Change, cancel context.CancelFunc) {
	bg := *h
	if hs.writes != nil {
		bg.conn = hs.writes.Conn
	}
	bg.ahead = ahead{} // none of the read-ahead is its
	ignore := r.ignoreErrors(t, hs, playHosts)
	e.Status = StatusChange
	start := time.Now()
	e.background = func() {
		defer r.background.Done()
		defer cancel()
		err := applySafely(ctx, t, &bg, c)
		e.took = time.Since(start)
		r.ended(t, hs, rec, e, err, ignore)
	}
}

// checkReviewed refuses a change that differs from the reviewed plan's.
func (r *runner) checkReviewed(e *Entry) error {
	if r.cfg.Reviewed == nil {
		return nil
	}
	for _, p := range r.cfg.Reviewed.Entries {
		if p.Play == e.Play && p.Task == e.Task && p.Host == e.Host {
			if p.Status == StatusUnknown || p.Digest == e.Digest {
				return nil
			}
			return fmt.Errorf("drift: the change differs from the reviewed plan (planned %q, now %q); plan again", p.Change.Summary, e.Change.Summary)
		}
	}
	return fmt.Errorf("drift: the reviewed plan has no change for this task on this host; plan again")
}

// errorText renders an error on one or a few lines; diagnostics as file:line:col: summary; detail.
func errorText(err error) string {
	var diags hcl.Diagnostics
	if errors.As(err, &diags) {
		var lines []string
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			s := d.Summary
			if d.Detail != "" {
				s += "; " + d.Detail
			}
			if d.Subject != nil {
				s = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, s)
			}
			lines = append(lines, s)
		}
		return strings.Join(lines, "\n")
	}
	return err.Error()
}

func redactChange(c *Change, r *Redactor) {
	c.Summary = r.Redact(c.Summary)
	c.Diff = r.Redact(c.Diff)
	c.Unknown = r.Redact(c.Unknown)
	for i, d := range c.Details {
		c.Details[i] = r.Redact(d)
	}
}

// skippedResult is what later tasks read of a task skipped by its condition.
var skippedResult = cty.ObjectVal(map[string]cty.Value{"changed": cty.False, "skipped": cty.True})

// resultOf is what later tasks read of a task: the module's result plus `changed`.
func resultOf(c *Change, changed bool) cty.Value {
	attrs := map[string]cty.Value{}
	if c.Result != cty.NilVal && !c.Result.IsNull() {
		if !c.Result.IsKnown() {
			return cty.DynamicVal
		}
		if c.Result.Type().IsObjectType() || c.Result.Type().IsMapType() {
			for it := c.Result.ElementIterator(); it.Next(); {
				k, v := it.Element()
				attrs[k.AsString()] = v
			}
		} else {
			attrs["value"] = c.Result
		}
	}
	attrs["changed"] = cty.BoolVal(changed)
	return cty.ObjectVal(attrs)
}

func (r *runner) register(t *Task, hs *hostState, name string, v cty.Value) {
	if name == "" {
		return
	}
	hs.mu.Lock()
	hs.results[name] = v
	hs.mu.Unlock()
	r.resMu.Lock()
	if r.results[name] == nil {
		r.results[name] = map[string]cty.Value{}
	}
	r.results[name][hs.inv.Name] = v
	r.resVersion++
	r.resMu.Unlock()
}

// hostContext is the evaluation context of a task on one host.
func (r *runner) hostContext(hs *hostState, playHosts []*hostState) *hcl.EvalContext {
	index := -1
	for i, p := range playHosts {
		if p == hs {
			index = i
			break
		}
	}
	hs.mu.Lock()
	if hs.hostObj == cty.NilVal || hs.hostIdx != index {
		groups := make([]cty.Value, len(hs.inv.Groups))
		for i, g := range hs.inv.Groups {
			groups[i] = cty.StringVal(g)
		}
		groupsVal := cty.ListValEmpty(cty.String)
		if len(groups) > 0 {
			groupsVal = cty.ListVal(groups)
		}
		hs.hostObj = cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal(hs.inv.Name), "address": cty.StringVal(hs.inv.Address),
			"index": cty.NumberIntVal(int64(index)), "vars": hs.inv.Vars, "groups": groupsVal,
		})
		hs.hostIdx = index
	}
	host := hs.hostObj
	own := objectOf(copyMap(hs.results))
	hs.mu.Unlock()
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": r.varObj, "local": r.locals, "host": host, "result": own, "results": r.resultsObject()},
		Functions: r.fns,
	}
}

// taskContext is the evaluation context of task t on one host: the playbook's, or for a
// component's task, the component's inputs and locals computed through its callers.
func (r *runner) taskContext(t *Task, hs *hostState, playHosts []*hostState) (*hcl.EvalContext, hcl.Diagnostics) {
	return r.scopeContext(t.scope, hs, playHosts)
}

func (r *runner) scopeContext(sc *scope, hs *hostState, playHosts []*hostState) (*hcl.EvalContext, hcl.Diagnostics) {
	if sc == nil || sc.parent == nil {
		return r.hostContext(hs, playHosts), nil
	}
	// A component's inputs and locals are evaluated once per host for as long as the host keeps
	// its place in the play and no result was registered since; when they (and those of the
	// enclosing components) read no result, a registration only renews result and results.
	r.resMu.RLock()
	version := r.resVersion
	r.resMu.RUnlock()
	index := indexOf(hs, playHosts)
	hs.mu.Lock()
	cached, ok := hs.scopes[sc]
	hs.mu.Unlock()
	if ok && cached.index == index && cached.version == version {
		return cached.ctx, nil
	}
	var ctx *hcl.EvalContext
	if ok && cached.index == index && !r.scopeReadsResults(sc) {
		hc := r.hostContext(hs, playHosts)
		vars := maps.Clone(cached.ctx.Variables)
		vars["result"], vars["results"] = hc.Variables["result"], hc.Variables["results"]
		ctx = &hcl.EvalContext{Variables: vars, Functions: cached.ctx.Functions}
	} else {
		var diags hcl.Diagnostics
		if ctx, diags = r.buildScopeContext(sc, hs, playHosts); diags.HasErrors() {
			return nil, diags
		}
	}
	hs.mu.Lock()
	if hs.scopes == nil {
		hs.scopes = map[*scope]scopeCtx{}
	}
	hs.scopes[sc] = scopeCtx{ctx: ctx, version: version, index: index}
	hs.mu.Unlock()
	return ctx, nil
}

// scopeReadsResults reports whether the inputs or locals of sc or of an enclosing component
// read result or results.
func (r *runner) scopeReadsResults(sc *scope) bool {
	if v, ok := r.readsResults.Load(sc); ok {
		return v.(bool)
	}
	reads := false
	for s := sc; s != nil && !reads; s = s.parent {
		for _, a := range s.inputs {
			reads = reads || refersToResults(a.Expr)
		}
		for _, a := range s.locals {
			reads = reads || refersToResults(a.Expr)
		}
	}
	r.readsResults.Store(sc, reads)
	return reads
}

type scopeCtx struct {
	ctx     *hcl.EvalContext
	version int
	index   int
}

func indexOf(hs *hostState, hosts []*hostState) int {
	for i, h := range hosts {
		if h == hs {
			return i
		}
	}
	return -1
}

func (r *runner) buildScopeContext(sc *scope, hs *hostState, playHosts []*hostState) (*hcl.EvalContext, hcl.Diagnostics) {
	parent, diags := r.scopeContext(sc.parent, hs, playHosts)
	if diags.HasErrors() {
		return nil, diags
	}
	fns := r.scopeFunctions(sc.dir)
	varObj, locals, diags := scopeValues(sc, parent, fns, r.cfg.Redactor)
	if diags.HasErrors() {
		return nil, diags
	}
	vars := make(map[string]cty.Value, len(parent.Variables))
	for k, v := range parent.Variables {
		vars[k] = v
	}
	vars["var"], vars["local"] = varObj, locals
	return &hcl.EvalContext{Variables: vars, Functions: fns}, nil
}

// scopeFunctions returns the functions whose relative paths resolve against dir.
func (r *runner) scopeFunctions(dir string) map[string]function.Function {
	r.fnMu.Lock()
	defer r.fnMu.Unlock()
	if r.fnByDir == nil {
		r.fnByDir = map[string]map[string]function.Function{}
	}
	fns, ok := r.fnByDir[dir]
	if !ok {
		fns = runFunctions(dir, r.cfg.Inventory, r.cfg.Files)
		r.fnByDir[dir] = fns
	}
	return fns
}

// registerName evaluates t's register name on hs, in its component's scope only when it has to:
// see valueIn.
func (r *runner) registerName(t *Task, hs *hostState, playHosts []*hostState) (string, hcl.Diagnostics) {
	a, ok := t.common["register"]
	if !ok {
		return "", nil
	}
	v, diags := r.valueIn(a.Expr, t.scope, hs, playHosts)
	if diags.HasErrors() {
		return "", diags
	}
	if v, diags = convertAttr(a, v, cty.String, nil); diags.HasErrors() {
		return "", diags
	}
	return registerValue(a, v)
}

// valueIn evaluates expr, written in scope sc, on hs. In a component, an expression that reads
// only its variables and locals is evaluated from those alone, each input evaluated the same way
// in the caller, so that a value passed down (a register name) does not cost the evaluation of
// the component's other inputs. Anything else is evaluated in sc's full context.
func (r *runner) valueIn(expr hcl.Expression, sc *scope, hs *hostState, playHosts []*hostState) (cty.Value, hcl.Diagnostics) {
	if sc != nil && sc.parent != nil {
		if vars, locals, ok := scopeRefs(expr, sc); ok {
			fns := r.scopeFunctions(sc.dir)
			input := func(e hcl.Expression) (cty.Value, hcl.Diagnostics) { return r.valueIn(e, sc.parent, hs, playHosts) }
			varObj, localObj, diags := someScopeValues(sc, vars, locals, input, fns, r.cfg.Redactor)
			if diags.HasErrors() {
				return cty.NilVal, diags
			}
			return expr.Value(&hcl.EvalContext{Variables: map[string]cty.Value{"var": varObj, "local": localObj}, Functions: fns})
		}
	}
	ctx, diags := r.scopeContext(sc, hs, playHosts)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return expr.Value(ctx)
}

// varName returns NAME when expr is exactly var.NAME, else "".
func varName(expr hcl.Expression) string {
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(tr) != 2 || tr.RootName() != "var" {
		return ""
	}
	if at, ok := tr[1].(hcl.TraverseAttr); ok {
		return at.Name
	}
	return ""
}

// includeWhen evaluates the conditions of the includes a task came through.
func (r *runner) includeWhen(t *Task, hs *hostState, playHosts []*hostState) (ok, known bool, diags hcl.Diagnostics) {
	return r.conditions(t.when, hs, playHosts)
}

// conditions evaluates when conditions, each in the scope it is written in, on hs, in order
// until one is false: ok is whether all hold, known is false when one is not known yet.
func (r *runner) conditions(conds []scopedExpr, hs *hostState, playHosts []*hostState) (ok, known bool, diags hcl.Diagnostics) {
	for _, w := range conds {
		v, d := r.valueIn(w.expr, w.scope, hs, playHosts)
		if d.HasErrors() {
			return false, false, d
		}
		v, _ = v.Unmark()
		if conv, err := convert.Convert(v, cty.Bool); err != nil || conv.IsNull() {
			return false, false, hcl.Diagnostics{errAt(w.expr.Range(), "Invalid when", "when must be true or false.")}
		} else if !conv.IsKnown() {
			return false, false, nil
		} else if conv.False() {
			return false, true, nil
		}
	}
	return true, true, nil
}

// resultsObject is results.NAME.HOST for every registered result, rebuilt only after a change.
func (r *runner) resultsObject() cty.Value {
	r.resMu.RLock()
	if r.allResults != cty.NilVal && r.allVersion == r.resVersion {
		v := r.allResults
		r.resMu.RUnlock()
		return v
	}
	r.resMu.RUnlock()
	r.resMu.Lock()
	defer r.resMu.Unlock()
	if r.allResults == cty.NilVal || r.allVersion != r.resVersion {
		all := map[string]cty.Value{}
		for name, byHost := range r.results {
			all[name] = mapOrObject(byHost)
		}
		r.allResults, r.allVersion = objectOf(all), r.resVersion
	}
	return r.allResults
}

// mapOrObject is a map when every value has the same type (so length() and values() work),
// else an object.
func mapOrObject(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	var t cty.Type
	same := true
	for _, v := range m {
		if t == cty.NilType {
			t = v.Type()
		} else if !t.Equals(v.Type()) || !v.IsKnown() {
			same = false
		}
	}
	if same {
		return cty.MapVal(copyMap(m))
	}
	return cty.ObjectVal(copyMap(m))
}

func copyMap(m map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
