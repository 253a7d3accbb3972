package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
)

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	red := engine.NewRedactor()
	red.Add("hunter2-secret")
	meta := Meta{RunID: "r1", Started: time.Now().UTC(), Operator: "op@ctl", Playbook: "pb.hcl",
		Hosts: map[string]HostConn{"n1": {Name: "n1", Address: "10.0.0.1", Port: 22, User: "root", Connection: "ssh", StateDir: ".isaplay"}}}
	w, err := Create(dir, meta, red)
	if err != nil {
		t.Fatal(err)
	}
	recs := []engine.Record{
		{Seq: 1, Host: "n1", Play: "p", Task: "a", Module: "file", Undo: engine.NewUndo("file", map[string]string{"path": "/x"})},
		{Seq: 2, Host: "n1", Play: "p", Task: "b", Module: "file", Secrets: map[string]string{"login_password": "db_pw"}},
		{Seq: 3, Host: "n1", Play: "p", Task: "c", Module: "file"},
	}
	w.Intent(recs[0])
	w.Done(recs[0], nil)
	w.Intent(recs[1])
	w.Done(recs[1], errors.New("failed with hunter2-secret in the message"))
	w.Intent(recs[2]) // the controller "dies" before done
	w.Reverted(3, nil)
	w.Close()
	// A torn last line (a crash mid-write) is ignored.
	f, _ := os.OpenFile(filepath.Join(Dir(dir, "r1"), "journal.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"type":"done","seq":3,"ok":tr`)
	f.Close()

	raw, _ := os.ReadFile(filepath.Join(Dir(dir, "r1"), "journal.jsonl"))
	if strings.Contains(string(raw), "hunter2-secret") {
		t.Errorf("the journal holds a secret:\n%s", raw)
	}
	run, err := Load(dir, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != StatusRunning || len(run.Changes) != 3 {
		t.Fatalf("status %q, %d changes", run.Status, len(run.Changes))
	}
	c := run.Changes
	if !c[0].Applied || !c[1].Failed || c[2].Applied || c[2].Failed || !c[2].Reverted {
		t.Errorf("states: %+v %+v %+v", c[0], c[1], c[2])
	}
	if c[1].Secrets["login_password"] != "db_pw" {
		t.Errorf("secret sources lost: %+v", c[1].Secrets)
	}
	var pending []int
	for _, p := range run.Pending() {
		pending = append(pending, p.Seq)
	}
	if len(pending) != 2 || pending[0] != 2 || pending[1] != 1 {
		t.Errorf("pending = %v, want [2 1] (newest first, reverted ones left out)", pending)
	}
	w2, err := Open(dir, "r1", red)
	if err != nil {
		t.Fatal(err)
	}
	w2.End(StatusRolledBack)
	w2.Close()
	if run, _ := Load(dir, "r1"); run.Status != StatusRolledBack {
		t.Errorf("the end record after a torn line was lost: status %q", run.Status)
	}
	if last, _ := Last(dir); last != "r1" {
		t.Errorf("Last = %q", last)
	}
	if _, err := Create(dir, meta, red); err == nil {
		t.Errorf("a second journal for the same run id was created")
	}
}

// TestGroupCommit: records written while an fsync runs wait for the next one, which covers
// them all; none returns before an fsync that covers its line.
func TestGroupCommit(t *testing.T) {
	w, err := Create(t.TempDir(), Meta{RunID: "r1", Started: time.Now().UTC()}, engine.NewRedactor())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var mu sync.Mutex
	syncs := 0
	entered, release := make(chan struct{}), make(chan struct{})
	w.sync = func() error {
		mu.Lock()
		syncs++
		first := syncs == 1
		mu.Unlock()
		if first {
			close(entered)
			<-release // the first fsync is slow; the other writers arrive meanwhile
		}
		return w.f.Sync()
	}
	const writers = 20
	done := make(chan int, writers+1)
	go func() {
		w.Intent(engine.Record{Seq: 1, Host: "n0"})
		done <- 0
	}()
	select {
	case <-entered:
	case i := <-done:
		t.Fatalf("writer %d returned without an fsync", i)
	}
	for i := 1; i <= writers; i++ {
		go func() {
			w.Intent(engine.Record{Seq: i + 1, Host: fmt.Sprintf("n%d", i)})
			done <- i
		}()
	}
	// Every other writer has its line written and waits for an fsync (none may return yet).
	for {
		w.mu.Lock()
		n := w.n
		w.mu.Unlock()
		if n == writers+2 { // the run line, then the intents
			break
		}
		runtime.Gosched()
	}
	select {
	case i := <-done:
		t.Fatalf("writer %d returned before an fsync covered its line", i)
	default:
	}
	close(release)
	for range writers + 1 {
		<-done
	}
	if syncs != 2 {
		t.Errorf("%d fsyncs for %d records written together, want 2", syncs, writers+1)
	}
}
