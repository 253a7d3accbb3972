// Package reviewtest proves the change-ticket review features of issue 9 on the real
// pattern-2 playbook: golden plan output in every format, a canary secret that appears in no
// output, journal, saved plan or remote command, and an offline bundle applied in a network
// namespace whose only route is loopback. It runs the real isaplay binary built by TestMain.
package reviewtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/cmd/isaplay/pattern2test"
)

// isaplayBin is the real isaplay binary, built once by TestMain.
var isaplayBin string

func TestMain(m *testing.M) { clitest.Main(m, &isaplayBin) }

// canary is part of every secret the run is given; it must appear nowhere.
const canary = "CANARY7f3a"

// Secrets, each containing the canary.
var (
	anDBPass  = canary + "-an-db&<1"
	isDBPass  = canary + "-is-db"
	adminPass = canary + "-admin"
	svnPass   = canary + "-svn"
)

// env is the pattern-2 test environment.
type env struct{ *pattern2test.Env }

// setup starts five nodes (with sshdConfig appended to their sshd_config), MariaDB and
// svnserve, and writes the variables file.
func setup(t *testing.T, dir, sshdConfig string) *env {
	t.Helper()
	return &env{pattern2test.NewEnv(t, pattern2test.EnvOptions{Dir: dir, SSHDConfig: sshdConfig, Domain: "review",
		Secrets: pattern2test.Secrets{AnDB: anDBPass, ISDB: isDBPass, Admin: adminPass, Svn: svnPass}})}
}

// result is one isaplay run's separate stdout and stderr.
type result struct {
	args           []string
	stdout, stderr string
	err            error
}

// exec runs isaplay; plan and apply get the pattern-2 playbook (unless the args name a saved
// plan), inventory and variables. Secrets come from the environment.
func (e *env) exec(args ...string) result {
	full := append([]string{}, args...)
	if args[0] == "plan" || (args[0] == "apply" && !strings.HasSuffix(args[len(args)-1], ".plan")) {
		full = append(full, filepath.Join(e.Repo, "playbooks/pattern2.hcl"))
	}
	if args[0] == "plan" || args[0] == "apply" {
		full = append(full, "-i", e.Inventory, "--var-file", e.Vars)
	}
	cmd := e.Command(isaplayBin, full...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	return result{args: full, stdout: so.String(), stderr: se.String(), err: err}
}

// must runs isaplay and fails the test on a non-zero exit.
func (e *env) must(t *testing.T, args ...string) result {
	t.Helper()
	r := e.exec(args...)
	if r.err != nil {
		t.Fatalf("isaplay %s: %v\n%s%s", strings.Join(r.args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

// readTree returns every file under dir concatenated.
func readTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(data)
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return b.String()
}
