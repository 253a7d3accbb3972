package engine

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
)

// Conns opens each host's connection once and keeps it for the whole command (plan, apply and
// rollback share it), together with the host locks this command holds.
type Conns struct {
	dial func(ctx context.Context, h *inventory.Host) (conn.Conn, error)
	mu   sync.Mutex
	m    map[string]*connEntry
	// opening counts the connections Open is opening in the background.
	opening sync.WaitGroup
	// Dials and RoundTrips count connections opened and remote operations made through them.
	Dials      atomic.Int64
	RoundTrips atomic.Int64
}

// counting wraps a connection to count its remote round trips.
type counting struct {
	conn.Conn
	n *atomic.Int64
}

func (c counting) Run(ctx context.Context, cmd conn.Command) (conn.Result, error) {
	c.n.Add(1)
	return c.Conn.Run(ctx, cmd)
}

func (c counting) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	c.n.Add(1)
	return c.Conn.Stat(ctx, paths, hash)
}

func (c counting) ReadFile(ctx context.Context, p string, become bool) (conn.FileInfo, []byte, error) {
	c.n.Add(1)
	return c.Conn.ReadFile(ctx, p, become)
}

func (c counting) WriteFile(ctx context.Context, p string, data []byte, opts conn.WriteOptions) error {
	c.n.Add(1)
	return c.Conn.WriteFile(ctx, p, data, opts)
}

// WriteFiles counts one round trip for a connection that writes a batch in one, else one per file.
func (c counting) WriteFiles(ctx context.Context, writes []conn.FileWrite) ([]bool, error) {
	if _, ok := c.Conn.(conn.BatchWriter); ok {
		c.n.Add(1)
	} else {
		c.n.Add(int64(len(writes)))
	}
	return conn.WriteFiles(ctx, c.Conn, writes)
}

// StatHash counts one round trip for a connection that stats with mixed hashes in one, else
// one per kind of stat asked.
func (c counting) StatHash(ctx context.Context, paths []string, hash []bool) ([]conn.FileInfo, error) {
	if _, ok := c.Conn.(conn.StatHasher); ok {
		c.n.Add(1)
	} else {
		kinds := map[bool]bool{}
		for _, h := range hash {
			kinds[h] = true
		}
		c.n.Add(int64(len(kinds)))
	}
	return conn.StatHash(ctx, c.Conn, paths, hash)
}

type connEntry struct {
	once   sync.Once
	c      conn.Conn
	err    error
	lockMu sync.Mutex
	locked string // state dir whose lock this command holds
	lockID string
}

// NewConns returns a connection cache that opens connections with dial.
func NewConns(dial func(ctx context.Context, h *inventory.Host) (conn.Conn, error)) *Conns {
	return &Conns{dial: dial, m: map[string]*connEntry{}}
}

func (p *Conns) entry(name string) *connEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.m[name]
	if e == nil {
		e = &connEntry{}
		p.m[name] = e
	}
	return e
}

// Get returns h's connection, opening it on first use. A failed open is remembered.
func (p *Conns) Get(ctx context.Context, h *inventory.Host) (conn.Conn, error) {
	e := p.entry(h.Name)
	e.once.Do(func() {
		p.Dials.Add(1)
		e.c, e.err = p.dial(ctx, h)
		if e.err == nil {
			e.c = counting{Conn: e.c, n: &p.RoundTrips}
		}
	})
	return e.c, e.err
}

// Open starts opening the connections to hosts in the background; Get waits for them.
func (p *Conns) Open(ctx context.Context, hosts []*inventory.Host) {
	for _, h := range hosts {
		p.opening.Add(1)
		go func() {
			defer p.opening.Done()
			p.Get(ctx, h) // a failure is remembered, for the Get of a run that uses the host
		}()
	}
}

// Lock takes the host lock for lockID (a run id) in the host's state directory. A lock held by
// another run is an error naming its holder; one held by the same run id is taken over (a
// rollback of a run whose controller died).
func (p *Conns) Lock(ctx context.Context, h *inventory.Host, lockID string) error {
	e := p.entry(h.Name)
	e.lockMu.Lock()
	defer e.lockMu.Unlock()
	if e.locked != "" {
		return nil
	}
	c, err := p.Get(ctx, h)
	if err != nil {
		return err
	}
	ctrl, _ := os.Hostname()
	info := fmt.Sprintf("run=%s controller=%s pid=%d since=%s", lockID, ctrl, os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	lock := path.Join(h.StateDir, "lock")
	script := "umask 077; { [ -d " + conn.Quote(h.StateDir) + " ] || mkdir -p " + conn.Quote(h.StateDir) + "; } && if ( set -C; printf '%s\\n' " + conn.Quote(info) + " > " + conn.Quote(lock) +
		" ) 2>/dev/null; then :; else cur=$(cat " + conn.Quote(lock) + " 2>/dev/null); case \"$cur\" in " + conn.Quote("run="+lockID+" ") +
		"*) ;; *) printf '%s' \"$cur\"; exit 75;; esac; fi"
	res, err := c.Run(ctx, conn.Command{Script: script, Become: h.Become, Subshell: true})
	if err != nil {
		return fmt.Errorf("%s: lock: %w", h.Name, err)
	}
	if res.ExitCode == 75 {
		return fmt.Errorf("%s is locked by another run (%s); if that run is dead, `isaplay rollback RUN-ID` releases it, or remove %s on the host",
			h.Name, strings.TrimSpace(string(res.Stdout)), lock)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: lock %s: exit %d: %s", h.Name, lock, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	e.locked, e.lockID = h.StateDir, lockID
	return nil
}

// Unlock releases every lock this command holds.
func (p *Conns) Unlock(ctx context.Context) {
	p.mu.Lock()
	entries := make([]*connEntry, 0, len(p.m))
	for _, e := range p.m {
		entries = append(entries, e)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range entries {
		if e.locked == "" || e.c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lock := path.Join(e.locked, "lock")
			e.c.Run(ctx, conn.Command{Script: "if IFS= read -r l 2>/dev/null <" + conn.Quote(lock) + "; then case \"$l\" in " + conn.Quote("run="+e.lockID+" ") +
				"*) rm -f " + conn.Quote(lock) + ";; esac; fi", Subshell: true})
			e.locked = ""
		}()
	}
	wg.Wait()
}

// Close closes every open connection, once those being opened are.
func (p *Conns) Close() {
	p.opening.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.m {
		if e.c != nil {
			e.c.Close()
		}
	}
}
