package sshconn

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// HostKeyPolicy says how host keys are checked against the known_hosts file.
type HostKeyPolicy string

// Host key policies. A changed key is refused under every policy but Off.
const (
	// Strict refuses hosts whose key is not in known_hosts (the default).
	Strict HostKeyPolicy = "strict"
	// AcceptNew pins the key of a host not yet in known_hosts by appending it, as OpenSSH's
	// StrictHostKeyChecking=accept-new does.
	AcceptNew HostKeyPolicy = "accept-new"
	// Off accepts any key and writes a warning.
	Off HostKeyPolicy = "off"
)

// Config describes how to reach one host. Zero fields take their value from the SSH config file
// (for the alias Address, or Host when Address is empty), then from OpenSSH's defaults.
type Config struct {
	// Host is the inventory name, used in messages.
	Host string
	// Address is a host name, IP address or ~/.ssh/config alias; default Host.
	Address string
	// Port defaults to the SSH config's Port, then 22.
	Port int
	// User defaults to the SSH config's User, then the current user.
	User string
	// IdentityFiles are private key files; default the SSH config's IdentityFile entries, then
	// ~/.ssh/id_ed25519, id_ecdsa and id_rsa where they exist. An encrypted key's passphrase is
	// asked on a terminal; without one the key is skipped.
	IdentityFiles []string
	// Password enables password authentication with this password (only when asked for).
	Password string
	// KnownHostsFile defaults to ~/.ssh/known_hosts.
	KnownHostsFile string
	// HostKeyPolicy defaults to Strict.
	HostKeyPolicy HostKeyPolicy
	// Warnings receives the warning printed when HostKeyPolicy is Off; default os.Stderr.
	Warnings io.Writer
	// Jump is a jump host, "[user@]host[:port]", or a comma-separated chain of them; default the
	// SSH config's ProxyJump. "none" disables it.
	Jump string
	// ConnectTimeout bounds the TCP connect plus the SSH handshake of one attempt; default 10s.
	ConnectTimeout time.Duration
	// KeepaliveInterval is how often an idle connection is probed; default 5s, negative disables.
	KeepaliveInterval time.Duration
	// KeepaliveCountMax is how many unanswered probes declare the connection lost; default 3.
	KeepaliveCountMax int
	// Retries is how many more connect attempts follow a failed one (network errors only, never
	// authentication or host key failures); default 2, negative for none.
	Retries int
	// RetryBackoff is the wait before the first retry, doubled each time; default 250ms.
	RetryBackoff time.Duration
	// BecomePassword is the sudo password for become; it is sent on standard input only.
	BecomePassword string
	// MaxSessions bounds the sessions open at once on the connection; default 10 (OpenSSH's
	// MaxSessions). Callers beyond it queue.
	MaxSessions int
	// SSHConfigFile defaults to ~/.ssh/config; "none" disables it.
	SSHConfigFile string
	// NoAgent disables the ssh-agent (otherwise used when SSH_AUTH_SOCK is set).
	NoAgent bool
	// Passphrase asks for an encrypted key's passphrase; default: prompt on the controlling
	// terminal when standard input is one, else the key is skipped.
	Passphrase func(keyFile string) ([]byte, error)
}

// resolved is a Config with every default filled in.
type resolved struct {
	Config
	hostname string // what to connect to (after HostName)
	jumps    []jumpSpec
}

type jumpSpec struct {
	user, host string
	port       int
}

func (c Config) name() string {
	if c.Host != "" {
		return c.Host
	}
	return c.Address
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}

func expandHome(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}

// sshConfig loads the SSH config file named by cfg, or nil when there is none.
func sshConfig(file string) (*ssh_config.Config, error) {
	explicit := file != ""
	if file == "none" {
		return nil, nil
	}
	if file == "" {
		file = filepath.Join(homeDir(), ".ssh", "config")
	}
	f, err := os.Open(expandHome(file))
	if err != nil {
		if !explicit && os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	c, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("ssh config %s: %w", file, err)
	}
	return c, nil
}

// resolve fills in defaults from the SSH config file and OpenSSH's own.
func resolve(c Config) (*resolved, error) {
	r := &resolved{Config: c}
	if r.Address == "" {
		r.Address = r.Host
	}
	if r.Address == "" {
		return nil, fmt.Errorf("no address")
	}
	sc, err := sshConfig(c.SSHConfigFile)
	if err != nil {
		return nil, err
	}
	get := func(key string) string {
		if sc == nil {
			return ""
		}
		v, _ := sc.Get(r.Address, key)
		return v
	}
	r.hostname = r.Address
	if v := get("HostName"); v != "" {
		r.hostname = strings.ReplaceAll(v, "%h", r.Address)
	}
	if r.Port == 0 {
		if v := get("Port"); v != "" {
			p, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("ssh config: Port %q: %w", v, err)
			}
			r.Port = p
		} else {
			r.Port = 22
		}
	}
	if r.User == "" {
		r.User = get("User")
	}
	if r.User == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("current user: %w", err)
		}
		r.User = u.Username
	}
	if len(r.IdentityFiles) == 0 && sc != nil {
		all, _ := sc.GetAll(r.Address, "IdentityFile")
		r.IdentityFiles = all
	}
	if len(r.IdentityFiles) == 0 {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			p := filepath.Join(homeDir(), ".ssh", n)
			if _, err := os.Stat(p); err == nil {
				r.IdentityFiles = append(r.IdentityFiles, p)
			}
		}
	}
	for i, f := range r.IdentityFiles {
		r.IdentityFiles[i] = expandHome(f)
	}
	if r.KnownHostsFile == "" {
		r.KnownHostsFile = filepath.Join(homeDir(), ".ssh", "known_hosts")
	}
	r.KnownHostsFile = expandHome(r.KnownHostsFile)
	switch r.HostKeyPolicy {
	case "":
		r.HostKeyPolicy = Strict
	case Strict, AcceptNew, Off:
	default:
		return nil, fmt.Errorf("unknown host key policy %q (want strict, accept-new or off)", r.HostKeyPolicy)
	}
	if r.Warnings == nil {
		r.Warnings = os.Stderr
	}
	jump := r.Jump
	if jump == "" {
		jump = get("ProxyJump")
	}
	if jump != "" && jump != "none" {
		for _, j := range strings.Split(jump, ",") {
			js, err := parseJump(strings.TrimSpace(j))
			if err != nil {
				return nil, err
			}
			r.jumps = append(r.jumps, js)
		}
	}
	if r.ConnectTimeout == 0 {
		r.ConnectTimeout = 10 * time.Second
	}
	if r.KeepaliveInterval == 0 {
		r.KeepaliveInterval = 5 * time.Second
	}
	if r.KeepaliveCountMax <= 0 {
		r.KeepaliveCountMax = 3
	}
	if r.Retries == 0 {
		r.Retries = 2
	}
	if r.Retries < 0 {
		r.Retries = 0
	}
	if r.RetryBackoff == 0 {
		r.RetryBackoff = 250 * time.Millisecond
	}
	if r.MaxSessions <= 0 {
		r.MaxSessions = 10
	}
	return r, nil
}

// parseJump parses "[user@]host[:port]" (an IPv6 host in brackets).
func parseJump(s string) (jumpSpec, error) {
	var j jumpSpec
	if s == "" {
		return j, fmt.Errorf("empty jump host")
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		j.user, s = s[:i], s[i+1:]
	}
	j.host = s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return j, fmt.Errorf("jump host %q: missing ]", s)
		}
		j.host = s[1:end]
		s = s[end+1:]
		if !strings.HasPrefix(s, ":") {
			return j, nil
		}
		s = s[1:]
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		j.host, s = s[:i], s[i+1:]
	} else {
		return j, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p <= 0 || p > 65535 {
		return j, fmt.Errorf("jump host %q: bad port", s)
	}
	j.port = p
	return j, nil
}
