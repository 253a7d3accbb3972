package e2e

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/isaplay/isaplay/inventory/testcluster"
)

// isaplayBin is the real isaplay binary, built once by TestMain.
var isaplayBin string

func TestMain(m *testing.M) { clitest.Main(m, &isaplayBin) }

// anHome is the IS Analytics home on every node.
const anHome = "/opt/wso2/wso2is-analytics-5.6.0"

// productFile is one real WSO2 file placed in each node's /opt.
type productFile struct {
	ref  string // relative to the WSO2 reference folder
	opt  string // relative to /opt
	mode os.FileMode
}

var productFiles = []productFile{
	{"bin/load-spark-env-vars.sh", "wso2/wso2is-analytics-5.6.0/bin/load-spark-env-vars.sh", 0o755},
	{"bin/wso2server.sh", "wso2/wso2is-analytics-5.6.0/bin/wso2server.sh", 0o755},
	{"repository/conf/carbon.xml", "wso2/wso2is-analytics-5.6.0/repository/conf/carbon.xml", 0o644},
	{"repository/conf/log4j.properties", "wso2/wso2is-analytics-5.6.0/repository/conf/log4j.properties", 0o644},
	{"repository/conf/registry.xml", "wso2/wso2is-analytics-5.6.0/repository/conf/registry.xml", 0o644},
	{"repository/conf/user-mgt.xml", "wso2/wso2is-analytics-5.6.0/repository/conf/user-mgt.xml", 0o600},
	{"repository/conf/axis2/axis2.xml", "wso2/wso2is-analytics-5.6.0/repository/conf/axis2/axis2.xml", 0o644},
	{"repository/conf/datasources/master-datasources.xml", "wso2/wso2is-analytics-5.6.0/repository/conf/datasources/master-datasources.xml", 0o600},
	{"repository/conf/analytics/spark/spark-defaults.conf", "wso2/wso2is-analytics-5.6.0/repository/conf/analytics/spark/spark-defaults.conf", 0o644},
	{"repository/conf/analytics/analytics-config.xml", "wso2/wso2is-analytics-5.6.0/repository/conf/analytics/analytics-config.xml", 0o644},
}

// productUID owns the product tree, as a dedicated service account would.
const productUID, productGID = 1001, 1001

// startedLog and bindErrorLog are wso2carbon.log contents of a node that started and one that did not.
const startedLog = `TID: [-1234] [] [2026-11-25 02:10:01,101]  INFO {org.wso2.carbon.core.internal.CarbonCoreActivator} -  Starting WSO2 Carbon...
TID: [-1234] [] [2026-11-25 02:10:24,412]  INFO {org.wso2.carbon.core.init.CarbonServerManager} -  Repository       : /opt/wso2/wso2is-analytics-5.6.0/repository/deployment/server/
TID: [-1234] [] [2026-11-25 02:10:26,930]  INFO {org.wso2.carbon.core.internal.StartupFinalizerServiceComponent} -  WSO2 Carbon started in 25 sec
`
const bindErrorLog = `TID: [-1234] [] [2026-11-25 02:10:01,101]  INFO {org.wso2.carbon.core.internal.CarbonCoreActivator} -  Starting WSO2 Carbon...
TID: [-1234] [] [2026-11-25 02:10:09,310] ERROR {org.apache.catalina.core.StandardService} -  Failed to start connector [Connector[HTTP/1.1-9764]] java.net.BindException: Address already in use
`

// seedProduct writes the product tree into root (a node's /opt as the controller sees it).
// Node i's log says it started unless failed is true.
func seedProduct(t testing.TB, root string, failed bool) {
	t.Helper()
	ref := wso2ref.Dir(t)
	write := func(rel string, data []byte, mode os.FileMode) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range productFiles {
		data, err := os.ReadFile(filepath.Join(ref, f.ref))
		if err != nil {
			t.Fatal(err)
		}
		write(f.opt, data, f.mode)
	}
	log := startedLog
	if failed {
		log = bindErrorLog
	}
	write("wso2/wso2is-analytics-5.6.0/repository/logs/wso2carbon.log", []byte(log), 0o644)
	write("wso2/wso2is-analytics-5.5.0/README.txt", []byte("IS Analytics 5.5.0, kept for a quick switch back.\n"), 0o644)
	if err := os.Symlink("wso2is-analytics-5.5.0", filepath.Join(root, "wso2/current")); err != nil {
		t.Fatal(err)
	}
	write("wso2/wso2is-analytics-5.6.0/repository/data/local-shard-allocation-config.conf",
		[]byte("#Shard allocation of this node\n0=NORMAL\n1=NORMAL\n2=INIT\n"), 0o640)
	write("wso2/wso2is-analytics-5.6.0/repository/components/lib/README.txt",
		[]byte("Put JDBC drivers and other non-OSGi jars here; Carbon wraps them into dropins at start.\n"), 0o644)
	if err := os.MkdirAll(filepath.Join(root, "wso2/wso2is-analytics-5.6.0/repository/components/dropins"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The gate log of the tests that hold a run at a task (wait_log on ^GO$).
	write("e2e/gate.log", nil, 0o644)
	err := filepath.WalkDir(filepath.Join(root, "wso2"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, productUID, productGID)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openGate lets a run's gate task pass on the node whose /opt is root.
func openGate(t testing.TB, root string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, "e2e/gate.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("GO\n"); err != nil {
		t.Fatal(err)
	}
}

// Tasks of the playbooks the tests assemble.
const (
	taskCommonLink = `  task "symlink" "common path" {
    path   = "/opt/wso2/is-analytics"
    target = var.an_home
  }
`
	taskCurrentLink = `  task "symlink" "current version" {
    path   = "/opt/wso2/current"
    target = "wso2is-analytics-5.6.0"
  }
`
	taskSpark = `  task "properties_set" "spark masters" {
    path   = "${var.an_home}/repository/conf/analytics/spark/spark-defaults.conf"
    format = "spark"
    set = {
      "carbon.spark.master.count" = "2"
      "carbon.das.symbolic.link"  = "/opt/wso2/is-analytics"
    }
  }
`
	taskSparkIP = `  task "line_in_file" "spark local ip" {
    path         = "${var.an_home}/bin/load-spark-env-vars.sh"
    regexp       = "^\\s*export\\s+SPARK_LOCAL_IP="
    line         = "export SPARK_LOCAL_IP=${host.address}"
    insert_after = "^export CARBON_SPARK_HOME="
  }
`
	taskLog4j = `  task "properties_set" "analytics log level" {
    path = "${var.an_home}/repository/conf/log4j.properties"
    set  = { "log4j.logger.org.wso2" = "DEBUG" }
  }
`
	// taskStarted fails on a node whose log shows a BindException.
	taskStarted = `  task "wait_log" "analytics started" {
    path          = "${var.an_home}/repository/logs/wso2carbon.log"
    from          = "beginning"
    patterns      = ["WSO2 Carbon started in \\d+ sec"]
    fail_patterns = ["java\\.net\\.BindException"]
    wait_timeout  = "60s"
  }
`
	// taskGate waits until the test opens the node's gate.
	taskGate = `  task "wait_log" "gate" {
    path         = "/opt/e2e/gate.log"
    from         = "beginning"
    patterns     = ["^GO$"]
    wait_timeout = "120s"
  }
`
)

// More edits, one per remaining file module.
const (
	taskOffset = `  task "xml_patch" "port offset" {
    path       = "${var.an_home}/repository/conf/carbon.xml"
    namespaces = { c = "http://wso2.org/projects/carbon/carbon.xml" }
    set_text {
      xpath = "/c:Server/c:Ports/c:Offset"
      value = "2"
    }
  }
`
	taskNodeID = `  task "file" "node id" {
    path    = "${var.an_home}/repository/data/my-node-id.dat"
    content = "wso2is-analytics-${host.index + 1}"
    mode    = "0644"
  }
`
	taskFreshShards = `  task "file_absent" "fresh shard allocation" {
    paths = ["${var.an_home}/repository/data/local-shard-allocation-config.conf"]
  }
`
	taskDriver = `  task "jar_copy" "mysql driver" {
    src  = "files/` + driverJar + `"
    dest = "${var.an_home}/repository/components/lib/"
    undo_also_remove = ["${var.an_home}/repository/components/dropins/mysql_connector_java_5.1.47_bin_1.0.0.jar"]
  }
`
)

// driverJar is the jar jar_copy uploads, written by newStand into the work directory's files/.
const driverJar = "mysql-connector-java-5.1.47-bin.jar"

// editTasks are the tasks that change every node, one or more per file module (symlink,
// properties_set, line_in_file, xml_patch, file, file_absent, jar_copy), in playbook order; the
// log level edit is last.
var editTasks = []string{taskCommonLink, taskCurrentLink, taskSpark, taskSparkIP, taskOffset, taskNodeID, taskFreshShards, taskDriver, taskLog4j}

// playbook returns a playbook with one play over every node running tasks in order.
func playbook(tasks ...string) string {
	var b strings.Builder
	b.WriteString(`variable "an_home" {
  type    = string
  default = "` + anHome + `"
}

play "analytics" {
  hosts = "nodes"

`)
	b.WriteString(strings.Join(tasks, "\n"))
	b.WriteString("}\n")
	return b.String()
}

// stand is a test cluster of real sshd nodes holding the product, with a controller-side work
// directory (playbooks) and a local state directory (journals).
type stand struct {
	t     *testing.T
	c     *testcluster.Cluster
	work  string
	state string
}

// newStand starts n nodes, seeds each /opt with the product and opens no gate.
func newStand(t *testing.T, n int) *stand {
	t.Helper()
	s := &stand{t: t, c: testcluster.New(t, testcluster.Options{N: n}), work: t.TempDir()}
	s.state = filepath.Join(s.work, ".isaplay")
	if err := os.MkdirAll(filepath.Join(s.work, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.work, "files", driverJar), jarBytes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range s.c.Nodes {
		seedProduct(t, s.c.NodeRoot(i), false)
	}
	return s
}

// writePlaybook writes a playbook into the work directory and returns its path.
func (s *stand) writePlaybook(name, src string) string {
	s.t.Helper()
	p := filepath.Join(s.work, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// result is how one isaplay command ended.
type result struct {
	args           []string
	code           int  // exit code, -1 when killed by a signal
	killed         bool // ended by SIGKILL
	stdout, stderr string
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("isaplay %s: exit %d (killed %v) after %s\n--- stdout\n%s--- stderr\n%s", strings.Join(r.args, " "), r.code,
		r.killed, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// cmd builds an isaplay command with the stand's state directory and extra environment.
func (s *stand) cmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(isaplayBin, args...)
	cmd.Dir = s.work
	base := []string{"ISAPLAY_STATE_DIR=" + s.state}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ISAPLAY_") {
			base = append(base, kv)
		}
	}
	cmd.Env = append(base, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// isaplay runs one isaplay command to completion (bounded by 2 minutes) with the stand's inventory.
func (s *stand) isaplay(env []string, args ...string) result {
	s.t.Helper()
	args = append([]string{"--no-color", "-i", s.c.Inventory}, args...)
	cmd := s.cmd(env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		s.t.Fatalf("isaplay %s hung for 2 minutes\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), out.String(), errb.String())
	}
	return finish(args, cmd, err, out.String(), errb.String(), time.Since(start))
}

func finish(args []string, cmd *exec.Cmd, err error, stdout, stderr string, elapsed time.Duration) result {
	r := result{args: args, stdout: stdout, stderr: stderr, elapsed: elapsed}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.killed = ws.Signal() == syscall.SIGKILL
		}
	default:
		r.code = -2
		r.stderr += "\n(wait: " + err.Error() + ")"
	}
	return r
}

// mustExit fails the test unless r exited with code.
func mustExit(t testing.TB, r result, code int) {
	t.Helper()
	if r.killed || r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
}

// proc is an isaplay command running in the background whose output lines the test follows.
type proc struct {
	t     testing.TB
	args  []string
	cmd   *exec.Cmd
	start time.Time

	mu             sync.Mutex
	stdout, stderr strings.Builder
	lines          []string      // stdout and stderr lines in arrival order
	used           map[int]bool  // lines waitLine has returned
	grew           chan struct{} // closed and replaced when a line arrives or output ends
	ended          bool          // both streams are at EOF
	done           chan struct{} // closed when the process has been waited for
	res            result
}

// startIsaplay starts an isaplay command in the background.
func (s *stand) startIsaplay(env []string, args ...string) *proc {
	s.t.Helper()
	args = append([]string{"--no-color", "-i", s.c.Inventory}, args...)
	p := &proc{t: s.t, args: args, cmd: s.cmd(env, args...), used: map[int]bool{}, grew: make(chan struct{}), done: make(chan struct{})}
	outR, err := p.cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	errR, err := p.cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	var wg sync.WaitGroup
	scan := func(r io.Reader, into *strings.Builder) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<16), 1<<24)
		for sc.Scan() {
			p.mu.Lock()
			into.WriteString(sc.Text() + "\n")
			p.lines = append(p.lines, sc.Text())
			close(p.grew)
			p.grew = make(chan struct{})
			p.mu.Unlock()
		}
	}
	wg.Add(2)
	go scan(outR, &p.stdout)
	go scan(errR, &p.stderr)
	go func() {
		wg.Wait()
		err := p.cmd.Wait()
		p.mu.Lock()
		p.ended = true
		close(p.grew)
		p.res = finish(args, p.cmd, err, p.stdout.String(), p.stderr.String(), time.Since(p.start))
		p.mu.Unlock()
		close(p.done)
	}()
	s.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLine returns the first output line matching re that it has not returned before, waiting
// for it as long as the command runs. The test fails when the command ends or limit passes
// first: limit bounds a hang, it never orders events.
func (p *proc) waitLine(re *regexp.Regexp, limit time.Duration) string {
	p.t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		p.mu.Lock()
		for i, l := range p.lines {
			if !p.used[i] && re.MatchString(l) {
				p.used[i] = true
				p.mu.Unlock()
				return l
			}
		}
		if p.ended {
			res := p.res
			p.mu.Unlock()
			p.t.Fatalf("isaplay ended before printing a line matching %q:\n%s", re, res)
		}
		grew := p.grew
		out, errs := p.stdout.String(), p.stderr.String()
		p.mu.Unlock()
		select {
		case <-grew:
		case <-timer.C:
			p.t.Fatalf("no line matching %q within %s\n--- stdout\n%s--- stderr\n%s", re, limit, out, errs)
		}
	}
}

// wait waits for the command to end, at most limit.
func (p *proc) wait(limit time.Duration) result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("isaplay did not end within %s:\n%s", limit, p.res)
	}
	return p.res
}

// entry is one file system entry of a tree snapshot.
type entry struct {
	Type   string // file, dir, symlink
	Mode   fs.FileMode
	UID    uint32
	GID    uint32
	SHA256 string // regular files
	Target string // symlinks
}

// tree maps a path relative to the snapshot root to its entry.
type tree map[string]entry

// snapshot records every entry under root: type, mode, owner, sha256 of files, link targets.
func snapshot(t testing.TB, root string) tree {
	t.Helper()
	out := tree{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		e := entry{Mode: info.Mode(), UID: st.Uid, GID: st.Gid}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			// A link's own owner and mode mean nothing to Linux path resolution (its
			// target's do), and replacing a link makes a new one owned by the writer: only
			// the target is compared.
			e = entry{Type: "symlink", Mode: fs.ModeSymlink}
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case info.IsDir():
			e.Type = "dir"
		case info.Mode().IsRegular():
			e.Type = "file"
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(sum[:])
		default:
			e.Type = info.Mode().Type().String()
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return out
}

// diffTrees lists every difference between want and got, one line each, sorted.
func diffTrees(want, got tree) []string {
	var out []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: missing (was %s)", p, w.Type))
		case g != w:
			out = append(out, fmt.Sprintf("%s: was %+v, now %+v", p, w, g))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			out = append(out, fmt.Sprintf("%s: new %s %+v", p, g.Type, g))
		}
	}
	sort.Strings(out)
	return out
}

// snapshots records every node's /opt.
func (s *stand) snapshots() []tree {
	s.t.Helper()
	out := make([]tree, len(s.c.Nodes))
	for i := range s.c.Nodes {
		out[i] = snapshot(s.t, s.c.NodeRoot(i))
	}
	return out
}

// requireTrees fails the test when any node's /opt differs from want.
func (s *stand) requireTrees(want []tree, when string) {
	s.t.Helper()
	bad := false
	for i := range s.c.Nodes {
		if d := diffTrees(want[i], snapshot(s.t, s.c.NodeRoot(i))); len(d) > 0 {
			bad = true
			s.t.Errorf("%s: %s's /opt differs from before:\n  %s", when, s.c.Nodes[i].Name, strings.Join(d, "\n  "))
		}
	}
	if bad {
		s.t.FailNow()
	}
}

// readNode returns a file of node i by its absolute path on the node (under /opt).
func (s *stand) readNode(i int, abs string) string {
	s.t.Helper()
	rel, ok := strings.CutPrefix(abs, "/opt/")
	if !ok {
		s.t.Fatalf("%s is not under /opt", abs)
	}
	b, err := os.ReadFile(filepath.Join(s.c.NodeRoot(i), rel))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// hostState is node i's isaplay state directory (the default .isaplay in the login home).
func (s *stand) hostState(i int) string { return filepath.Join(s.c.NodeHome(i), ".isaplay") }

// lockOf returns the content of node i's host lock, "" when there is none.
func (s *stand) lockOf(i int) string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.hostState(i), "lock"))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// requireCleanHosts fails when a node still has a lock or the run's backups.
func (s *stand) requireCleanHosts(runID string) {
	s.t.Helper()
	for i, n := range s.c.Nodes {
		if l := s.lockOf(i); l != "" {
			s.t.Errorf("%s still holds a host lock: %s", n.Name, strings.TrimSpace(l))
		}
		if runID == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.hostState(i), "runs", runID)); err == nil {
			s.t.Errorf("%s still holds the backups of run %s after a clean rollback", n.Name, runID)
		}
	}
}

// requireRolledBack fails when a node's /opt is not as before, a node still has a lock or the
// run's backups, or the journal does not say rolled_back; when names the moment.
func (s *stand) requireRolledBack(runID string, before []tree, when string) {
	s.t.Helper()
	s.requireTrees(before, when)
	s.requireCleanHosts(runID)
	if st := s.status(runID); st != "rolled_back" {
		s.t.Errorf("%s: journal status %q, want rolled_back", when, st)
	}
}

// journalLine is one line of journal.jsonl, as far as the tests read it.
type journalLine struct {
	Type   string `json:"type"`
	Seq    int    `json:"seq"`
	Status string `json:"status"`
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Meta   *struct {
		RunID string `json:"run_id"`
	} `json:"meta"`
	Record *struct {
		Host   string `json:"host"`
		Task   string `json:"task"`
		Module string `json:"module"`
	} `json:"record"`
}

// runIDs lists the run ids in the local state directory.
func (s *stand) runIDs() []string {
	ents, err := os.ReadDir(filepath.Join(s.state, "runs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// onlyRun returns the id of the one run in the state directory.
func (s *stand) onlyRun() string {
	s.t.Helper()
	ids := s.runIDs()
	if len(ids) != 1 {
		s.t.Fatalf("want exactly one run in %s, have %v", s.state, ids)
	}
	return ids[0]
}

// journal reads a run's journal lines.
func (s *stand) journal(runID string) []journalLine {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.state, "runs", runID, "journal.jsonl"))
	if err != nil {
		s.t.Fatal(err)
	}
	var out []journalLine
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l == "" {
			continue
		}
		var jl journalLine
		if err := json.Unmarshal([]byte(l), &jl); err != nil {
			s.t.Fatalf("journal of %s: %v in %q", runID, err, l)
		}
		out = append(out, jl)
	}
	return out
}

// status is a run's last end status in its journal ("" while it has none).
func (s *stand) status(runID string) string {
	st := ""
	for _, l := range s.journal(runID) {
		if l.Type == "end" {
			st = l.Status
		}
	}
	return st
}

// jarBytes returns a small but real jar (a zip with a manifest and a class entry).
func jarBytes(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nImplementation-Title: MySQL Connector Java\r\nImplementation-Version: 5.1.47\r\n\r\n"},
		{"com/mysql/jdbc/Driver.class", "\xca\xfe\xba\xbe\x00\x00\x00\x32 not a real class body"},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Date(2018, 10, 8, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
