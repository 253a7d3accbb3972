package sshconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/isaplay/isaplay/inventory/testcluster"
)

const (
	becomeUser = "isaplaybecome"
	// becomePassword has characters a command line would have to quote.
	becomePassword = "s3cr'et pa$$ \"w0rd\""
	sudoLog        = "/var/log/isaplay-test-sudo.log"
)

// becomeSetup creates a login user whose sudo asks for a password, and a cluster logging in as it
// whose sshd logs every command it runs (ForceCommand wrapper). It needs root and sudo
// (testdata/cluster/install.sh installs it).
func becomeSetup(t *testing.T) (*testcluster.Cluster, string) {
	t.Helper()
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Fatalf("sudo is not installed (run testdata/cluster/install.sh): %v", err)
	}
	if exec.Command("id", becomeUser).Run() != nil {
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", becomeUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
	}
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(becomeUser + ":" + becomePassword + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	sudoers := "/etc/sudoers.d/isaplay-test"
	rule := becomeUser + " ALL=(ALL:ALL) ALL\nDefaults:" + becomeUser + " logfile=" + sudoLog + ", log_year, !syslog\n"
	if err := os.WriteFile(sudoers, []byte(rule), 0o440); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("visudo", "-cf", sudoers).CombinedOutput(); err != nil {
		os.Remove(sudoers)
		t.Fatalf("visudo: %v: %s", err, out)
	}
	os.Remove(sudoLog)

	dir, err := os.MkdirTemp("", "isaplay-become-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	wrapper, err := os.ReadFile("../../testdata/cluster/logcmd.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logcmd.sh"), wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	cmdLog := filepath.Join(dir, "commands.log")
	if err := os.WriteFile(cmdLog, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(cmdLog, 0o666)
	c := testcluster.New(t, testcluster.Options{N: 1, Prefix: "become", Dir: dir, User: becomeUser,
		SSHDConfig: "ForceCommand " + filepath.Join(dir, "logcmd.sh") + " " + cmdLog})
	return c, cmdLog
}

func TestBecome(t *testing.T) {
	c, cmdLog := becomeSetup(t)
	cfg := config(c, 0)
	cfg.User = becomeUser

	t.Run("no password", func(t *testing.T) {
		x := dial(t, cfg)
		if got := run(t, x, "id -un"); got != becomeUser+"\n" {
			t.Fatalf("login user %q", got)
		}
		_, err := x.Run(context.Background(), conn.Command{Script: "id -u", Become: true})
		if err == nil || !strings.Contains(err.Error(), "needs a password") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		bad := cfg
		bad.BecomePassword = "wrong"
		x := dial(t, bad)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := x.Run(ctx, conn.Command{Script: "id -u", Become: true})
		if err == nil || !strings.Contains(err.Error(), "rejected") {
			t.Fatalf("err = %v", err)
		}
	})

	good := cfg
	good.BecomePassword = becomePassword
	x := dial(t, good)
	root := c.NodeRoot(0)
	if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "app", "secret.conf"), []byte("root only\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("runs as root", func(t *testing.T) {
		res, err := x.Run(context.Background(), conn.Command{Script: "id -u; pwd", Become: true})
		if err != nil || string(res.Stdout) != "0\n/home/"+becomeUser+"\n" || res.ExitCode != 0 {
			t.Fatalf("become: %q %q %v", res.Stdout, res.Stderr, err)
		}
	})
	t.Run("stdin reaches the command intact", func(t *testing.T) {
		in := append([]byte("first line\n"), 0, 1, 2, '\r', '\n', 0xff)
		res, err := x.Run(context.Background(), conn.Command{Script: "cat", Stdin: bytes.NewReader(in), Become: true})
		if err != nil || !bytes.Equal(res.Stdout, in) {
			t.Fatalf("stdin through sudo: %q, %v", res.Stdout, err)
		}
	})
	t.Run("read and write root's files", func(t *testing.T) {
		if _, _, err := x.ReadFile(context.Background(), "/opt/app/secret.conf", false); err == nil {
			t.Fatal("the login user read a root-only file without become")
		}
		_, data, err := x.ReadFile(context.Background(), "/opt/app/secret.conf", true)
		if err != nil || string(data) != "root only\n" {
			t.Fatalf("ReadFile with become: %q, %v", data, err)
		}
		if err := x.WriteFile(context.Background(), "/opt/app/new.conf", []byte("x=1\n"),
			conn.WriteOptions{Mode: 0o640, UID: -1, GID: -1, Become: true}); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(root, "app", "new.conf"))
		if err != nil || st.Mode().Perm() != 0o640 {
			t.Fatalf("new.conf: %v %v", st, err)
		}
		if err := x.WriteFile(context.Background(), "/opt/app/denied.conf", []byte("x"),
			conn.WriteOptions{UID: -1, GID: -1}); err == nil {
			t.Fatal("the login user wrote into a root-owned directory without become")
		}
	})
	t.Run("password on no command line", func(t *testing.T) {
		// While become commands run, no process on the machine has the password in its
		// command line or environment.
		if err := exec.Command("mkfifo", filepath.Join(root, "app", "fifo")).Run(); err != nil {
			t.Fatal(err)
		}
		s := &started{ch: make(chan struct{})}
		done := make(chan error, 1)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := x.Run(context.Background(), conn.Command{Script: "echo go; read x < /opt/app/fifo", Stdout: s, Become: true})
			done <- err
		}()
		<-s.ch
		if leak := scanProc(becomePassword); leak != "" {
			t.Errorf("password found in %s", leak)
		}
		os.WriteFile(filepath.Join(root, "app", "fifo"), []byte("\n"), 0)
		wg.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		logs, _ := os.ReadFile(cmdLog)
		if !strings.Contains(string(logs), "sudo") {
			t.Fatalf("the command log shows no sudo; is the ForceCommand wrapper active? %q", logs)
		}
		sudo, err := os.ReadFile(sudoLog)
		if err != nil || !strings.Contains(string(sudo), "COMMAND=") {
			t.Fatalf("sudo log %q: %v", sudo, err)
		}
		for name, b := range map[string][]byte{"sshd command log": logs, "sudo log": sudo} {
			if bytes.Contains(b, []byte(becomePassword)) || bytes.Contains(b, []byte("s3cr")) {
				t.Errorf("password found in the %s", name)
			}
		}
	})
	t.Run("parallel become shells", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res, err := x.Run(context.Background(), conn.Command{Script: fmt.Sprintf("echo %d $(id -u)", i), Become: i%2 == 0})
				want := fmt.Sprintf("%d 0\n", i)
				if i%2 == 1 {
					want = fmt.Sprintf("%d %d\n", i, uidOf(t, becomeUser))
				}
				if err == nil && string(res.Stdout) != want {
					err = fmt.Errorf("command %d printed %q, want %q", i, res.Stdout, want)
				}
				errs <- err
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if x.PeakSessions() > 10 {
			t.Errorf("%d sessions at once", x.PeakSessions())
		}
	})
	if errors.Is(nil, conn.ErrConnLost) {
		t.Fatal("unreachable")
	}
}

func uidOf(t *testing.T, name string) int {
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	var uid int
	fmt.Sscan(string(out), &uid)
	return uid
}

// scanProc returns the first /proc entry whose command line or environment holds s.
func scanProc(s string) string {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		for _, f := range []string{"cmdline", "environ"} {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), f))
			if err == nil && bytes.Contains(b, []byte(s)) {
				return filepath.Join("/proc", e.Name(), f)
			}
		}
	}
	return ""
}

var _ = sshconn.Strict
