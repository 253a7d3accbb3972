package sshconn_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/isaplay/isaplay/inventory/testcluster"
)

func dialErr(cfg sshconn.Config) (*sshconn.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return sshconn.Dial(ctx, cfg)
}

func run(t *testing.T, c *sshconn.Conn, script string) string {
	t.Helper()
	res, err := c.Run(context.Background(), conn.Command{Script: script})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run %q: %v, exit %d: %s", script, err, res.ExitCode, res.Stderr)
	}
	return string(res.Stdout)
}

func TestHostKeys(t *testing.T) {
	n := cluster.Nodes[1]
	fp := ssh.FingerprintSHA256(n.HostKey)

	t.Run("unknown key refused by default", func(t *testing.T) {
		for _, kh := range []string{filepath.Join(t.TempDir(), "missing"), writeFile(t, "other", "")} {
			cfg := config(cluster, 1)
			cfg.KnownHostsFile = kh
			_, err := dialErr(cfg)
			var hk *sshconn.HostKeyError
			if !errors.As(err, &hk) || hk.Changed {
				t.Fatalf("Dial with %s: err = %v, want an unknown-host-key error", kh, err)
			}
			for _, want := range []string{n.Name, kh, fp} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		}
	})

	t.Run("accept-new pins, then strict accepts", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "sub", "known_hosts")
		cfg := config(cluster, 1)
		cfg.KnownHostsFile = kh
		cfg.HostKeyPolicy = sshconn.AcceptNew
		c := dial(t, cfg)
		run(t, c, "true")
		b, err := os.ReadFile(kh)
		if err != nil {
			t.Fatal(err)
		}
		want := "[" + n.Address + "]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(n.HostKey))) + "\n"
		if string(b) != want {
			t.Fatalf("known_hosts = %q, want %q", b, want)
		}
		// OpenSSH's own client agrees with the line.
		out, err := exec.Command("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+kh,
			"-i", cluster.KeyFile, "-p", "2222", "root@"+n.Address, "echo", "ok").CombinedOutput()
		if err != nil || string(out) != "ok\n" {
			t.Fatalf("OpenSSH with the pinned known_hosts: %v: %s", err, out)
		}
		cfg.HostKeyPolicy = sshconn.Strict
		dial(t, cfg)
		if b2, _ := os.ReadFile(kh); !bytes.Equal(b, b2) {
			t.Fatalf("known_hosts changed on a second dial: %q", b2)
		}
	})

	t.Run("off warns", func(t *testing.T) {
		var warn bytes.Buffer
		cfg := config(cluster, 1)
		cfg.KnownHostsFile = filepath.Join(t.TempDir(), "none")
		cfg.HostKeyPolicy = sshconn.Off
		cfg.Warnings = &warn
		dial(t, cfg)
		if !strings.Contains(warn.String(), "WARNING") || !strings.Contains(warn.String(), fp) {
			t.Fatalf("warning = %q", warn.String())
		}
	})
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChangedHostKey(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{N: 1, Prefix: "chg"})
	// Pin with accept-new, then the node comes back with a new key.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	cfg := config(c, 0)
	cfg.KnownHostsFile = kh
	cfg.HostKeyPolicy = sshconn.AcceptNew
	dial(t, cfg).Close()
	if err := c.Nodes[0].Restart(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(c.Nodes[0].HostKey)
	for _, policy := range []sshconn.HostKeyPolicy{sshconn.Strict, sshconn.AcceptNew} {
		cfg.HostKeyPolicy = policy
		_, err := dialErr(cfg)
		var hk *sshconn.HostKeyError
		if !errors.As(err, &hk) || !hk.Changed {
			t.Fatalf("%s: err = %v, want a changed-host-key error", policy, err)
		}
		for _, want := range []string{c.Nodes[0].Name, kh, fp, "CHANGED"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not name %q", policy, err, want)
			}
		}
	}
	if b, _ := os.ReadFile(kh); strings.Count(string(b), "\n") != 1 {
		t.Fatalf("known_hosts was modified: %q", b)
	}
}

func TestJumpHost(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{N: 2, Prefix: "jmp"})
	jump := c.Nodes[0]
	cfg := config(c, 1)
	cfg.Jump = "root@" + jump.Address + ":2222"
	cfg.KeepaliveInterval = 200 * time.Millisecond
	tc := dial(t, cfg)
	if got := run(t, tc, "echo $SSH_CONNECTION"); !strings.Contains(got, c.Nodes[1].Address+" 2222") {
		t.Fatalf("SSH_CONNECTION = %q", got)
	}
	// Through an ssh config alias with ProxyJump naming another alias.
	sc := writeFile(t, "config", "Host bastion\n  HostName "+jump.Address+"\n  Port 2222\n  User root\n"+
		"Host target\n  HostName "+c.Nodes[1].Address+"\n  Port 2222\n  User root\n  IdentityFile "+c.KeyFile+"\n  ProxyJump bastion\n")
	ac := dial(t, sshconn.Config{Host: "target", SSHConfigFile: sc, KnownHostsFile: c.KnownHosts, NoAgent: true})
	run(t, ac, "true")
	// The traffic really goes through the jump host: when it dies, the target connection is lost.
	if err := jump.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*sshconn.Conn{tc, ac} {
		_, err := x.Run(context.Background(), conn.Command{Script: "true"})
		if !errors.Is(err, conn.ErrConnLost) {
			t.Fatalf("after the jump host died: err = %v, want ErrConnLost", err)
		}
	}
}

func TestSSHConfigAlias(t *testing.T) {
	n := cluster.Nodes[2]
	sc := writeFile(t, "config", "Host web-*\n  HostName "+n.Address+"\n  Port 2222\n  User root\n  IdentityFile "+cluster.KeyFile+"\n")
	c := dial(t, sshconn.Config{Host: "web-1", SSHConfigFile: sc, KnownHostsFile: cluster.KnownHosts, NoAgent: true})
	if got := run(t, c, "echo $SSH_CONNECTION"); !strings.Contains(got, n.Address+" 2222") {
		t.Fatalf("SSH_CONNECTION = %q", got)
	}
}

func TestAuth(t *testing.T) {
	t.Run("encrypted key with passphrase callback", func(t *testing.T) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "enc", []byte("s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		key := writeFile(t, "enc_key", string(pem.EncodeToMemory(block)))
		signer, _ := ssh.NewSignerFromKey(priv)
		c := testcluster.New(t, testcluster.Options{N: 1, Prefix: "auth"})
		f, err := os.OpenFile(filepath.Join(c.Dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(ssh.MarshalAuthorizedKey(signer.PublicKey()))
		f.Close()
		cfg := config(c, 0)
		cfg.IdentityFiles = []string{key}
		asked := 0
		cfg.Passphrase = func(string) ([]byte, error) { asked++; return []byte("s3cret"), nil }
		run(t, dial(t, cfg), "true")
		if asked != 1 {
			t.Fatalf("passphrase asked %d times", asked)
		}
	})
	t.Run("wrong key is not retried", func(t *testing.T) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		block, _ := ssh.MarshalPrivateKey(priv, "")
		cfg := config(cluster, 0)
		cfg.IdentityFiles = []string{writeFile(t, "k", string(pem.EncodeToMemory(block)))}
		cfg.Retries = 5
		cfg.RetryBackoff = 2 * time.Second
		start := time.Now()
		_, err := dialErr(cfg)
		if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Fatalf("err = %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("an auth failure was retried (%v)", time.Since(start))
		}
	})
	t.Run("refused connection is retried with backoff", func(t *testing.T) {
		cfg := config(cluster, 0)
		cfg.Port = 1 // nothing listens
		cfg.Retries = 2
		cfg.RetryBackoff = 100 * time.Millisecond
		start := time.Now()
		_, err := dialErr(cfg)
		if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("3 attempts with 100ms+200ms backoff took only %v", d)
		}
	})
}

// started is a writer that reports when the first byte arrives.
type started struct {
	once sync.Once
	ch   chan struct{}
}

func (s *started) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.ch) })
	return len(p), nil
}

func TestDeadNode(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(*testcluster.Node) error
		bound  time.Duration
	}{
		// A frozen server answers nothing: only keepalives can tell.
		{"SIGSTOP detected by keepalives", (*testcluster.Node).Stop, 3 * time.Second},
		{"SIGKILL of the node's process tree", (*testcluster.Node).Kill, 3 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.New(t, testcluster.Options{N: 1, Prefix: "dead"})
			cfg := config(c, 0)
			cfg.KeepaliveInterval = 200 * time.Millisecond
			cfg.KeepaliveCountMax = 3
			x := dial(t, cfg)
			s := &started{ch: make(chan struct{})}
			done := make(chan error, 1)
			go func() {
				_, err := x.Run(context.Background(), conn.Command{Script: "echo started; sleep 60", Stdout: s})
				done <- err
			}()
			<-s.ch
			start := time.Now()
			if err := tc.break_(c.Nodes[0]); err != nil {
				t.Fatal(err)
			}
			defer c.Nodes[0].Cont()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the running command did not fail within 10s")
			}
			if d := time.Since(start); d > tc.bound {
				t.Errorf("failure noticed after %v, want under %v", d, tc.bound)
			}
			if !errors.Is(err, conn.ErrConnLost) || !strings.Contains(err.Error(), c.Nodes[0].Name) {
				t.Fatalf("err = %v, want ErrConnLost naming %s", err, c.Nodes[0].Name)
			}
			t.Logf("after %v: %v", time.Since(start), err)
			// Every later call fails the same way, at once.
			if _, _, err := x.ReadFile(context.Background(), "/etc/hostname", false); !errors.Is(err, conn.ErrConnLost) {
				t.Fatalf("later ReadFile: %v", err)
			}
		})
	}
}

func TestAgent(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	// ssh-add retries until the agent listens.
	var out []byte
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		add := exec.Command("ssh-add", cluster.KeyFile)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err = add.CombinedOutput(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	t.Setenv("HOME", dir) // no default identity files
	cfg := config(cluster, 0)
	cfg.IdentityFiles = nil
	cfg.NoAgent = false
	run(t, dial(t, cfg), "true")
	cfg.NoAgent = true
	if _, err := dialErr(cfg); err == nil || !strings.Contains(err.Error(), "no authentication method") {
		t.Fatalf("without the agent: err = %v", err)
	}
}

func TestCancelKillsRemoteCommand(t *testing.T) {
	x := dial(t, config(cluster, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := x.Run(ctx, conn.Command{Script: "sleep 31337; echo never"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// Run returns once the command has ended on the host.
	if sleeping("31337") {
		t.Fatal("the remote command still runs after Run returned")
	}
	run(t, x, "true")
}

// A write batch runs to its end on the host even when its client gives up (the script ignores
// HUP and TERM, so that no file is left half-renamed). Its caller must therefore wait for it
// when the context ends meanwhile: returning at once would let a rollback restore files that
// the batch then renames over. The batch is held before its renames until the context has
// ended; WriteFiles must report every write made, and the shell must stay usable.
func TestCancelledWriteBatchRunsToItsEnd(t *testing.T) {
	x := dial(t, config(cluster, 1))
	dir := filepath.Join(cluster.NodeRoot(1), "tothend")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "f"), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"reached", "go"} {
		if err := exec.Command("mkfifo", filepath.Join(dir, f)).Run(); err != nil {
			t.Fatal(err)
		}
	}
	sshconn.SetBeforeRenames("echo > /opt/tothend/reached && read _g < /opt/tothend/go")
	defer sshconn.SetBeforeRenames("")

	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		made []bool
		err  error
	}
	done := make(chan result, 1)
	go func() {
		made, err := x.WriteFiles(ctx, []conn.FileWrite{
			{Path: "/opt/tothend/a/f", Data: []byte("new a"), Opts: conn.WriteOptions{UID: -1, GID: -1}},
			{Path: "/opt/tothend/b/f", Data: []byte("new b"), Opts: conn.WriteOptions{UID: -1, GID: -1}},
		})
		done <- result{made, err}
	}()
	// Reading the FIFO returns once the batch has reached its renames (or, should the batch
	// end before them, once this test writes to it itself).
	reached := make(chan error, 1)
	go func() {
		_, err := os.ReadFile(filepath.Join(dir, "reached"))
		reached <- err
	}()
	select {
	case err := <-reached:
		if err != nil {
			t.Fatal(err)
		}
	case r := <-done:
		os.WriteFile(filepath.Join(dir, "reached"), nil, 0)
		t.Fatalf("the batch ended before its renames: %v, %v", r.made, r.err)
	}
	cancel()
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte("\n"), 0); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || !r.made[0] || !r.made[1] {
		t.Fatalf("WriteFiles = %v, %v; want both made and no error (the batch ran to its end)", r.made, r.err)
	}
	for _, d := range []string{"a", "b"} {
		if b, err := os.ReadFile(filepath.Join(dir, d, "f")); err != nil || string(b) != "new "+d {
			t.Errorf("%s/f = %q, %v", d, b, err)
		}
	}
	if _, err := x.WriteFiles(ctx, []conn.FileWrite{{Path: "/opt/tothend/a/f", Data: []byte("later"), Opts: conn.WriteOptions{UID: -1, GID: -1}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("a batch asked for after the context ended: err = %v, want context.Canceled", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a", "f")); string(b) != "new a" {
		t.Errorf("a/f = %q after the refused batch", b)
	}
	run(t, x, "true")
}

// A write cancelled while its input is still being staged never begins: the caller gets
// the cancellation at once, not after the rest of the upload.
func TestCancelledWriteBeforeItBegins(t *testing.T) {
	x := dial(t, config(cluster, 1))
	marker := filepath.Join(cluster.NodeRoot(1), "never-begun")
	os.Remove(marker)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := x.ExecToEnd(ctx, ": > /opt/never-begun\nreturn 0", &conn.SizedReader{R: pr, N: 1 << 20})
		done <- err
	}()
	// Half of the announced input has been taken by the connection; the rest never comes.
	if _, err := pw.Write(make([]byte, 512<<10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the script ran (%v)", err)
	}
	run(t, x, "true")
}

// TestWriteBatchDiskFull: a batch that does not fit on the target's file system fails with the
// host's own reason, makes none of its writes and leaves nothing beside the targets.
func TestWriteBatchDiskFull(t *testing.T) {
	x := dial(t, config(cluster, 1))
	run(t, x, "mkdir -p /opt/full && mount -t tmpfs -o size=64k isaplay-full /opt/full && mkdir /opt/full/a /opt/full/b && echo old > /opt/full/a/f && echo old > /opt/full/b/f")
	defer run(t, x, "umount /opt/full && rmdir /opt/full")
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	made, err := x.WriteFiles(context.Background(), []conn.FileWrite{
		{Path: "/opt/full/a/f", Data: []byte("new a"), Opts: conn.WriteOptions{UID: -1, GID: -1}},
		{Path: "/opt/full/b/f", Data: big, Opts: conn.WriteOptions{UID: -1, GID: -1}},
	})
	// tar says "Wrote only N of M bytes" for the short write.
	if err == nil || !strings.Contains(err.Error(), "/opt/full/b/") {
		t.Fatalf("err = %v, want the host's complaint about /opt/full/b/f", err)
	}
	if made[0] || made[1] {
		t.Errorf("made = %v, want none", made)
	}
	if got := run(t, x, "cat /opt/full/a/f /opt/full/b/f; ls -A /opt/full/a /opt/full/b"); got != "old\nold\n/opt/full/a:\nf\n\n/opt/full/b:\nf\n" {
		t.Errorf("after the failed batch:\n%s", got)
	}
	// A single write fails the same way.
	if err := x.WriteFile(context.Background(), "/opt/full/b/f", big, conn.WriteOptions{UID: -1, GID: -1}); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("WriteFile: err = %v", err)
	}
	if got := run(t, x, "cat /opt/full/b/f; ls -A /opt/full/b"); got != "old\nf\n" {
		t.Errorf("after the failed write:\n%s", got)
	}
}

// sleeping reports whether a `sleep arg` process exists on the machine.
func sleeping(arg string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && string(b) == "sleep\x00"+arg+"\x00" {
			return true
		}
	}
	return false
}

// A daemon started by one command that keeps the command's output writes into the shell's
// stream later; that output must not end up in a later command's result.
func TestStrayOutputDropped(t *testing.T) {
	x := dial(t, config(cluster, 2))
	dir := filepath.Join(cluster.NodeRoot(2), "stray")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("mkfifo", filepath.Join(dir, "go")).Run(); err != nil {
		t.Fatal(err)
	}
	run(t, x, "{ read x < /opt/stray/go; echo STRAY; echo STRAY >&2; : > /opt/stray/done; } &")
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte("\n"), 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background process did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	res, err := x.Run(context.Background(), conn.Command{Script: "echo clean; echo err >&2"})
	if err != nil || string(res.Stdout) != "clean\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("next command: %q %q %v", res.Stdout, res.Stderr, err)
	}
	if _, data, err := x.ReadFile(context.Background(), "/opt/stray/done", false); err != nil || len(data) != 0 {
		t.Fatalf("ReadFile after stray output: %q %v", data, err)
	}
}

// A server with several host keys must be asked for the kind known_hosts holds, not look changed.
func TestSeveralHostKeys(t *testing.T) {
	dir := t.TempDir()
	var extra []string
	for _, kt := range []string{"ecdsa", "rsa"} {
		f := filepath.Join(dir, kt)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", kt, "-N", "", "-f", f).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		extra = append(extra, "HostKey "+f)
	}
	c := testcluster.New(t, testcluster.Options{N: 1, Prefix: "keys", SSHDConfig: strings.Join(extra, "\n")})
	// known_hosts holds only the node's ed25519 key.
	run(t, dial(t, config(c, 0)), "true")
}

// StatHash stats every path in one round trip and hashes only the regular files asked with a hash.
func TestStatHash(t *testing.T) {
	c := dial(t, config(cluster, 0))
	root := filepath.Join(cluster.NodeRoot(0), "stathash")
	if err := os.MkdirAll(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths := []string{"/opt/stathash/a", "/opt/stathash/b", "/opt/stathash/missing", "/opt/stathash/d"}
	got, err := c.StatHash(context.Background(), paths, []bool{true, false, true, true})
	if err != nil {
		t.Fatal(err)
	}
	sumA := sha256.Sum256([]byte("a"))
	if got[0].SHA256 != hex.EncodeToString(sumA[:]) || got[1].SHA256 != "" || !got[1].Exists {
		t.Errorf("a: %+v, b: %+v; want a hashed, b stat'd without a hash", got[0], got[1])
	}
	if got[2].Exists || got[3].Type != conn.TypeDir {
		t.Errorf("missing: %+v, d: %+v", got[2], got[3])
	}
}

// A Sized standard input that ends before its Len is an error of the command, and the
// connection goes on with another shell (the one that waited for the missing bytes is gone).
func TestShortSizedStdin(t *testing.T) {
	x := dial(t, config(cluster, 2))
	out := filepath.Join(cluster.NodeRoot(2), "short-input")
	os.Remove(out)
	_, err := x.Run(context.Background(), conn.Command{Script: "cat >/opt/short-input",
		Stdin: &conn.SizedReader{R: bytes.NewReader(make([]byte, 10)), N: 20}})
	if err == nil || !strings.Contains(err.Error(), "10 of 20 bytes sent") {
		t.Fatalf("Run: %v, want an error about the missing bytes", err)
	}
	// The command never ran on the 10 bytes that came.
	x.Run(context.Background(), conn.Command{Script: "true"}) // the host has let go of that shell
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("the command ran on a short input (%v)", err)
	}
	res, err := x.Run(context.Background(), conn.Command{Script: "echo still"})
	if err != nil || string(res.Stdout) != "still\n" {
		t.Fatalf("next command: %q %v", res.Stdout, err)
	}
}
