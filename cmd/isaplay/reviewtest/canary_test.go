package reviewtest

import (
	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isaplay/isaplay/cmd/isaplay/pattern2test"
	"github.com/isaplay/isaplay/engine/journal"
)

// TestCanary gives every sensitive input of pattern2.hcl (both database passwords, the admin
// password, the SVN password) a value holding a canary, then runs plan in three formats, plan
// --out, apply of the saved plan, runs, isaplay rollback, and an apply that fails (a broken SQL
// script in the IS pack) and rolls itself back. The canary must appear in no stdout or stderr,
// no journal or state file, not in the saved plan, and not in any command line the nodes' sshd
// received: each node's ForceCommand wrapper logs $SSH_ORIGINAL_COMMAND and copies the session's
// standard input, and every script sent to the framed shells on it is checked too (file data on
// that input legitimately holds the passwords: it is what is written into the config files).
func TestCanary(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	repo := clitest.RepoRoot(t)
	wrapper, err := os.ReadFile("testdata/logcmd-stdin.sh")
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
	inputs := filepath.Join(dir, "inputs")
	if err := os.Mkdir(inputs, 0o755); err != nil {
		t.Fatal(err)
	}
	e := setup(t, dir, "ForceCommand "+filepath.Join(dir, "logcmd.sh")+" "+cmdLog+" "+inputs)

	var outputs []result
	run := func(wantErr bool, args ...string) result {
		t.Helper()
		start := time.Now()
		r := e.exec(args...)
		t.Logf("isaplay %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		if (r.err != nil) != wantErr {
			t.Fatalf("isaplay %s: error %v, want error %v\n%s%s", strings.Join(r.args, " "), r.err, wantErr, r.stdout, r.stderr)
		}
		outputs = append(outputs, r)
		return r
	}
	for _, f := range []string{"text", "markdown", "json"} {
		run(false, "plan", "--format", f)
	}
	planFile := filepath.Join(dir, "change.plan")
	run(false, "plan", "--out", planFile)
	run(false, "apply", "--yes", planFile)
	// The check below is only as good as the canary reaching the hosts: the applied files hold it.
	if !strings.Contains(readTree(t, e.Cluster.NodeRoot(4)), canary) {
		t.Fatal("the canary never reached the identity node; the test would prove nothing")
	}
	run(false, "runs")
	runs, err := journal.List(filepath.Join(dir, "state"))
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs %v, %v", runs, err)
	}
	first := runs[len(runs)-1].Meta.RunID
	run(false, "rollback", first, "--yes")

	// A pack whose last IS script is broken: the apply fails late and rolls back.
	broken := filepath.Join(dir, "broken-scripts")
	if out, err := exec.Command("cp", "-r", filepath.Join(repo, "testdata/pattern2/is-dbscripts"), broken).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(broken, "consent/mysql.sql"), []byte("CREATE TABLE broken (;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	is := pattern2test.IdentityFiles(wso2ref.Dir(t), filepath.Join(repo, "testdata/standin/wso2server.sh"), broken, filepath.Join(repo, "testdata/pattern2/is-conf"))
	if err := pattern2test.WriteZip(filepath.Join(dir, "files", pattern2test.IdentityDir+".zip"), pattern2test.IdentityDir, is); err != nil {
		t.Fatal(err)
	}
	failed := run(true, "apply", "--yes")
	if !strings.Contains(failed.stdout+failed.stderr, "broken") && !strings.Contains(failed.stdout+failed.stderr, "consent") {
		t.Errorf("the failing apply does not name the broken script:\n%s%s", failed.stdout, failed.stderr)
	}
	run(false, "runs")
	// The same failure as a JSON event stream, and a plan that cannot reach the database.
	run(true, "apply", "--yes", "--format", "json")
	run(true, "plan", "--format", "markdown", "--var", "db_port=1")

	for _, r := range outputs {
		for name, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
			if strings.Contains(text, canary) {
				t.Errorf("isaplay %s: %s shows the canary", strings.Join(r.args, " "), name)
			}
		}
	}
	plan, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	state := readTree(t, filepath.Join(dir, "state"))
	cmds, err := os.ReadFile(cmdLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(cmds), "\n")
	t.Logf("%d lines of commands logged by the nodes' sshd (the framed shell's loop script is multi-line), %d bytes of journal and state, plan file %d bytes", lines, len(state), len(plan))
	if lines < 10 {
		t.Fatalf("only %d commands logged; is the ForceCommand wrapper active?\n%s", lines, cmds)
	}
	scripts, data := shellInputs(t, inputs)
	t.Logf("%d scripts sent to the framed shells (%d bytes); %d bytes of file data on their standard input", strings.Count(scripts, "\n"), len(scripts), len(data))
	if !strings.Contains(scripts, "mkdir") {
		t.Fatalf("the framed shells' scripts were not captured:\n%.2000s", scripts)
	}
	// The configuration files isaplay writes must hold the passwords: they travel as file data on
	// standard input, never in a script.
	if !strings.Contains(data, canary) {
		t.Error("the canary is not in the data written to the hosts; the capture proves nothing")
	}
	for what, text := range map[string]string{"saved plan": string(plan), "journal and state": state,
		"sshd command log": string(cmds), "framed shell scripts": scripts} {
		if strings.Contains(text, canary) {
			t.Errorf("%s shows the canary", what)
		}
	}
}

// shellInputs parses the standard input every framed shell received (the protocol of
// inventory/sshconn/shell.go: a "HELLO <marker>" line, then per command a line "<n> <how>
// <script>", or "<n> <how> @<length>" and that many bytes of script, followed by n bytes of
// standard input) into the scripts, one per line, and the standard input data.
func shellInputs(t *testing.T, dir string) (scripts, data string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s, d strings.Builder
	framed := 0
	defer func() { t.Logf("%d SSH sessions' input captured, %d of them framed shells", len(entries), framed) }()
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		in := string(b)
		if !strings.HasPrefix(in, "HELLO ") {
			s.WriteString(in) // not a framed shell: all of it counts as script
			continue
		}
		framed++
		_, in, _ = strings.Cut(in, "\n")
		for in != "" {
			line, rest, ok := strings.Cut(in, "\n")
			if !ok {
				t.Fatalf("%s: truncated command line %q", en.Name(), line)
			}
			nStr, script, _ := strings.Cut(line, " ")
			n, err := strconv.Atoi(nStr)
			// A long script of isaplay's own comes as "@<length>" and its bytes, before the input.
			if _, word, _ := strings.Cut(script, " "); err == nil && strings.HasPrefix(word, "@") {
				var k int
				if k, err = strconv.Atoi(word[1:]); err == nil && k <= len(rest) {
					script, rest = rest[:k], rest[k:]
				}
			}
			if err != nil || n > len(rest) {
				t.Fatalf("%s: bad command line %.200q", en.Name(), line)
			}
			s.WriteString(script + "\n")
			if n > 0 {
				d.WriteString(rest[:n])
				rest = rest[n:]
			}
			in = rest
		}
	}
	return s.String(), d.String()
}
