// Package journal keeps the write-ahead record of each apply in the local state directory and
// replays it to roll a run back, with no playbook or inventory needed.
package journal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/isaplay/isaplay/engine"
)

// Run statuses, as `isaplay runs` shows them.
const (
	StatusRunning            = "running" // no end record: still running, or the controller died
	StatusApplied            = "applied"
	StatusFailed             = "failed" // failed and not rolled back (--on-failure=stop)
	StatusRolledBack         = "rolled_back"
	StatusRollbackIncomplete = "rollback_incomplete"
)

// HostConn is how to reach a host again for rollback: the inventory's connection settings,
// never a secret.
type HostConn struct {
	Name         string `json:"name"`
	Address      string `json:"address"`
	Port         int    `json:"port"`
	User         string `json:"user"`
	Connection   string `json:"connection"`
	IdentityFile string `json:"identity_file,omitempty"`
	KnownHosts   string `json:"known_hosts,omitempty"`
	Jump         string `json:"jump,omitempty"`
	StateDir     string `json:"state_dir"`
	Become       bool   `json:"become,omitempty"`
}

// Meta describes a run.
type Meta struct {
	RunID    string              `json:"run_id"`
	Started  time.Time           `json:"started"`
	Operator string              `json:"operator"`
	Playbook string              `json:"playbook"`
	PlanHash string              `json:"plan_hash,omitempty"`
	Message  string              `json:"message,omitempty"`
	Hosts    map[string]HostConn `json:"hosts"`
}

// line is one journal line.
type line struct {
	Type   string         `json:"type"` // run, lock, intent, done, revert, end
	Host   string         `json:"host,omitempty"`
	Time   time.Time      `json:"time"`
	Meta   *Meta          `json:"meta,omitempty"`
	Seq    int            `json:"seq,omitempty"`
	Record *engine.Record `json:"record,omitempty"`
	OK     bool           `json:"ok,omitempty"`
	Error  string         `json:"error,omitempty"`
	Status string         `json:"status,omitempty"`
}

// Writer appends to one run's journal; every line is fsynced before the call returns. Lines
// that hosts write at the same time share an fsync (group commit).
type Writer struct {
	mu       sync.Mutex
	f        *os.File
	redactor *engine.Redactor
	// afterRecord, when set, is called with the number of lines written so far (a test hook).
	afterRecord func(n int)
	n           int // lines written
	syncMu      sync.Mutex
	synced      int          // lines known to be on disk
	sync        func() error // f.Sync; tests count and hold it
}

// Dir is where a run's journal lives under the state directory.
func Dir(stateDir, runID string) string { return filepath.Join(stateDir, "runs", runID) }

// Create starts the journal of a new run.
func Create(stateDir string, meta Meta, r *engine.Redactor) (*Writer, error) {
	dir := Dir(stateDir, meta.RunID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "journal.jsonl"), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	syncDir(dir)
	syncDir(filepath.Dir(dir))
	w := &Writer{f: f, redactor: r, sync: f.Sync}
	w.afterRecord = killHook()
	if err := w.write(line{Type: "run", Meta: &meta}); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Open reopens an existing run's journal for appending (rollback records).
func Open(stateDir, runID string, r *engine.Redactor) (*Writer, error) {
	path := filepath.Join(Dir(stateDir, runID), "journal.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// A controller killed mid-write leaves a torn last line: end it, so that what is appended
	// now starts on a line of its own.
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
		f.WriteString("\n")
	}
	return &Writer{f: f, redactor: r, afterRecord: killHook(), sync: f.Sync}, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func (w *Writer) write(l line) error {
	n, err := w.append(l)
	if err != nil || w.afterRecord != nil {
		return err
	}
	return w.syncTo(n)
}

// append writes one line and returns how many the journal holds. With the test hook set, it
// syncs the line and calls the hook before any other line is written.
func (w *Writer) append(l line) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l.Time = time.Now().UTC()
	b, err := json.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	// The journal never holds a secret: undo records are data without contents, and error text
	// is redacted here once more.
	s := w.redactor.Redact(string(b))
	if _, err := w.f.WriteString(s + "\n"); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	w.n++
	if w.afterRecord != nil {
		// The hook kills the process right after line n: no other line may come in between.
		if err := w.sync(); err != nil {
			return 0, fmt.Errorf("journal: %w", err)
		}
		w.afterRecord(w.n)
	}
	return w.n, nil
}

// syncTo returns once the first n lines are on disk. One fsync covers every line written before
// it starts, so the writers waiting meanwhile need none of their own.
func (w *Writer) syncTo(n int) error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.synced >= n {
		return nil
	}
	w.mu.Lock()
	upto := w.n
	w.mu.Unlock()
	if err := w.sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	w.synced = upto
	return nil
}

// Locked records that the run took a host's lock.
func (w *Writer) Locked(host string) error { return w.write(line{Type: "lock", Host: host}) }

// Intent records a change before it is applied.
func (w *Writer) Intent(rec engine.Record) error {
	return w.write(line{Type: "intent", Seq: rec.Seq, Record: &rec})
}

// Done records how applying a change ended.
func (w *Writer) Done(rec engine.Record, err error) error {
	l := line{Type: "done", Seq: rec.Seq, OK: err == nil}
	if err != nil {
		l.Error = err.Error()
	}
	return w.write(l)
}

// Reverted records how reverting a change ended.
func (w *Writer) Reverted(seq int, err error) error {
	l := line{Type: "revert", Seq: seq, OK: err == nil}
	if err != nil {
		l.Error = err.Error()
	}
	return w.write(l)
}

// End records the run's final status.
func (w *Writer) End(status string) error { return w.write(line{Type: "end", Status: status}) }

// Close closes the journal file.
func (w *Writer) Close() error { return w.f.Close() }

// Change is one journaled change and what became of it.
type Change struct {
	engine.Record
	// Applied: the apply finished; Failed: it returned an error (it may have changed part of
	// the host); neither: the controller stopped between intent and done.
	Applied  bool   `json:"applied"`
	Failed   bool   `json:"failed"`
	Error    string `json:"error,omitempty"`
	Reverted bool   `json:"reverted"`
	// RevertError is the last failed revert's error.
	RevertError string `json:"revert_error,omitempty"`
}

// Run is a journal read back.
type Run struct {
	Meta    Meta
	Changes []*Change
	Status  string
	Ended   time.Time
	// Locked are the hosts whose lock the run took, in order.
	Locked []string
}

// Pending returns the changes still to revert, newest first.
func (r *Run) Pending() []*Change {
	var out []*Change
	for i := len(r.Changes) - 1; i >= 0; i-- {
		if !r.Changes[i].Reverted {
			out = append(out, r.Changes[i])
		}
	}
	return out
}

// Load reads a run's journal. A torn last line (the controller died mid-write) is ignored.
func Load(stateDir, runID string) (*Run, error) {
	f, err := os.Open(filepath.Join(Dir(stateDir, runID), "journal.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no run %q in %s", runID, stateDir)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	run := &Run{Status: StatusRunning}
	bySeq := map[int]*Change{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue // a torn line from a controller killed mid-write
		}
		switch l.Type {
		case "run":
			if l.Meta != nil {
				run.Meta = *l.Meta
			}
		case "lock":
			run.Locked = append(run.Locked, l.Host)
		case "intent":
			if l.Record != nil {
				c := &Change{Record: *l.Record}
				bySeq[l.Seq] = c
				run.Changes = append(run.Changes, c)
			}
		case "done":
			if c := bySeq[l.Seq]; c != nil {
				c.Applied, c.Failed, c.Error = l.OK, !l.OK, l.Error
			}
		case "revert":
			if c := bySeq[l.Seq]; c != nil {
				c.Reverted = l.OK
				c.RevertError = l.Error
			}
		case "end":
			run.Status = l.Status
			run.Ended = l.Time
		}
	}
	if run.Meta.RunID == "" {
		return nil, fmt.Errorf("journal of run %q has no run record", runID)
	}
	sort.SliceStable(run.Changes, func(i, j int) bool { return run.Changes[i].Seq < run.Changes[j].Seq })
	return run, nil
}

// List returns every run in the state directory, newest first.
func List(stateDir string) ([]*Run, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir, "runs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var runs []*Run
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := Load(stateDir, e.Name())
		if err != nil {
			continue
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Meta.Started.After(runs[j].Meta.Started) })
	return runs, nil
}

// Last returns the newest run's id.
func Last(stateDir string) (string, error) {
	runs, err := List(stateDir)
	if err != nil {
		return "", err
	}
	if len(runs) == 0 {
		return "", fmt.Errorf("no runs in %s", stateDir)
	}
	return runs[0].Meta.RunID, nil
}

// Remove deletes a run's journal directory.
func Remove(stateDir, runID string) error {
	if strings.ContainsAny(runID, "/\\") || runID == "" || runID == "." || runID == ".." {
		return fmt.Errorf("invalid run id %q", runID)
	}
	return os.RemoveAll(Dir(stateDir, runID))
}
