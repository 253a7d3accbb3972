// Package testcluster starts N real OpenSSH sshd test hosts on this machine. Each node is its own
// sshd on its own loopback address, with its own host key, key-only auth, its own private /opt
// (a mount namespace with a bind mount) and a clean home for the login user, so every node sees
// the same absolute paths with different files, like real servers. The cluster writes a matching
// hosts.hcl and known_hosts.
//
// It needs root (for the mount namespaces) and /usr/sbin/sshd (testdata/cluster/install.sh
// installs it).
package testcluster

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is the sshd binary the nodes run.
const SSHD = "/usr/sbin/sshd"

// Options configures a cluster.
type Options struct {
	// N is the number of nodes (1 to 2000).
	N int
	// Prefix names the nodes Prefix1, Prefix2, ...; default "n".
	Prefix string
	// Dir holds keys, configs, logs and each node's files; it must not be inside the login user's
	// home (that is hidden inside the nodes). Start creates a temporary directory when empty.
	Dir string
	// Port is the port every node listens on, each on its own address; default 2222.
	Port int
	// User is the login user written to hosts.hcl; default the current user.
	User string
	// Groups returns the inventory groups of node i (0-based); default ["nodes"].
	Groups func(i int) []string
	// SSHDConfig is appended to every node's sshd_config (e.g. a ForceCommand for tests).
	SSHDConfig string
	// Detach lets the nodes outlive the calling process (for the command-line tool); Down stops them.
	Detach bool
	// StartTimeout bounds how long a node may take to accept connections; default 15s.
	StartTimeout time.Duration
}

// Cluster is a set of running test nodes.
type Cluster struct {
	// Dir is the cluster's directory.
	Dir string
	// Nodes are the nodes in order.
	Nodes []*Node
	// User is the login user.
	User string
	// KeyFile is the client's private key (ed25519, OpenSSH format, no passphrase).
	KeyFile string
	// KnownHosts is a known_hosts file with every node's host key.
	KnownHosts string
	// Inventory is the hosts.hcl describing the nodes.
	Inventory string
	// Signer is the client key, ready for golang.org/x/crypto/ssh.
	Signer ssh.Signer

	opts Options
	home string
}

// Node is one test host.
type Node struct {
	// Name is the inventory name (Prefix1, ...).
	Name string
	// Address is the node's loopback address.
	Address string
	// Port is the port sshd listens on.
	Port int
	// Dir holds the node's sshd_config, host key, log, opt/ and home/.
	Dir string
	// HostKey is the node's current public host key.
	HostKey ssh.PublicKey

	c    *Cluster
	mu   sync.Mutex
	cmd  *exec.Cmd
	pid  int
	done chan struct{}
}

// New starts a cluster for a test and stops it when the test ends. It fails the test on error.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("testcluster: %v", err)
		}
	})
	return c
}

// Start starts the nodes and waits until each accepts TCP connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.N < 1 || opts.N > 2000 {
		return nil, fmt.Errorf("testcluster: N must be 1..2000, got %d", opts.N)
	}
	if opts.Prefix == "" {
		opts.Prefix = "n"
	}
	if opts.Port == 0 {
		opts.Port = 2222
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 15 * time.Second
	}
	if opts.Groups == nil {
		opts.Groups = func(int) []string { return []string{"nodes"} }
	}
	if _, err := os.Stat(SSHD); err != nil {
		return nil, fmt.Errorf("testcluster: %s not found (run testdata/cluster/install.sh): %w", SSHD, err)
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	if opts.User == "" {
		opts.User = u.Username
	}
	lu, err := user.Lookup(opts.User)
	if err != nil {
		return nil, fmt.Errorf("testcluster: login user: %w", err)
	}
	if opts.Dir == "" {
		opts.Dir, err = os.MkdirTemp("", "isaplay-cluster-")
		if err != nil {
			return nil, fmt.Errorf("testcluster: %w", err)
		}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	home := filepath.Clean(lu.HomeDir)
	if dir == home || strings.HasPrefix(dir, home+"/") {
		return nil, fmt.Errorf("testcluster: directory %s is inside %s, which the nodes replace with a clean home", dir, home)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	if err := os.MkdirAll("/opt", 0o755); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}

	c := &Cluster{Dir: dir, User: opts.User, opts: opts, home: home,
		KeyFile:    filepath.Join(dir, "client_key"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Inventory:  filepath.Join(dir, "hosts.hcl"),
	}
	if c.Signer, err = writeKey(c.KeyFile, "isaplay-test-client"); err != nil {
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(c.Signer.PublicKey()), 0o644); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	addrs, err := pickAddresses(opts.N, opts.Port)
	if err != nil {
		return nil, err
	}
	for i, a := range addrs {
		n := &Node{Name: opts.Prefix + strconv.Itoa(i+1), Address: a, Port: opts.Port, c: c}
		n.Dir = filepath.Join(dir, n.Name)
		for _, d := range []string{n.Dir, filepath.Join(n.Dir, "opt"), filepath.Join(n.Dir, "home")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("testcluster: %w", err)
			}
		}
		uid, _ := strconv.Atoi(lu.Uid)
		gid, _ := strconv.Atoi(lu.Gid)
		if err := os.Chown(filepath.Join(n.Dir, "home"), uid, gid); err != nil {
			return nil, fmt.Errorf("testcluster: %w", err)
		}
		if err := n.writeConfig(true); err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	if err := c.WriteKnownHosts(); err != nil {
		return nil, err
	}
	if err := c.writeInventory(); err != nil {
		return nil, err
	}
	// Start every node, then wait for all: the sshds start in parallel.
	for _, n := range c.Nodes {
		if err := n.start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := n.waitReady(ctx); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.writeState(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Addr returns node i's address as host:port.
func (c *Cluster) Addr(i int) string { return c.Nodes[i].Addr() }

// Run runs a shell command on node i over SSH as the cluster's user (a fresh connection, host
// key checked) and returns its standard output and error.
func (c *Cluster) Run(i int, cmd string) (stdout, stderr string, err error) {
	hk, err := knownhosts.New(c.KnownHosts)
	if err != nil {
		return "", "", err
	}
	cl, err := ssh.Dial("tcp", c.Addr(i), &ssh.ClientConfig{User: c.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(c.Signer)},
		HostKeyCallback: hk, Timeout: 10 * time.Second})
	if err != nil {
		return "", "", fmt.Errorf("node %d: %w", i, err)
	}
	defer cl.Close()
	s, err := cl.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("node %d: %w", i, err)
	}
	defer s.Close()
	var out, errOut strings.Builder
	s.Stdout, s.Stderr = &out, &errOut
	err = s.Run(cmd)
	return out.String(), errOut.String(), err
}

// NodeRoot returns the controller-side directory that node i sees as /opt.
func (c *Cluster) NodeRoot(i int) string { return filepath.Join(c.Nodes[i].Dir, "opt") }

// NodeHome returns the controller-side directory that node i sees as the login user's home.
func (c *Cluster) NodeHome(i int) string { return filepath.Join(c.Nodes[i].Dir, "home") }

// Stop kills every node's process tree. It is idempotent.
func (c *Cluster) Stop() error {
	var roots []int
	for _, n := range c.Nodes {
		n.mu.Lock()
		if n.pid != 0 {
			roots = append(roots, n.pid)
		}
	}
	pids := killTrees(roots)
	var errs []error
	for _, n := range c.Nodes {
		if err := n.reap(pids); err != nil {
			errs = append(errs, err)
		}
		n.mu.Unlock()
	}
	return errors.Join(errs...)
}

// WriteKnownHosts rewrites the known_hosts file with every node's current host key.
func (c *Cluster) WriteKnownHosts() error {
	var b strings.Builder
	for _, n := range c.Nodes {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(n.Addr())}, n.HostKey))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(c.KnownHosts, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("testcluster: %w", err)
	}
	return nil
}

// Addr returns the node's host:port.
func (n *Node) Addr() string { return net.JoinHostPort(n.Address, strconv.Itoa(n.Port)) }

// Kill sends SIGKILL to the node's whole process tree (sshd, its connections and their commands)
// and waits until it is gone. Killing a node that is not running does nothing.
func (n *Node) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pid == 0 {
		return nil
	}
	return n.reap(killTrees([]int{n.pid}))
}

// reap waits until the killed pids are gone and forgets the node's process. n.mu is held.
func (n *Node) reap(pids []int) error {
	if n.pid == 0 {
		return nil
	}
	if n.done != nil {
		<-n.done
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range pids {
		for alive(p) {
			if time.Now().After(deadline) {
				return fmt.Errorf("testcluster: %s: process %d survived SIGKILL", n.Name, p)
			}
			time.Sleep(time.Millisecond)
		}
	}
	n.pid, n.cmd, n.done = 0, nil, nil
	return nil
}

// Stop freezes the node's whole process tree with SIGSTOP: it hangs as a dead server does.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pid == 0 {
		return fmt.Errorf("testcluster: %s is not running", n.Name)
	}
	signalTree(syscall.SIGSTOP, n.pid)
	return nil
}

// Cont resumes a node frozen by Stop.
func (n *Node) Cont() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pid == 0 {
		return fmt.Errorf("testcluster: %s is not running", n.Name)
	}
	for _, p := range tree(children(), n.pid) {
		syscall.Kill(p, syscall.SIGCONT)
	}
	return nil
}

// Restart kills the node and starts it again on the same address, keeping its files. With
// newHostKey it gets a fresh host key that known_hosts does not know (a "changed host key").
func (n *Node) Restart(ctx context.Context, newHostKey bool) error {
	if err := n.Kill(); err != nil {
		return err
	}
	if newHostKey {
		if err := n.writeConfig(true); err != nil {
			return err
		}
	}
	if err := n.start(); err != nil {
		return err
	}
	if err := n.waitReady(ctx); err != nil {
		return err
	}
	return n.c.writeState()
}

// PID returns the process id of the node's root process (0 when not running).
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pid
}

func (n *Node) writeConfig(newKey bool) error {
	keyFile := filepath.Join(n.Dir, "host_key")
	if newKey {
		s, err := writeKey(keyFile, n.Name)
		if err != nil {
			return err
		}
		n.HostKey = s.PublicKey()
	}
	cfg := fmt.Sprintf(`# isaplay test node %s
ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
MaxSessions 10
MaxStartups 1000
LogLevel INFO
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding yes
UseDNS no
Subsystem sftp internal-sftp
%s
`, n.Name, n.Addr(), keyFile, filepath.Join(n.c.Dir, "authorized_keys"), n.c.opts.SSHDConfig)
	if err := os.WriteFile(filepath.Join(n.Dir, "sshd_config"), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("testcluster: %w", err)
	}
	return nil
}

// nodeScript runs inside the node's new mount and pid namespaces (with their own /proc, so that
// sudo's parent-process checks see the node's processes): private /opt and home, then sshd.
const nodeScript = `set -e
mount --bind "$1" /opt
mount --bind "$2" "$3"
exec "$4" -D -e -f "$5"`

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	logf, err := os.OpenFile(filepath.Join(n.Dir, "sshd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testcluster: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc",
		"--", "sh", "-c", nodeScript, "node",
		filepath.Join(n.Dir, "opt"), filepath.Join(n.Dir, "home"), n.c.home, SSHD, filepath.Join(n.Dir, "sshd_config"))
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !n.c.opts.Detach {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testcluster: start %s: %w", n.Name, err)
	}
	n.cmd, n.pid = cmd, cmd.Process.Pid
	done := make(chan struct{})
	n.done = done
	go func() {
		cmd.Wait()
		close(done)
	}()
	return nil
}

// waitReady polls until sshd accepts TCP connections, the process exits, or the deadline passes.
func (n *Node) waitReady(ctx context.Context) error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, n.c.opts.StartTimeout)
	defer cancel()
	var d net.Dialer
	for {
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", n.Addr())
		dcancel()
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("testcluster: %s: sshd exited: %s", n.Name, n.log())
		case <-ctx.Done():
			return fmt.Errorf("testcluster: %s: sshd not listening on %s: %w: %s", n.Name, n.Addr(), ctx.Err(), n.log())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (n *Node) log() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "sshd.log"))
	return strings.TrimSpace(string(b))
}

// state is what the command-line tool keeps in Dir to stop detached nodes later.
type state struct {
	Nodes []stateNode `json:"nodes"`
}

type stateNode struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	PID     int    `json:"pid"`
	Config  string `json:"config"`
}

func (c *Cluster) writeState() error {
	var s state
	for _, n := range c.Nodes {
		s.Nodes = append(s.Nodes, stateNode{n.Name, n.Address, n.Port, n.PID(), filepath.Join(n.Dir, "sshd_config")})
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(filepath.Join(c.Dir, "cluster.json"), b, 0o644); err != nil {
		return fmt.Errorf("testcluster: %w", err)
	}
	return nil
}

// Down kills the process trees of the nodes a detached cluster in dir started, found through the
// cluster.json it wrote. A pid is only signalled while its command line still names the node's
// sshd_config, so a reused pid is left alone.
func Down(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return fmt.Errorf("testcluster: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("testcluster: %s: %w", filepath.Join(dir, "cluster.json"), err)
	}
	var roots []int
	for _, sn := range s.Nodes {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", sn.PID))
		if sn.PID != 0 && strings.Contains(string(cmdline), sn.Config) {
			roots = append(roots, sn.PID)
		}
	}
	killTrees(roots)
	return nil
}

func (c *Cluster) writeInventory() error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by isaplay's testcluster for %d local sshd test nodes.\n", len(c.Nodes))
	fmt.Fprintf(&b, "defaults {\n  user          = %s\n  port          = %d\n  identity_file = %s\n  known_hosts   = %s\n}\n",
		hclString(c.User), c.opts.Port, hclString(c.KeyFile), hclString(c.KnownHosts))
	for i, n := range c.Nodes {
		groups := c.opts.Groups(i)
		q := make([]string, len(groups))
		for j, g := range groups {
			q[j] = hclString(g)
		}
		fmt.Fprintf(&b, "\nhost %s {\n  address = %s\n  port    = %d\n  groups  = [%s]\n  vars    = { index = %d }\n}\n",
			hclString(n.Name), hclString(n.Address), n.Port, strings.Join(q, ", "), i)
	}
	if err := os.WriteFile(c.Inventory, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("testcluster: %w", err)
	}
	return nil
}

// hclString quotes s as an HCL string literal with no template sequences.
func hclString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}

// writeKey generates an ed25519 key, writes it in OpenSSH format (0600) with its .pub, and
// returns it as a signer.
func writeKey(path, comment string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + comment + "\n"
	if err := os.WriteFile(path+".pub", []byte(pub), 0o644); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	return signer, nil
}

// pickAddresses chooses n free addresses in a random 127.X.Y.0 range, so that concurrently
// running test packages do not collide; every address is checked by binding port.
func pickAddresses(n, port int) ([]string, error) {
	for try := 0; try < 20; try++ {
		x, _ := rand.Int(rand.Reader, big.NewInt(200))
		y, _ := rand.Int(rand.Reader, big.NewInt(256))
		base := (16+int(x.Int64()))<<16 | int(y.Int64())<<8
		var addrs []string
		ok := true
		for i := 0; i < n && ok; i++ {
			v := base + (i/250)<<8 + i%250 + 1
			a := fmt.Sprintf("127.%d.%d.%d", v>>16&0xff, v>>8&0xff, v&0xff)
			l, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
			addrs = append(addrs, a)
		}
		if ok {
			return addrs, nil
		}
	}
	return nil, fmt.Errorf("testcluster: no free range of %d loopback addresses for port %d", n, port)
}

// children maps every process to its children, from one scan of /proc.
func children() map[int][]int {
	kids := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := ppid(p); pp > 0 {
			kids[pp] = append(kids[pp], p)
		}
	}
	return kids
}

// tree returns the roots and all their descendants, parents before children.
func tree(kids map[int][]int, roots ...int) []int {
	out := append([]int(nil), roots...)
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i]]...)
	}
	return out
}

// signalTree sends sig to the roots and their descendants, top-down, repeating until no new
// process appears (a stopped parent cannot fork), and returns every pid signalled.
func signalTree(sig syscall.Signal, roots ...int) []int {
	seen := map[int]bool{}
	var all []int
	for {
		fresh := false
		for _, p := range tree(children(), roots...) {
			if !seen[p] {
				seen[p] = true
				all = append(all, p)
				syscall.Kill(p, sig)
				fresh = true
			}
		}
		if !fresh {
			return all
		}
	}
}

// killTrees freezes the trees, then kills every process in them.
func killTrees(roots []int) []int {
	if len(roots) == 0 {
		return nil
	}
	pids := signalTree(syscall.SIGSTOP, roots...)
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	return pids
}

func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name in parentheses may hold spaces; fields follow the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}
