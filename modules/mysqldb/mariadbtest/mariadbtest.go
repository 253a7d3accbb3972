// Package mariadbtest starts a private MariaDB server for tests: its own data directory made by
// mariadb-install-db, bound to 127.0.0.1 on a free port, stopped (and its files removed) by Stop.
// It needs Debian's mariadb-server package; a test that uses it fails, never skips, without it.
package mariadbtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

	"github.com/go-sql-driver/mysql"
)

// Server is a running private MariaDB.
type Server struct {
	// Host and Port are where it listens (TCP, loopback only).
	Host string
	Port int
	// AdminUser and AdminPassword log in from 127.0.0.1 with every privilege and GRANT OPTION.
	AdminUser     string
	AdminPassword string
	// Dir holds the data directory, socket and log; Stop removes it.
	Dir string
	// Version is what SELECT VERSION() returns.
	Version string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	log     *syncBuffer
	stop    sync.Once
}

// Binaries are looked up in PATH and the Debian locations (sbin is not on every PATH).
func binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: install the mariadb-server package", name)
}

// Start starts a server for one test and stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := StartServer(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Main is a package's TestMain when all its tests share one server: it starts the server, sets
// *server, runs the tests and stops the server, and exits with their code (1 without a server).
func Main(m *testing.M, server **Server) {
	s, err := StartServer(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need a real MariaDB:", err)
		os.Exit(1)
	}
	*server = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// StartServer starts a server; the caller must call Stop (TestMain uses this to share one
// server between the tests of a package).
func StartServer(ctx context.Context) (*Server, error) {
	mariadbd, err := binary("mariadbd")
	if err != nil {
		return nil, err
	}
	installDB, err := binary("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	// A short directory under /tmp: the socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "mdb")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", Dir: dir, AdminUser: "isaplay_admin", log: &syncBuffer{}, done: make(chan struct{})}
	fail := func(err error) (*Server, error) {
		s.Stop()
		return nil, err
	}
	runAs := []string{}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		runAs = []string{"--user=root"}
	}
	datadir := filepath.Join(dir, "data")
	// A private temporary directory: servers started at once by parallel test packages must not
	// share (and remove) each other's temporary files in /tmp.
	tmpdir := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmpdir, 0o700); err != nil {
		return fail(err)
	}
	install := exec.CommandContext(ctx, installDB, append([]string{"--no-defaults", "--datadir=" + datadir, "--tmpdir=" + tmpdir,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}, runAs...)...)
	if out, err := install.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("mariadb-install-db: %w\n%s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	s.Port = port
	sock := filepath.Join(dir, "sock")
	s.cmd = exec.Command(mariadbd, append([]string{"--no-defaults", "--datadir=" + datadir, "--tmpdir=" + tmpdir, "--socket=" + sock,
		"--pid-file=" + filepath.Join(dir, "pid"), "--bind-address=127.0.0.1", "--port=" + strconv.Itoa(port),
		"--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
		"--max-connections=200"}, runAs...)...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return fail(err)
	}
	if err := s.cmd.Start(); err != nil {
		return fail(fmt.Errorf("start mariadbd: %w", err))
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.log.WriteString(line + "\n")
			if !signalled && strings.Contains(line, "ready for connections") {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case <-ready:
	case <-s.done:
		return fail(fmt.Errorf("mariadbd exited before it was ready: %v\n%s", s.waitErr, s.log.String()))
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-time.After(2 * time.Minute):
		return fail(fmt.Errorf("mariadbd not ready after 2 minutes:\n%s", s.log.String()))
	}
	// Root logs in on the socket without a password; make a TCP admin with one.
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return fail(err)
	}
	s.AdminPassword = "Adm1n-" + hex.EncodeToString(pw)
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", sock
	db, err := connect(cfg)
	if err != nil {
		return fail(fmt.Errorf("connect as root on the socket: %w", err))
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE USER '" + s.AdminUser + "'@'127.0.0.1' IDENTIFIED BY '" + s.AdminPassword + "'",
		"GRANT ALL PRIVILEGES ON *.* TO '" + s.AdminUser + "'@'127.0.0.1' WITH GRANT OPTION",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fail(fmt.Errorf("create admin user: %w", err))
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&s.Version); err != nil {
		return fail(err)
	}
	return s, nil
}

func connect(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// DSN returns a go-sql-driver DSN for the admin user, with multiStatements on.
func (s *Server) DSN() string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = s.AdminUser, s.AdminPassword, "tcp", s.Addr()
	cfg.MultiStatements = true
	return cfg.FormatDSN()
}

// Admin opens a connection pool as the admin user, closed when the test ends.
func (s *Server) Admin(tb testing.TB) *sql.DB {
	tb.Helper()
	cfg, err := mysql.ParseDSN(s.DSN())
	if err != nil {
		tb.Fatal(err)
	}
	db, err := connect(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Log returns what the server wrote to its error log so far.
func (s *Server) Log() string { return s.log.String() }

// Stop stops the server this package started (its own process only) and removes its files.
// It is safe to call more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM) // a clean shutdown
			select {
			case <-s.done:
			case <-time.After(time.Minute):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
		if s.Dir != "" {
			_ = os.RemoveAll(s.Dir)
		}
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ErrNotRunning is returned by Ping when the server has exited.
var ErrNotRunning = errors.New("mariadbd is not running")

// Ping reports whether the server process is still running.
func (s *Server) Ping() error {
	select {
	case <-s.done:
		return ErrNotRunning
	default:
		return nil
	}
}
