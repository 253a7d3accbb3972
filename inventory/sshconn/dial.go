package sshconn

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/term"
)

// HostKeyError is returned when a host's key is unknown (under Strict) or has changed.
type HostKeyError struct {
	// Host is the inventory name and Address the host:port that offered the key.
	Host, Address string
	// KnownHosts is the file checked.
	KnownHosts string
	// Fingerprint is the SHA256 fingerprint of the offered key.
	Fingerprint string
	// Changed is true when known_hosts holds a different key for the host.
	Changed bool
	// Line is where the known key is (for Changed).
	Line int
}

func (e *HostKeyError) Error() string {
	if e.Changed {
		return fmt.Sprintf("host key for %s (%s) has CHANGED: %s:%d holds a different key; offered key %s; refusing to connect (if the change is expected, remove that line)",
			e.Host, e.Address, e.KnownHosts, e.Line, e.Fingerprint)
	}
	return fmt.Sprintf("host key for %s (%s) is unknown: not in %s; offered key %s (verify it, then add it or use --host-key=accept-new)",
		e.Host, e.Address, e.KnownHosts, e.Fingerprint)
}

// knownHostsMu serialises appends to known_hosts files within this process.
var knownHostsMu sync.Mutex

// knownHostsCache keeps each parsed known_hosts file while it is unchanged: parsing it for every
// host would cost O(N^2) key parses for N hosts.
var knownHostsCache struct {
	sync.Mutex
	m map[string]knownHostsEntry
}

type knownHostsEntry struct {
	cb   ssh.HostKeyCallback
	mod  time.Time
	size int64
}

// knownHosts returns the checking callback for file, parsing it only when it changed.
func knownHosts(file string) (ssh.HostKeyCallback, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	knownHostsCache.Lock()
	defer knownHostsCache.Unlock()
	if e, ok := knownHostsCache.m[file]; ok && e.mod.Equal(st.ModTime()) && e.size == st.Size() {
		return e.cb, nil
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, err
	}
	if knownHostsCache.m == nil {
		knownHostsCache.m = map[string]knownHostsEntry{}
	}
	knownHostsCache.m[file] = knownHostsEntry{cb, st.ModTime(), st.Size()}
	return cb, nil
}

// hostKeyCallback checks keys against the known_hosts file under the policy.
func hostKeyCallback(r *resolved, name string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		fp := ssh.FingerprintSHA256(key)
		if r.HostKeyPolicy == Off {
			fmt.Fprintf(r.Warnings, "WARNING: host key checking is off: accepting key %s from %s (%s) without verification\n", fp, name, hostname)
			return nil
		}
		knownHostsMu.Lock()
		defer knownHostsMu.Unlock()
		file := r.KnownHostsFile
		if _, err := os.Stat(file); os.IsNotExist(err) {
			if r.HostKeyPolicy != AcceptNew {
				return &HostKeyError{Host: name, Address: hostname, KnownHosts: file, Fingerprint: fp}
			}
			return appendKnownHost(file, hostname, key)
		}
		cb, err := knownHosts(file)
		if err != nil {
			return fmt.Errorf("known hosts: %w", err)
		}
		err = cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			if len(ke.Want) > 0 {
				return &HostKeyError{Host: name, Address: hostname, KnownHosts: ke.Want[0].Filename, Line: ke.Want[0].Line,
					Fingerprint: fp, Changed: true}
			}
			if r.HostKeyPolicy == AcceptNew {
				return appendKnownHost(file, hostname, key)
			}
			return &HostKeyError{Host: name, Address: hostname, KnownHosts: file, Fingerprint: fp}
		}
		return err
	}
}

// appendKnownHost pins key for hostname ("host:port") as OpenSSH does: "[host]:port" for a
// port other than 22.
func appendKnownHost(file, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("known hosts: %w", err)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("known hosts: %w", err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("known hosts: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("known hosts: %w", err)
	}
	return nil
}

// probeKey is a key no host has, offered to the known_hosts check to learn which keys it knows.
var probeKey = func() ssh.PublicKey {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := ssh.NewPublicKey(pub)
	return k
}()

// knownAlgorithms returns the host key algorithms of the keys known_hosts holds for addr, so the
// server is asked for a key that can be checked (as OpenSSH does); a server with several host
// keys would otherwise offer one known_hosts lacks, and look changed. Nil when none are known.
func knownAlgorithms(r *resolved, addr string) []string {
	if r.HostKeyPolicy == Off {
		return nil
	}
	cb, err := knownHosts(r.KnownHostsFile)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(cb(addr, &net.TCPAddr{}, probeKey), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		types := []string{k.Key.Type()}
		if types[0] == ssh.KeyAlgoRSA {
			types = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, t := range types {
			if !seen[t] {
				seen[t] = true
				algos = append(algos, t)
			}
		}
	}
	return algos
}

// authMethods builds the client auth: one publickey method with the agent's keys and the
// identity files (x/crypto tries one method per name), then password when given.
func authMethods(r *resolved) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	var keyErrs []error
	for _, f := range r.IdentityFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, nil, fmt.Errorf("identity file: %w", err)
		}
		s, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			pass, perr := askPassphrase(r, f)
			if perr != nil {
				keyErrs = append(keyErrs, fmt.Errorf("identity file %s: %w", f, perr))
				continue
			}
			s, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("identity file %s: %w", f, err)
		}
		signers = append(signers, s)
	}
	var agentConn net.Conn
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" && !r.NoAgent {
		if c, err := net.Dial("unix", sock); err == nil {
			agentConn = c
		}
	}
	closer := func() {
		if agentConn != nil {
			agentConn.Close()
		}
	}
	var methods []ssh.AuthMethod
	if agentConn != nil || len(signers) > 0 {
		ac := agentConn
		methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			out := append([]ssh.Signer(nil), signers...)
			if ac != nil {
				if as, err := agent.NewClient(ac).Signers(); err == nil {
					out = append(out, as...)
				}
			}
			return out, nil
		}))
	}
	if r.Password != "" {
		methods = append(methods, ssh.Password(r.Password))
	}
	if len(methods) == 0 {
		closer()
		if len(keyErrs) > 0 {
			return nil, nil, errors.Join(keyErrs...)
		}
		return nil, nil, fmt.Errorf("no authentication method: no ssh-agent, no usable identity file, no password")
	}
	return methods, closer, nil
}

func askPassphrase(r *resolved, file string) ([]byte, error) {
	if r.Passphrase != nil {
		return r.Passphrase(file)
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, fmt.Errorf("key is encrypted and there is no terminal to ask its passphrase")
	}
	passphraseMu.Lock()
	defer passphraseMu.Unlock()
	fmt.Fprintf(os.Stderr, "Enter passphrase for key %s: ", file)
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return p, err
}

// passphraseMu keeps parallel connections from prompting at once.
var passphraseMu sync.Mutex

// permanent marks connect errors that retrying cannot fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// dialClient connects and authenticates to addr ("host:port") over the given dialer function,
// with retries and backoff for network failures.
func dialClient(ctx context.Context, r *resolved, name, user, addr string, dial func(ctx context.Context) (net.Conn, error)) (*ssh.Client, error) {
	methods, closeAgent, err := authMethods(r)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	cfg := &ssh.ClientConfig{
		User:              user,
		Auth:              methods,
		HostKeyCallback:   hostKeyCallback(r, name),
		HostKeyAlgorithms: knownAlgorithms(r, addr),
		Timeout:           r.ConnectTimeout,
	}
	backoff := r.RetryBackoff
	var last error
	for attempt := 0; attempt <= r.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		c, err := handshake(ctx, r, cfg, addr, dial)
		if err == nil {
			return c, nil
		}
		last = err
		var p permanent
		if errors.As(err, &p) || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w (after %d attempts)", last, r.Retries+1)
}

func handshake(ctx context.Context, r *resolved, cfg *ssh.ClientConfig, addr string, dial func(ctx context.Context) (net.Conn, error)) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, r.ConnectTimeout)
	defer cancel()
	nc, err := dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	// The handshake obeys the same deadline, and a cancelled context aborts it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, permanent{hk}
		}
		if ctx.Err() != nil && ctx.Err() != context.DeadlineExceeded {
			return nil, ctx.Err()
		}
		if isAuthError(err) {
			return nil, permanent{fmt.Errorf("ssh %s: %w", addr, err)}
		}
		return nil, fmt.Errorf("ssh handshake %s: %w", addr, err)
	}
	if !stop() {
		sc.Close()
		return nil, fmt.Errorf("ssh handshake %s: %w", addr, ctx.Err())
	}
	nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

func isAuthError(err error) bool {
	var se *ssh.ServerAuthError
	if errors.As(err, &se) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "unable to authenticate") || strings.Contains(s, "no supported methods remain")
}

// dialChain connects through the jump hosts, if any, to the target.
func dialChain(ctx context.Context, r *resolved) (*ssh.Client, []*ssh.Client, error) {
	var jumps []*ssh.Client
	fail := func(err error) (*ssh.Client, []*ssh.Client, error) {
		for i := len(jumps) - 1; i >= 0; i-- {
			jumps[i].Close()
		}
		return nil, nil, err
	}
	var through *ssh.Client
	netDial := func(addr string) func(ctx context.Context) (net.Conn, error) {
		return func(ctx context.Context) (net.Conn, error) {
			if through != nil {
				return through.DialContext(ctx, "tcp", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	for _, j := range r.jumps {
		jr, err := resolve(Config{Address: j.host, Port: j.port, User: j.user, Jump: "none",
			KnownHostsFile: r.KnownHostsFile, HostKeyPolicy: r.HostKeyPolicy, Warnings: r.Warnings,
			IdentityFiles: r.Config.IdentityFiles, SSHConfigFile: r.SSHConfigFile, NoAgent: r.NoAgent,
			ConnectTimeout: r.ConnectTimeout, Retries: r.Retries, RetryBackoff: r.RetryBackoff, Passphrase: r.Passphrase})
		if err != nil {
			return fail(fmt.Errorf("jump host %s: %w", j.host, err))
		}
		addr := net.JoinHostPort(jr.hostname, strconv.Itoa(jr.Port))
		c, err := dialClient(ctx, jr, "jump host "+j.host, jr.User, addr, netDial(addr))
		if err != nil {
			return fail(fmt.Errorf("jump host %s: %w", addr, err))
		}
		jumps = append(jumps, c)
		through = c
	}
	addr := net.JoinHostPort(r.hostname, strconv.Itoa(r.Port))
	c, err := dialClient(ctx, r, r.name(), r.User, addr, netDial(addr))
	if err != nil {
		return fail(err)
	}
	return c, jumps, nil
}
