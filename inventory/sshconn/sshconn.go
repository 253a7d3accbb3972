// Package sshconn implements conn.Conn over SSH (golang.org/x/crypto/ssh): one connection per
// host for the whole run, host keys verified against known_hosts, ssh-agent and key files,
// ~/.ssh/config aliases, jump hosts, keepalives, and sudo for become.
//
// Commands do not open an SSH session each. A few long-lived `sh` processes per host (each on its
// own session, at most MaxSessions) read framed commands from their standard input and frame
// the output back (see shell.go), so a command costs one round trip and no session setup. Stat
// and ReadFile are one command each; WriteFile sends the bytes as that command's standard input.
// Targets need only sh and coreutils.
package sshconn

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/isaplay/isaplay/inventory/conn"
)

// Conn is an open SSH connection to one host. It is safe for concurrent use.
type Conn struct {
	cfg    *resolved
	name   string
	client *ssh.Client
	jumps  []*ssh.Client
	uid    int // the login user's uid on the host: 0 for root, else -1 (some other user)

	pool shellPool

	done    chan struct{} // closed when the connection ends
	lostErr atomic.Pointer[error]
	closed  atomic.Bool
	// sudoNeedsPassword is set once sudo -n refused for want of a password.
	sudoNeedsPassword atomic.Bool
	stopOnce          sync.Once
	// Sessions counts every session ever opened (for tests and benchmarks).
	sessions atomic.Int64
}

var _ conn.Conn = (*Conn)(nil)

// Dial connects to the host (through its jump hosts), authenticates, checks the host key, and
// starts one framed shell. Network failures are retried with backoff.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.name(), err)
	}
	name := cfg.name()
	client, jumps, err := dialChain(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &Conn{cfg: r, name: name, client: client, jumps: jumps, done: make(chan struct{}), uid: -1}
	if r.User == "root" {
		c.uid = 0
	}
	c.pool.max = r.MaxSessions
	c.pool.idle = map[bool][]*shell{}
	go func() {
		err := client.Wait()
		c.markLost(fmt.Errorf("connection closed: %v", err))
	}()
	if r.KeepaliveInterval > 0 {
		go c.keepalive()
	}
	sh, err := c.acquire(ctx, false)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.release(sh)
	return c, nil
}

// Name returns the host's inventory name.
func (c *Conn) Name() string { return c.name }

// Sessions returns how many SSH sessions the connection has opened so far.
func (c *Conn) Sessions() int64 { return c.sessions.Load() }

// PeakSessions returns the most sessions the connection had open at once.
func (c *Conn) PeakSessions() int {
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	return c.pool.peak
}

// Client returns the underlying SSH client (for tests and special uses).
func (c *Conn) Client() *ssh.Client { return c.client }

func (c *Conn) markLost(err error) {
	c.stopOnce.Do(func() {
		if !c.closed.Load() {
			c.lostErr.Store(&err)
		}
		close(c.done)
		c.client.Close()
		for i := len(c.jumps) - 1; i >= 0; i-- {
			c.jumps[i].Close()
		}
		c.pool.mu.Lock()
		c.pool.closed = true
		c.pool.wake()
		c.pool.mu.Unlock()
	})
}

// keepalive probes the server every interval; after KeepaliveCountMax probes without any reply
// the connection is declared lost and closed, which fails every pending operation.
func (c *Conn) keepalive() {
	t := time.NewTicker(c.cfg.KeepaliveInterval)
	defer t.Stop()
	replies := make(chan struct{}, 1)
	inFlight := false
	missed := 0
	for {
		select {
		case <-c.done:
			return
		case <-replies:
			inFlight = false
			missed = 0
		case <-t.C:
			if inFlight {
				missed++
				if missed >= c.cfg.KeepaliveCountMax {
					c.markLost(fmt.Errorf("no reply to %d keepalives in %v", missed, time.Duration(missed)*c.cfg.KeepaliveInterval))
					return
				}
				continue
			}
			inFlight = true
			go func() {
				if _, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil); err == nil {
					replies <- struct{}{}
				}
			}()
		}
	}
}

// lostOr returns err, or the connection-lost error when the connection broke: when the failure
// looks like a dead connection it probes the server (one round trip, bounded by the keepalive
// timeout) before deciding.
func (c *Conn) lostOr(ctx context.Context, err error) error {
	if p := c.lostErr.Load(); p != nil {
		return fmt.Errorf("%w: %v", conn.ErrConnLost, *p)
	}
	if c.closed.Load() {
		return fmt.Errorf("connection closed")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	probe := make(chan error, 1)
	go func() {
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		probe <- err
	}()
	wait := c.cfg.KeepaliveInterval * time.Duration(c.cfg.KeepaliveCountMax)
	if wait <= 0 {
		wait = 15 * time.Second
	}
	select {
	case perr := <-probe:
		if perr != nil {
			c.markLost(fmt.Errorf("connection closed: %v", perr))
		}
	case <-c.done:
	case <-time.After(wait):
		c.markLost(fmt.Errorf("no reply to a probe in %v", wait))
	case <-ctx.Done():
		return ctx.Err()
	}
	if p := c.lostErr.Load(); p != nil {
		return fmt.Errorf("%w: %v", conn.ErrConnLost, *p)
	}
	return err
}

// acquire returns an idle shell (as root when become), starting one if the session limit allows,
// else waits for one.
func (c *Conn) acquire(ctx context.Context, become bool) (*shell, error) {
	if become && c.uid == 0 {
		become = false
	}
	p := &c.pool
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, c.lostOr(ctx, errors.New("connection closed"))
		}
		if n := len(p.idle[become]); n > 0 {
			sh := p.idle[become][n-1]
			p.idle[become] = p.idle[become][:n-1]
			p.mu.Unlock()
			return sh, nil
		}
		if p.live < p.max {
			p.live++
			p.peak = max(p.peak, p.live)
			p.mu.Unlock()
			c.sessions.Add(1)
			sh, err := c.startShell(ctx, become)
			if err != nil {
				p.mu.Lock()
				p.live--
				p.wake()
				p.mu.Unlock()
				return nil, err
			}
			return sh, nil
		}
		// At the limit: an idle shell of the other kind gives up its session (the slot frees
		// once the server has closed it).
		if n := len(p.idle[!become]); n > 0 {
			sh := p.idle[!become][n-1]
			p.idle[!become] = p.idle[!become][:n-1]
			c.drop(sh)
		}
		w := make(chan struct{})
		p.waiters = append(p.waiters, w)
		p.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// drop closes a shell and frees its session slot once the server has closed the session too
// (sshd counts a session until then, and would refuse a new one over MaxSessions). p.mu is held.
func (c *Conn) drop(sh *shell) {
	if !sh.broken {
		sh.close()
	}
	go func() {
		select {
		case <-sh.gone:
		case <-time.After(10 * time.Second):
		}
		c.pool.mu.Lock()
		c.pool.live--
		c.pool.wake()
		c.pool.mu.Unlock()
	}()
}

// release returns a shell to the pool, or drops it when it broke.
func (c *Conn) release(sh *shell) {
	p := &c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if sh.broken || p.closed {
		c.drop(sh)
	} else {
		p.idle[sh.become] = append(p.idle[sh.become], sh)
	}
	p.wake()
}

// exec runs a script on a framed shell.
func (c *Conn) exec(ctx context.Context, script string, how byte, in input, become bool, stdout io.Writer) (conn.Result, error) {
	return c.execShell(ctx, script, how, in, become, stdout, false)
}

// execToEnd runs an uninterrupted script (a file write) as a function of the loop. It starts
// only if ctx is not done. Until the script begins (its input is still being staged), ctx
// cancels it like any command; once it has begun it is waited for to its end, even when ctx
// ends: the host finishes it anyway, and a caller told otherwise would act (roll back) while
// it still renames.
func (c *Conn) execToEnd(ctx context.Context, script string, in input, become bool) (conn.Result, error) {
	if err := ctx.Err(); err != nil {
		return conn.Result{}, fmt.Errorf("%s: %w", c.name, err)
	}
	return c.execShell(ctx, script, runFunction, in, become, nil, true)
}

func (c *Conn) execShell(ctx context.Context, script string, how byte, in input, become bool, stdout io.Writer, toEnd bool) (conn.Result, error) {
	if c.closed.Load() {
		return conn.Result{}, fmt.Errorf("%s: connection closed", c.name)
	}
	sh, err := c.acquire(ctx, become)
	if err != nil {
		return conn.Result{}, fmt.Errorf("%s: %w", c.name, err)
	}
	type result struct {
		res conn.Result
		err error
	}
	done := make(chan result, 1)
	began := make(chan struct{})
	go func() {
		res, err := sh.run(script, how, in, stdout, began)
		done <- result{res, err}
	}()
	stop := ctx.Done()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				sh.close()
				c.release(sh)
				if toEnd {
					ctx = context.WithoutCancel(ctx) // the connection's state, not the caller's, says why
				}
				return r.res, fmt.Errorf("%s: %w", c.name, c.lostOr(ctx, r.err))
			}
			c.release(sh)
			return r.res, nil
		case <-began:
			began = nil
			if toEnd {
				stop = nil
			}
		case <-stop:
			// The shell gets a TERM, on which it kills its process group (the command), and is
			// dropped. sshd refuses the signal request for some sessions (root logins), so
			// another shell sends it too. Its standard input is closed: a script whose input
			// was still being staged finds it short and never runs. The session's output ends
			// once every process holding it has exited, the command's included: waiting for
			// that (a while at most, since a command may ignore TERM) means the caller, a
			// rollback say, does not act while it still runs.
			sh.sess.Signal(ssh.SIGTERM)
			sh.stdin.Close()
			go c.kill(sh)
			wait := time.NewTimer(cancelWait)
			defer wait.Stop()
			select {
			case r := <-done:
				sh.close()
				c.release(sh)
				if toEnd && r.err == nil {
					// The script began before the signal reached it, and an uninterrupted one
					// ignores it: it ran to its end, and this is its outcome.
					return r.res, nil
				}
			case <-wait.C:
				sh.close()
				go func() {
					<-done
					c.release(sh)
				}()
			}
			return conn.Result{}, fmt.Errorf("%s: %w", c.name, ctx.Err())
		}
	}
}

// cancelWait is how long a cancelled command is given to end on the host before its caller
// goes on regardless.
const cancelWait = 5 * time.Second

// kill sends TERM to a shell's loop process from another shell of the same user.
func (c *Conn) kill(sh *shell) {
	if sh.pid <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.exec(ctx, "kill -TERM "+strconv.Itoa(sh.pid)+" 2>/dev/null", runFunction, noInput, sh.become, nil)
}

// Run runs c.Script with sh on the host. A standard input whose length is known (conn.Sized)
// is streamed; any other is read whole first, since the shell is told its length.
func (c *Conn) Run(ctx context.Context, cmd conn.Command) (conn.Result, error) {
	in := noInput
	switch r := cmd.Stdin.(type) {
	case nil:
	case conn.Sized:
		in = input{n: int64(r.Len()), r: r}
	default:
		data, err := io.ReadAll(r)
		if err != nil {
			return conn.Result{}, fmt.Errorf("%s: read stdin: %w", c.name, err)
		}
		in = bytesInput(data)
	}
	how := byte(runCommand)
	if cmd.Subshell {
		how = runSubshell
	}
	return c.exec(ctx, cmd.Script, how, in, cmd.Become, cmd.Stdout)
}

// Dial opens a TCP connection from the host through a direct-tcpip channel.
func (c *Conn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := c.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s: %w", c.name, addr, c.lostOr(ctx, err))
	}
	return nc, nil
}

// Close ends the connection and its jump hosts' connections.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.markLost(errors.New("closed"))
	return nil
}

// tempName returns a name for a temporary file from a safe character set.
func tempName() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 16)
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return conn.TempPrefix + string(b)
}
