package sshconn

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/isaplay/isaplay/inventory/conn"
)

// The framed shell: one long-lived `sh` per SSH session runs many commands, so that opening a
// session (a channel, an exec request, sshd forking the login shell) is paid once per shell,
// not once per command.
//
// Stray output (a daemon started by an earlier command that kept its standard output) cannot be
// told apart from the current command's; what arrives between commands is dropped thanks to a
// start line "\x00<marker><\n" printed before each command, and ReadFile checks the archive's exact
// length. Commands that start daemons should redirect their output.
//
// Protocol, client to shell, per command: one line "<n> <how> <word>\n" where <word> is the
// script as a single-line shell word (see encodeWord), <n> is the length of the standard input
// that follows (-1: none, the command reads /dev/null), and <how> is one of the three below.
// A long script of isaplay's own ("p" or "s") comes instead as "@<length>" and its bytes, before
// the standard input: the shell stages it with dd and runs it as a dot script (the shell's read
// takes a line one byte per system call, which for a batch of writes was 20 KB of them).
//   - "x": the script runs with `sh -c` in the background and the loop waits for it (commands:
//     exactly sh -c's semantics, $$ included; a TERM, sent when a caller gives up, reaches the
//     loop at once and it kills its process group);
//   - "p": the same in a subshell of the loop, `( eval "$s" ) &`, which saves the exec of a new
//     sh (isaplay's own scripts, see conn.Command.Subshell: $$ is the loop's);
//   - "s": the script runs as a shell function inside the loop (isaplay's own file scripts,
//     written for it: they return instead of exiting and name their variables _*; this saves
//     the fork too).
//
// The shell stages exactly n bytes into a private temporary directory with dd
// (iflag=fullblock,count_bytes reads no byte past them; its count of bytes copied must be n,
// so that a stream cut short runs nothing: the loop exits instead), prints "\x00<marker><\n"
// on both streams, and runs the script with that file as standard input; its standard output
// and error go straight to the channel. Then it prints "\x00<marker> <exit code>\n" on stdout
// and "\x00<marker>\n" on stderr. The marker is 128 random bits, fresh per shell; the client
// splits the streams at it, so output is binary-safe and can be streamed.
const loopScript = `M=$1; shift
W=${TMPDIR:-/tmp}/.$M
trap '[ ! -d "$W" ] || rm -rf "$W"' EXIT
` + loopTrap + `
NL='
'
stage() {
	LC_ALL=C dd of="$1" bs=65536 count="$2" iflag=fullblock,count_bytes 2>"$W/e" || return
	c=
	while read -r w _; do c=$w; done <"$W/e"
	[ "$c" = "$2" ]
}
printf '\000%s %s\n' "$M" "$$"
printf '\000%s\n' "$M" >&2
IFS= read -r h || exit 0
[ "$h" = "HELLO $M" ] || exit 96
printf '\000%s ok\n' "$M"
while IFS= read -r h; do
	n=${h%% *}; h=${h#* }
	x=${h%% *}; h=${h#* }
	i=/dev/null f=
	case $h in @*) f=$W/s ;; esac
	if [ -n "$f" ] || [ "$n" -ge 0 ]; then
		[ -d "$W" ] || mkdir -m 700 "$W" || exit 97
	fi
	if [ -n "$f" ]; then
		stage "$f" "${h#@}" || exit 95
	else
		eval "s=$h"
	fi
	if [ "$n" -ge 0 ]; then
		i=$W/i
		if [ "$n" -eq 0 ]; then : >"$i"; else stage "$i" "$n" || exit 95; fi
	fi
	printf '\000%s<\n' "$M"
	printf '\000%s<\n' "$M" >&2
	if [ "$x" = s ] && [ -n "$f" ]; then
		. "$f" <"$i"
		r=$?
	elif [ "$x" = s ]; then
		eval "_f() {
$s
}"
		_f <"$i"
		r=$?
	else
		if [ "$x" = x ]; then sh -c "$s" <"$i" &
		elif [ -n "$f" ]; then ( . "$f" ) <"$i" &
		else ( eval "$s" ) <"$i" &
		fi
		wait $! 2>/dev/null
		r=$?
	fi
	printf '\000%s %d\n' "$M" "$r"
	printf '\000%s\n' "$M" >&2
done`

// loopTrap is how the framed loop handles HUP and TERM: it kills its process group (the running
// command) and exits. Scripts that must not be cut short (uninterrupted) set and restore it.
const loopTrap = `trap 'trap "" HUP TERM; kill -TERM 0; exit 98' HUP TERM`

// uninterrupted wraps a file script (a shell function body that returns) so that it runs to
// its end even when the controller goes away: HUP, TERM and PIPE are ignored meanwhile (its
// commands inherit that), so a write whose client died still cleans up after itself instead
// of dying half-way; its output must come at its end.
func uninterrupted(script string) string {
	return "trap '' HUP TERM PIPE\n_f2() {\n" + script + "\n}\n_f2\n_rr=$?\n" + loopTrap + "\ntrap - PIPE\nreturn $_rr"
}

// encodeWord turns a script into one line that `eval "s=<line>"` turns back into the script:
// each line quoted with conn.Quote, joined by "$NL" (a newline held in a variable).
func encodeWord(script string) string {
	parts := strings.Split(script, "\n")
	for i, p := range parts {
		parts[i] = conn.Quote(p)
	}
	return strings.Join(parts, `"$NL"`)
}

// shell is one framed sh on its own session.
type shell struct {
	sess   *ssh.Session
	stdin  io.WriteCloser
	out    *framer
	errs   chan errFrame // stderr of each command, split at the marker by a reader goroutine
	marker []byte        // "\x00" + marker, the start of both end lines
	pid    int           // the loop's process id on the host
	become bool
	broken bool
	gone   chan struct{} // closed when the server has closed the session
}

type errFrame struct {
	data []byte
	err  error
}

func newMarker() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "isaplay-end-" + hex.EncodeToString(b)
}

// startShell opens a session running the framed loop, as the login user or through sudo.
func (c *Conn) startShell(ctx context.Context, become bool) (*shell, error) {
	if become && c.uid == 0 {
		become = false
	}
	// Once sudo has asked for a password, later root shells give it at once.
	if become && c.cfg.BecomePassword != "" && c.sudoNeedsPassword.Load() {
		return c.openShell(ctx, become, true)
	}
	sh, err := c.openShell(ctx, become, false)
	if err != nil && become && c.cfg.BecomePassword != "" && errors.Is(err, errSudoNeedsPassword) {
		c.sudoNeedsPassword.Store(true)
		sh, err = c.openShell(ctx, become, true)
	}
	return sh, err
}

var errSudoNeedsPassword = errors.New("sudo needs a password")

func (c *Conn) openShell(ctx context.Context, become, withPassword bool) (*shell, error) {
	sess, err := c.newSession(ctx)
	if err != nil {
		return nil, err
	}
	stdin, err1 := sess.StdinPipe()
	stdout, err2 := sess.StdoutPipe()
	stderr, err3 := sess.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		sess.Close()
		return nil, err
	}
	m := newMarker()
	cmd := "exec sh -c " + conn.Quote(loopScript) + " isaplay " + m
	switch {
	case become && withPassword:
		cmd = "exec sudo -k -S -p '' -- sh -c " + conn.Quote(loopScript) + " isaplay " + m
	case become:
		cmd = "exec sudo -n -- sh -c " + conn.Quote(loopScript) + " isaplay " + m
	}
	if err := sess.Start(cmd); err != nil {
		sess.Close()
		return nil, c.lostOr(ctx, fmt.Errorf("start shell: %w", err))
	}
	sh := &shell{sess: sess, stdin: stdin, out: &framer{r: stdout}, errs: make(chan errFrame, 1),
		marker: []byte("\x00" + m), become: become, gone: make(chan struct{})}
	go func() {
		sess.Wait()
		close(sh.gone)
	}()
	// Until the banner, stderr is sudo's: keep it for the error message, and watch it for a
	// rejected password (sudo would otherwise wait for another try).
	var preErr []byte
	rejected := make(chan struct{})
	go func(rejected chan struct{}) {
		f := &framer{r: stderr}
		endMark := append(append([]byte{}, sh.marker...), '\n')
		var err error
		for {
			if i := bytes.Index(f.buf, endMark); i >= 0 {
				preErr = append([]byte(nil), f.buf[:i]...)
				f.buf = f.buf[i+len(endMark):]
				break
			}
			if rejected != nil && (bytes.Contains(f.buf, []byte("Sorry, try again")) || bytes.Contains(f.buf, []byte("incorrect password"))) {
				close(rejected)
				rejected = nil
			}
			if err = f.fill(); err != nil {
				preErr = append([]byte(nil), f.buf...)
				break
			}
		}
		startMark := append(append([]byte{}, sh.marker...), '<', '\n')
		for err == nil {
			var b bytes.Buffer
			if err = f.until(startMark, io.Discard); err != nil {
				break
			}
			if err = f.until(endMark, &b); err == nil {
				sh.errs <- errFrame{data: b.Bytes()}
			}
		}
		sh.errs <- errFrame{err: err}
		close(sh.errs)
	}(rejected)
	// The loop checks that its first line is its HELLO, so that a password sudo did not ask
	// for is never taken as a command. sudo -S reads exactly one line, the password; the HELLO
	// then follows once the loop is up. Without a password the HELLO goes at once, saving a
	// round trip.
	first := "HELLO " + m + "\n"
	if withPassword {
		first = c.cfg.BecomePassword + "\n"
	}
	if _, err := io.WriteString(stdin, first); err != nil && withPassword {
		sess.Close()
		return nil, c.lostOr(ctx, fmt.Errorf("start shell: %w", err))
	}
	// (A HELLO that finds the session already gone, e.g. sudo -n refusing, is reported below
	// from what the session said.)
	banner := make(chan error, 1)
	go func() {
		if err := sh.out.until(sh.marker, io.Discard); err != nil {
			banner <- err
			return
		}
		line, err := sh.out.line()
		if err == nil {
			sh.pid, err = strconv.Atoi(strings.TrimSpace(line))
		}
		banner <- err
	}()
	select {
	case err = <-banner:
	case <-rejected:
		sess.Close()
		for range sh.errs {
		}
		return nil, fmt.Errorf("become: sudo rejected the become password")
	case <-ctx.Done():
		sess.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		sess.Close()
		// Let the stderr reader finish so sudo's complaint is complete.
		for range sh.errs {
		}
		msg := strings.TrimSpace(string(preErr))
		if become && strings.Contains(msg, "password is required") {
			if c.cfg.BecomePassword == "" {
				return nil, fmt.Errorf("become: sudo needs a password and none was given: %w", errSudoNeedsPassword)
			}
			return nil, fmt.Errorf("become: %w", errSudoNeedsPassword)
		}
		if become && (strings.Contains(msg, "incorrect password") || strings.Contains(msg, "Sorry, try again")) {
			return nil, fmt.Errorf("become: sudo rejected the become password")
		}
		if msg != "" {
			return nil, c.lostOr(ctx, fmt.Errorf("start shell: %s", msg))
		}
		return nil, c.lostOr(ctx, fmt.Errorf("start shell: %w", err))
	}
	if withPassword {
		if _, err := io.WriteString(stdin, "HELLO "+m+"\n"); err != nil {
			sess.Close()
			return nil, c.lostOr(ctx, fmt.Errorf("start shell: %w", err))
		}
	}
	ack := make(chan error, 1)
	go func() {
		err := sh.out.until(sh.marker, io.Discard)
		if err == nil {
			var line string
			if line, err = sh.out.line(); err == nil && line != " ok" {
				err = fmt.Errorf("unexpected %q", line)
			}
		}
		ack <- err
	}()
	select {
	case err = <-ack:
	case <-ctx.Done():
		sess.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		sess.Close()
		if withPassword {
			// The loop, not sudo, read the password line (and refused it as its HELLO).
			return nil, fmt.Errorf("become: sudo did not ask for the password it was given")
		}
		return nil, c.lostOr(ctx, fmt.Errorf("start shell: %w", err))
	}
	return sh, nil
}

// newSession opens a session. A refusal is retried briefly: the server may still be closing a
// session this client already let go of.
func (c *Conn) newSession(ctx context.Context) (*ssh.Session, error) {
	wait := 2 * time.Millisecond
	for i := 0; ; i++ {
		sess, err := c.client.NewSession()
		if err == nil {
			return sess, nil
		}
		var oe *ssh.OpenChannelError
		if !errors.As(err, &oe) || i >= 10 {
			return nil, c.lostOr(ctx, fmt.Errorf("open session: %w", err))
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// stagedScript is the length above which a script of isaplay's own is staged with dd rather
// than read by the shell's read, which costs a system call per byte: one dd is cheaper than
// about 2 KB of those.
var stagedScript = 4096

// How a script runs in the loop (see loopScript).
const (
	runCommand  = 'x' // sh -c
	runSubshell = 'p' // ( eval )
	runFunction = 's' // a function of the loop
)

// input is a command's standard input: none (n < 0), the bytes data, or n bytes read from r as
// they are sent.
type input struct {
	n    int64
	data []byte
	r    io.Reader
}

var noInput = input{n: -1}

func bytesInput(b []byte) input { return input{n: int64(len(b)), data: b} }

// run runs one script on the shell, in the way how says. stdout, when set, receives standard
// output as it arrives. began is closed once the input is staged and the script begins. An
// error means the shell is no longer usable.
func (sh *shell) run(script string, how byte, in input, stdout io.Writer, began chan<- struct{}) (conn.Result, error) {
	var res conn.Result
	if strings.IndexByte(script, 0) >= 0 {
		return res, fmt.Errorf("script contains a NUL byte")
	}
	msg := make([]byte, 0, 32+len(script)+len(in.data))
	msg = strconv.AppendInt(msg, in.n, 10)
	msg = append(msg, ' ', how, ' ')
	if how != runCommand && len(script) > stagedScript {
		msg = append(msg, '@')
		msg = strconv.AppendInt(msg, int64(len(script)), 10)
		msg = append(msg, '\n')
		msg = append(msg, script...)
	} else {
		msg = append(msg, encodeWord(script)...)
		msg = append(msg, '\n')
	}
	msg = append(msg, in.data...)
	// Writing and reading overlap: a large stdin must not wait for output to be read.
	werr := make(chan error, 1)
	go func() {
		_, err := sh.stdin.Write(msg)
		if err == nil && in.r != nil {
			var k int64
			k, err = io.CopyN(sh.stdin, in.r, in.n)
			if err != nil {
				// The shell waits for the bytes announced: end the session, so that the reads
				// below end too, after saying why.
				werr <- fmt.Errorf("standard input: %d of %d bytes sent: %w", k, in.n, err)
				sh.sess.Close()
				return
			}
		}
		werr <- err
	}()
	// A read that fails because the writer ended the session reports the writer's error.
	readErr := func(err error) error {
		select {
		case w := <-werr:
			if w != nil {
				return w
			}
		default:
		}
		return err
	}
	var buf bytes.Buffer
	w := io.Writer(&buf)
	if stdout != nil {
		w = stdout
	}
	// Anything before the start line was written by a background process of an earlier
	// command after it ended: it belongs to no command and is dropped.
	if err := sh.out.until(append(append([]byte{}, sh.marker...), '<', '\n'), io.Discard); err != nil {
		return res, readErr(err)
	}
	close(began) // the input is staged and the script begins
	if err := sh.out.until(append(sh.marker, ' '), w); err != nil {
		return res, readErr(err)
	}
	line, err := sh.out.line()
	if err != nil {
		return res, readErr(err)
	}
	if res.ExitCode, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		return res, fmt.Errorf("bad exit status line %q", line)
	}
	ef, ok := <-sh.errs
	if !ok || ef.err != nil {
		return res, errors.Join(io.ErrUnexpectedEOF, ef.err)
	}
	if err := <-werr; err != nil {
		return res, err
	}
	if stdout == nil {
		res.Stdout = buf.Bytes()
	}
	res.Stderr = ef.data
	return res, nil
}

func (sh *shell) close() {
	sh.broken = true
	sh.stdin.Close()
	sh.sess.Close()
}

// framer reads a stream split by markers.
type framer struct {
	r   io.Reader
	buf []byte // read but not yet consumed
	tmp []byte
}

// until copies everything before marker to w (as it arrives, holding back only what could be
// the start of the marker) and consumes the marker.
func (f *framer) until(marker []byte, w io.Writer) error {
	for {
		if i := bytes.Index(f.buf, marker); i >= 0 {
			if _, err := w.Write(f.buf[:i]); err != nil {
				return err
			}
			f.buf = f.buf[i+len(marker):]
			if len(f.buf) == 0 {
				f.buf = nil // let a large output's buffer go between commands
			}
			return nil
		}
		// Everything but a possible start of the marker at the end can go out now.
		keep := 0
		for k := min(len(marker)-1, len(f.buf)); k > 0; k-- {
			if f.buf[len(f.buf)-k] == marker[0] && bytes.HasPrefix(marker, f.buf[len(f.buf)-k:]) {
				keep = k
				break
			}
		}
		if flush := len(f.buf) - keep; flush > 0 {
			if _, err := w.Write(f.buf[:flush]); err != nil {
				return err
			}
			f.buf = append(f.buf[:0], f.buf[flush:]...)
		}
		if err := f.fill(); err != nil {
			return err
		}
	}
}

// fill reads more bytes into the buffer.
func (f *framer) fill() error {
	if f.tmp == nil {
		f.tmp = make([]byte, 8*1024) // one per stream and shell: hundreds of hosts add up
	}
	for {
		n, err := f.r.Read(f.tmp)
		f.buf = append(f.buf, f.tmp[:n]...)
		if n > 0 {
			return nil
		}
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
}

// line reads up to and including the next newline and returns it without the newline.
func (f *framer) line() (string, error) {
	var b bytes.Buffer
	if err := f.until([]byte("\n"), &b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// shellPool hands out idle shells, starting new ones up to the session limit.
type shellPool struct {
	mu      sync.Mutex
	idle    map[bool][]*shell // by become
	live    int
	peak    int
	max     int
	waiters []chan struct{}
	closed  bool
}

func (p *shellPool) wake() {
	for _, w := range p.waiters {
		close(w)
	}
	p.waiters = nil
}
