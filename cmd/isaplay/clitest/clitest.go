// Package clitest is what the end-to-end test packages of cmd/isaplay share: the real isaplay
// binary built once per package, the repository root, and a real svnserve.
package clitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Main builds the isaplay command into a temporary directory, sets *bin to it, runs the
// package's tests and exits with their code. Call it from TestMain.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "isaplay-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clitest:", err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "isaplay")
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clitest: the go command is needed to build isaplay:", err)
		os.Exit(1)
	}
	build := exec.Command(gobin, "build", "-o", *bin, "github.com/isaplay/isaplay/cmd/isaplay")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "clitest: building isaplay:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// RepoRoot is the isaplay checkout: the directory holding go.mod, above the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("go.mod not found above " + wd)
		}
	}
}

// StartSvn starts a real svnserve on loopback serving a new repository "isan" under dir, which
// only user wso2 with password may use, and returns its URL; it is stopped when the test ends.
func StartSvn(t testing.TB, dir, password string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("svnadmin", "create", filepath.Join(dir, "isan")).CombinedOutput(); err != nil {
		t.Fatalf("svnadmin: %v: %s (make deps installs subversion)", err, out)
	}
	conf := "[general]\nanon-access = none\nauth-access = write\npassword-db = passwd\nrealm = isaplay\n"
	if err := os.WriteFile(filepath.Join(dir, "isan/conf/svnserve.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "isan/conf/passwd"), []byte("[users]\nwso2 = "+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// svnserve picks no free port itself: try a few.
	for try := 0; try < 20; try++ {
		port := 20000 + (os.Getpid()*7+try*131)%20000
		cmd := exec.Command("svnserve", "--foreground", "-d", "--listen-host", "127.0.0.1", "--listen-port", fmt.Sprint(port), "-r", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Ready when svn info reaches it (an authentication refusal proves it listens).
		url := fmt.Sprintf("svn://127.0.0.1:%d/isan/", port)
		deadline := time.Now().Add(10 * time.Second)
		for ready := false; !ready; {
			select {
			case <-done:
				ready = true // exited: the port was taken, try the next
				continue
			default:
			}
			out, _ := exec.Command("svn", "info", "--non-interactive", "--no-auth-cache", "--username", "wso2", "--password", password, url).CombinedOutput()
			if strings.Contains(string(out), "Repository Root") {
				t.Cleanup(func() { cmd.Process.Kill(); <-done })
				return url
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("svnserve on %d not ready: %s", port, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Fatal("svnserve: no free port")
	return ""
}
