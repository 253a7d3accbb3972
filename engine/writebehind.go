package engine

import (
	"context"
	"net"
	"path"
	"sync"
	"time"

	"github.com/isaplay/isaplay/inventory/conn"
)

// FileWriter is implemented by modules whose Apply changes the host only through
// Host.WriteFile. During an apply, the writes of consecutive such tasks are held and sent to
// each host together, in one round trip, at the next barrier (see writeBehind); any other
// operation on the host sends them first, so nothing ever sees the host without them.
type FileWriter interface {
	WritesOnlyFiles()
}

// ServiceOnly is implemented by modules whose Apply changes a service reached through the host
// (a database through Host.Dial) and reads and writes none of the host's files. The writes held
// on the hosts need not be made before such a task, and what was read ahead of the host's files
// stays valid after its change.
type ServiceOnly interface {
	ChangesOnlyServices()
}

// writeBehind is a host's connection during an apply. While open, WriteFile holds the write
// instead of making it; the held writes are made together, in order, with conn.WriteFiles, when
// flushed: before any other operation on the connection that may see them, and at the barriers
// the runner sets (before a task of another kind on any host, and at the end of a play's batch
// of hosts). A path written twice keeps both writes: the connection makes them so that the
// second change's backup holds the first change's bytes, as its undo record expects. Each
// change whose writes are held is journaled as done, or failed, only once they are made.
type writeBehind struct {
	conn.Conn
	mu      sync.Mutex
	open    bool
	gen     int // counts flushes
	writes  []conn.FileWrite
	changes []heldChange
	// made reports each flush: how long it took and its error.
	made func(d time.Duration, err error)
}

// heldChange is an applied change whose writes, from first to end-1, are held.
type heldChange struct {
	first, end int
	done       func(err error)
}

func newWriteBehind(c conn.Conn, made func(d time.Duration, err error)) *writeBehind {
	return &writeBehind{Conn: c, made: made}
}

// setOpen lets WriteFile hold writes (true) or makes it write at once (false).
func (w *writeBehind) setOpen(open bool) {
	w.mu.Lock()
	w.open = open
	w.mu.Unlock()
}

// holding reports whether writes are held.
func (w *writeBehind) holding() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes) > 0
}

// writeMark is where the held writes stood before an Apply.
type writeMark struct{ gen, n int }

func (w *writeBehind) mark() writeMark {
	w.mu.Lock()
	defer w.mu.Unlock()
	return writeMark{w.gen, len(w.writes)}
}

// since returns the index of the first write held since m.
func (w *writeBehind) since(m writeMark) int {
	if w.gen != m.gen {
		return 0 // flushed since: what is held now was held after m
	}
	return m.n
}

// hold attaches the writes held since m to a change: done is called once they are made (or
// fail). With no write held since m, it calls nothing and returns false.
func (w *writeBehind) hold(m writeMark, done func(err error)) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := w.since(m)
	if len(w.writes) <= from {
		return false
	}
	w.changes = append(w.changes, heldChange{first: from, end: len(w.writes), done: done})
	return true
}

// drop forgets the writes held since m: their change failed before they were made.
func (w *writeBehind) drop(m writeMark) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = w.writes[:w.since(m)]
}

// flush makes the held writes and reports each held change's outcome.
func (w *writeBehind) flush(ctx context.Context) error {
	w.mu.Lock()
	writes, changes := w.writes, w.changes
	w.writes, w.changes = nil, nil
	if len(writes) > 0 {
		w.gen++
	}
	w.mu.Unlock()
	if len(writes) == 0 {
		return nil
	}
	start := time.Now()
	made, err := conn.WriteFiles(ctx, w.Conn, writes)
	if w.made != nil {
		w.made(time.Since(start), err)
	}
	for _, c := range changes {
		var cerr error
		for i := c.first; i < c.end && err != nil; i++ {
			if !made[i] {
				cerr = err
			}
		}
		c.done(cerr)
	}
	return err
}

// WriteFile holds the write while open.
func (w *writeBehind) WriteFile(ctx context.Context, p string, data []byte, opts conn.WriteOptions) error {
	w.mu.Lock()
	if w.open {
		w.writes = append(w.writes, conn.FileWrite{Path: p, Data: data, Opts: opts})
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	if err := w.flush(ctx); err != nil {
		return err
	}
	return w.Conn.WriteFile(ctx, p, data, opts)
}

func (w *writeBehind) Run(ctx context.Context, c conn.Command) (conn.Result, error) {
	if err := w.flush(ctx); err != nil {
		return conn.Result{}, err
	}
	return w.Conn.Run(ctx, c)
}

// runReading runs c, a command that only reads paths (the read-ahead's tar), making the held
// writes first only when one of them may alter what it reads, as ReadFile does.
func (w *writeBehind) runReading(ctx context.Context, c conn.Command, paths []string) (conn.Result, error) {
	if err := w.flushTouching(ctx, paths...); err != nil {
		return conn.Result{}, err
	}
	return w.Conn.Run(ctx, c)
}

// Stat and ReadFile make the held writes first only when one of them may alter what they read.
func (w *writeBehind) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	if err := w.flushTouching(ctx, paths...); err != nil {
		return nil, err
	}
	return w.Conn.Stat(ctx, paths, hash)
}

func (w *writeBehind) StatHash(ctx context.Context, paths []string, hash []bool) ([]conn.FileInfo, error) {
	if err := w.flushTouching(ctx, paths...); err != nil {
		return nil, err
	}
	return conn.StatHash(ctx, w.Conn, paths, hash)
}

func (w *writeBehind) ReadFile(ctx context.Context, p string, become bool) (conn.FileInfo, []byte, error) {
	if err := w.flushTouching(ctx, p); err != nil {
		return conn.FileInfo{}, nil, err
	}
	return w.Conn.ReadFile(ctx, p, become)
}

// flushTouching makes the held writes when one of them may alter what is at the paths.
func (w *writeBehind) flushTouching(ctx context.Context, paths ...string) error {
	if !w.touches(paths...) {
		return nil
	}
	return w.flush(ctx)
}

// touches reports whether a held write (its file or its backup) is at or above one of the
// paths: what a stat or a read of a directory above it reports (its type, mode and owner) does
// not change. Paths are compared as spelled, cleaned: a relative path (from the login
// directory, as the default state directory is) is taken to name no absolute path that tasks
// read; isaplay's own readers of backups (restore, drift checks) run commands, which always
// make the held writes first.
func (w *writeBehind) touches(paths ...string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.writes) == 0 {
		return false
	}
	held := make([]string, 0, 2*len(w.writes))
	for _, fw := range w.writes {
		held = append(held, path.Clean(fw.Path))
		if fw.Opts.Backup != "" {
			held = append(held, path.Clean(fw.Opts.Backup))
		}
	}
	for _, p := range paths {
		if below(p, held) {
			return true
		}
	}
	return false
}

func (w *writeBehind) WriteFiles(ctx context.Context, writes []conn.FileWrite) ([]bool, error) {
	if err := w.flush(ctx); err != nil {
		return make([]bool, len(writes)), err
	}
	return conn.WriteFiles(ctx, w.Conn, writes)
}

func (w *writeBehind) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := w.flush(ctx); err != nil {
		return nil, err
	}
	return w.Conn.Dial(ctx, network, addr)
}
