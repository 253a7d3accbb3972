package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

// heldFile is a test file module (an engine.FileWriter): it replaces path with content, keeping
// a backup, as xml_patch does; like jar_copy, its Check also stats the file's directory.
type heldFile struct{}

func (heldFile) StatPaths(a *engine.Args) []engine.StatPath {
	return []engine.StatPath{{Path: filepath.Dir(a.String("path"))}}
}

func (heldFile) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: replaces a file through Host.WriteFile only.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, Description: "path", HostFile: true},
			{Name: "content", Type: cty.String, Required: true, Description: "bytes"},
		}}
}

func (heldFile) Check(ctx context.Context, h *engine.Host, a *engine.Args) (*engine.Change, error) {
	p, data := a.String("path"), []byte(a.String("content"))
	if dir, err := h.Stat(ctx, []string{filepath.Dir(p)}, false); err != nil || dir[0].Type != conn.TypeDir {
		return nil, fmt.Errorf("directory of %s: %v %v", p, dir, err)
	}
	fi, old, err := h.ReadFile(ctx, p)
	if err != nil {
		return nil, err
	}
	if fi.Exists && string(old) == string(data) {
		return &engine.Change{Action: engine.ActionNone, Summary: "in sync"}, nil
	}
	u := h.NewFileUndo(fi, engine.SHA256(data))
	return &engine.Change{Action: engine.ActionUpdate, Summary: "write " + p, Private: u,
		Undo:    engine.NewUndo("held_file", u),
		Effects: []engine.Effect{{Kind: engine.EffectFile, Path: p, Data: data, Mode: 0o644, UID: os.Getuid(), GID: os.Getgid()}},
	}, nil
}

func (heldFile) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	u := c.Private.(engine.FileUndo)
	e := c.Effects[0]
	return h.WriteFile(ctx, u.Path, e.Data, conn.WriteOptions{Mode: 0o644, UID: e.UID, GID: e.GID, Backup: u.Backup})
}

func (heldFile) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var fu engine.FileUndo
	if err := u.Decode(&fu); err != nil {
		return err
	}
	return h.RestoreFile(ctx, fu)
}

func (heldFile) WritesOnlyFiles() {}

// blindFile is heldFile without read-ahead: its Check reads and stats for itself.
type blindFile struct{ heldFile }

func (blindFile) StatPaths(*engine.Args) []engine.StatPath { return nil }

func (blindFile) Schema() engine.Schema {
	s := heldFile{}.Schema()
	s.Attrs[0].HostFile = false
	return s
}

// batchConn is a local connection that writes batches (conn.BatchWriter) and counts them; a
// batch holding a path that ends in failSuffix fails at that write, after those before it.
type batchConn struct {
	*local.Conn
	mu         sync.Mutex
	batches    [][]string // the paths of each WriteFiles call
	single     int        // WriteFile calls
	failSuffix string
}

func (c *batchConn) WriteFile(ctx context.Context, p string, data []byte, opts conn.WriteOptions) error {
	c.mu.Lock()
	c.single++
	c.mu.Unlock()
	return c.Conn.WriteFile(ctx, p, data, opts)
}

func (c *batchConn) WriteFiles(ctx context.Context, writes []conn.FileWrite) ([]bool, error) {
	var paths []string
	for _, w := range writes {
		paths = append(paths, filepath.Base(w.Path))
	}
	c.mu.Lock()
	c.batches = append(c.batches, paths)
	c.mu.Unlock()
	made := make([]bool, len(writes))
	for i, w := range writes {
		if c.failSuffix != "" && strings.HasSuffix(w.Path, c.failSuffix) {
			return made, fmt.Errorf("write %s: injected failure", w.Path)
		}
		if err := c.Conn.WriteFile(ctx, w.Path, w.Data, w.Opts); err != nil {
			return made, err
		}
		made[i] = true
	}
	return made, nil
}

// journalLog records the order of intent and done records.
type journalLog struct {
	mu    sync.Mutex
	lines []string
}

func (j *journalLog) Intent(rec engine.Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, "intent "+rec.Host+" "+rec.Task)
	return nil
}

func (j *journalLog) Done(rec engine.Record, err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := "done " + rec.Host + " " + rec.Task
	if err != nil {
		s += " failed"
	}
	j.lines = append(j.lines, s)
	return nil
}

func writeBehindFixture(t *testing.T, failOn string) (*fixture, engine.Config, map[string]*batchConn, *journalLog) {
	t.Helper()
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "held_file" "a" {
    path    = "${host.vars.root}/a"
    content = "A1"
  }
  task "held_file" "b" {
    path    = "${host.vars.root}/b"
    content = "B1"
  }
  task "held_file" "b again" {
    path    = "${host.vars.root}/b"
    content = "B2"
  }
  task "shell_run" "look" {
    script = "cat ${host.vars.root}/a ${host.vars.root}/b > ${host.vars.root}/seen"
  }
  task "held_file" "c" {
    path    = "${host.vars.root}/c"
    content = "C1"
  }
  task "shell_run" "nowhere" {
    when   = host.index > 5
    script = "cat ${host.vars.root}/c > ${host.vars.root}/seen"
  }
  task "service_call" "database" {
  }
  task "held_file" "a again" {
    path    = "${host.vars.root}/a"
    content = "A2"
  }
}
play "q" {
  hosts = "app"
  task "held_file" "d" {
    path    = "${host.vars.root}/d"
    content = "D1"
  }
}
`, 2, engine.VarInputs{})
	for i := 1; i <= 2; i++ {
		write(t, filepath.Join(f.dir, fmt.Sprintf("n%d", i), "a"), "A0")
	}
	conns := map[string]*batchConn{}
	for _, h := range f.inv.Hosts {
		conns[h.Name] = &batchConn{Conn: local.New()}
	}
	conns["n1"].failSuffix = failOn
	cfg := f.config()
	cfg.Conns = engine.NewConns(func(_ context.Context, h *inventory.Host) (conn.Conn, error) { return conns[h.Name], nil })
	j := &journalLog{}
	cfg.Journal = j
	cfg.RunID = "r1"
	return f, cfg, conns, j
}

// serviceCall is a test module whose change is to a service only (engine.ServiceOnly).
type serviceCall struct{}

func (serviceCall) Schema() engine.Schema {
	return engine.Schema{Description: "Test module: changes a service, no file."}
}

func (serviceCall) Check(context.Context, *engine.Host, *engine.Args) (*engine.Change, error) {
	return &engine.Change{Action: engine.ActionRun, Summary: "call"}, nil
}

func (serviceCall) Apply(context.Context, *engine.Host, *engine.Change) error { return nil }

func (serviceCall) Revert(context.Context, *engine.Host, engine.Undo) error { return nil }

func (serviceCall) ChangesOnlyServices() {}

// The writes of consecutive file tasks reach each host in one batch, made before any other
// task runs (the command sees them; one that runs on no host or changes only a service splits
// nothing) and at the end of each play; each change is journaled as done only after its batch, and a second write to a
// file is backed up from the first.
func TestWriteBehindBatches(t *testing.T) {
	f, cfg, conns, j := writeBehindFixture(t, "")
	if _, err := engine.ApplyRun(context.Background(), cfg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for i := 1; i <= 2; i++ {
		name := fmt.Sprintf("n%d", i)
		root := filepath.Join(f.dir, name)
		for file, want := range map[string]string{"seen": "A1B2", "a": "A2", "b": "B2", "c": "C1", "d": "D1"} {
			if got, _ := os.ReadFile(filepath.Join(root, file)); string(got) != want {
				t.Errorf("%s: %s holds %q, want %q", name, file, got, want)
			}
		}
		c := conns[name]
		want := [][]string{{"a", "b", "b"}, {"c", "a"}, {"d"}}
		if fmt.Sprint(c.batches) != fmt.Sprint(want) || c.single != 0 {
			t.Errorf("%s: batches %v and %d single writes, want %v and none", name, c.batches, c.single, want)
		}
	}
	// Each held change is done after its intent and after the intents of the tasks held with it.
	pos := map[string]int{}
	for i, l := range j.lines {
		pos[l] = i
	}
	for _, h := range []string{"n1", "n2"} {
		for _, tk := range []string{"a", "b", "b again", "c", "a again", "d"} {
			in, ok1 := pos["intent "+h+" "+tk]
			dn, ok2 := pos["done "+h+" "+tk]
			if !ok1 || !ok2 || dn < in {
				t.Errorf("journal order for %s %s: intent at %d (%v), done at %d (%v)", h, tk, in, ok1, dn, ok2)
			}
		}
		if pos["done "+h+" a"] < pos["intent "+h+" b"] {
			t.Errorf("%s: a journaled done before b's intent: its write was not held", h)
		}
		if pos["done "+h+" b again"] > pos["intent "+h+" look"] {
			t.Errorf("%s: b journaled done after the command's intent", h)
		}
	}
	// Each change's backup holds what it replaced, though "b again" was written in b's batch:
	// a rollback restores "a again" from A1, "a" from A0 and "b again" from B1.
	var backups []string
	filepath.Walk(filepath.Join(f.dir, "state-n1"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			backups = append(backups, string(b))
		}
		return nil
	})
	if got := strings.Join(backups, ","); !strings.Contains(got, "A0") || !strings.Contains(got, "A1") || !strings.Contains(got, "B1") {
		t.Errorf("backups on n1 hold %q, want A0, A1 and B1", got)
	}
}

// A batch that fails fails the change whose write failed (and those held after it), on that
// host only; the run stops before the next task, and the changes made are journaled done.
func TestWriteBehindFailure(t *testing.T) {
	f, cfg, _, j := writeBehindFixture(t, "/b")
	p, err := engine.ApplyRun(context.Background(), cfg)
	if !errors.Is(err, engine.ErrRunFailed) || !strings.Contains(err.Error(), "n1: p/b: ") || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("apply: %v, want n1's task b failed with the injected failure", err)
	}
	status := map[string]engine.Status{}
	for _, e := range p.Entries {
		status[e.Host+" "+e.Task] = e.Status
	}
	want := map[string]engine.Status{"n1 a": engine.StatusChange, "n1 b": engine.StatusFailed, "n2 a": engine.StatusChange, "n2 b": engine.StatusChange}
	for k, st := range want {
		if status[k] != st {
			t.Errorf("%s: status %q, want %q", k, status[k], st)
		}
	}
	if _, ran := status["n2 look"]; ran {
		t.Error("the command ran after a failed batch")
	}
	if _, err := os.Stat(filepath.Join(f.dir, "n1", "b")); !os.IsNotExist(err) {
		t.Errorf("n1/b: %v, want no file", err)
	}
	log := strings.Join(j.lines, "\n")
	for _, l := range []string{"done n1 a", "done n1 b failed", "done n2 b"} {
		if !strings.Contains(log+"\n", l+"\n") {
			t.Errorf("journal lacks %q:\n%s", l, log)
		}
	}
}

// A restore removes what a write cut short left beside the file: temporary files and staging
// directories with their contents.
func TestRestoreRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "app.xml")
	write(t, target, "new")
	stage := filepath.Join(dir, conn.StagePrefix+"x1")
	os.Mkdir(stage, 0o700)
	write(t, filepath.Join(stage, "app.xml"), "new")
	write(t, filepath.Join(dir, conn.TempPrefix+"y2"), "new")
	write(t, filepath.Join(dir, "other.xml"), "kept")
	h := engine.NewHost("n1", local.New(), "r1", filepath.Join(dir, "state"), engine.NewRedactor())
	if err := h.RestoreFile(context.Background(), engine.FileUndo{Path: target, Existed: false}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "other.xml" {
		t.Errorf("after the restore the directory holds %v, want only other.xml", names)
	}
}

// A backup whose bytes do not match the digest it is named by is never restored.
func TestRestoreRefusesDamagedBackup(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "app.xml")
	write(t, target, "new")
	sum := engine.SHA256([]byte("original"))
	backup := filepath.Join(dir, "backups", sum)
	os.Mkdir(filepath.Dir(backup), 0o700)
	write(t, backup, "origi") // cut short
	h := engine.NewHost("n1", local.New(), "r1", filepath.Join(dir, "state"), engine.NewRedactor())
	err := h.RestoreFile(context.Background(), engine.FileUndo{Path: target, Existed: true, Backup: backup, SHA256: sum, Mode: 0o644, UID: os.Getuid(), GID: os.Getgid()})
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("restore from a damaged backup: %v, want an error saying so", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "new" {
		t.Errorf("file holds %q after a refused restore", got)
	}
	write(t, backup, "original")
	if err := h.RestoreFile(context.Background(), engine.FileUndo{Path: target, Existed: true, Backup: backup, SHA256: sum, Mode: 0o644, UID: os.Getuid(), GID: os.Getgid()}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(target); string(got) != "original" {
		t.Errorf("file holds %q after the restore", got)
	}
}

// A read-ahead made while writes are held (a command made the host's files unknown, a file task
// that reads for itself held its write, the next one misses) leaves the held writes of other
// files held: both changes reach the host in one batch.
func TestWriteBehindReadAheadKeepsHeld(t *testing.T) {
	f := newFixture(t, `
play "p" {
  hosts = "app"
  task "shell_run" "touch" {
    script = "true"
  }
  task "blind_file" "x" {
    path    = "${host.vars.root}/sub/x"
    content = "X1"
  }
  task "held_file" "a" {
    path    = "${host.vars.root}/a"
    content = "A1"
  }
}
`, 1, engine.VarInputs{})
	if err := os.MkdirAll(filepath.Join(f.dir, "n1", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(f.dir, "n1", "sub", "x"), "X0")
	write(t, filepath.Join(f.dir, "n1", "a"), "A0")
	c := &batchConn{Conn: local.New()}
	cfg := f.config()
	cfg.Conns = engine.NewConns(func(context.Context, *inventory.Host) (conn.Conn, error) { return c, nil })
	cfg.Journal = &journalLog{}
	cfg.RunID = "r1"
	if _, err := engine.ApplyRun(context.Background(), cfg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if want := [][]string{{"x", "a"}}; fmt.Sprint(c.batches) != fmt.Sprint(want) || c.single != 0 {
		t.Errorf("batches %v and %d single writes, want %v and none", c.batches, c.single, want)
	}
	for file, want := range map[string]string{"sub/x": "X1", "a": "A1"} {
		if got, _ := os.ReadFile(filepath.Join(f.dir, "n1", file)); string(got) != want {
			t.Errorf("%s holds %q, want %q", file, got, want)
		}
	}
}
