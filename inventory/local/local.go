// Package local implements the connection to the controller itself: commands run with the local
// sh, files are read and written directly. It behaves as the SSH connection does, so unit tests
// and the `local` inventory connection exercise the same contract.
package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/isaplay/isaplay/inventory/conn"
)

// Conn is a connection to the controller. The zero value is ready to use.
type Conn struct {
	// Sudo is the command prefix used for Become; empty means commands already run as the
	// needed user (become is then a no-op), which is what tests as root want.
	Sudo []string
}

var _ conn.Conn = (*Conn)(nil)

// New returns a local connection.
func New() *Conn { return &Conn{} }

// abs resolves a relative path against the home directory, where an SSH login starts.
func abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p)
}

// Run runs c.Script with sh -c.
func (l *Conn) Run(ctx context.Context, c conn.Command) (conn.Result, error) {
	argv := []string{"sh", "-c", c.Script}
	if c.Become && len(l.Sudo) > 0 {
		argv = append(append([]string{}, l.Sudo...), argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// The script runs in its own process group, and cancelling kills the whole group: a child
	// holding the output pipe open must not keep Run waiting.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if dir := abs("."); dirExists(dir) {
		cmd.Dir = dir
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin = c.Stdin
	cmd.Stdout = &stdout
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	cmd.Stderr = &stderr
	err := cmd.Run()
	res := conn.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return res, fmt.Errorf("local: %w", ctx.Err())
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ExitCode = 128 + int(ws.Signal()) // as a shell reports it
		}
	default:
		return res, fmt.Errorf("local: run: %w", err)
	}
	return res, nil
}

// Stat reports each path without following symlinks.
func (l *Conn) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	out := make([]conn.FileInfo, len(paths))
	for i, p := range paths {
		fi, err := stat(p)
		if err != nil {
			return nil, err
		}
		if hash && fi.Type == conn.TypeFile {
			data, err := os.ReadFile(abs(p))
			if err != nil {
				return nil, fmt.Errorf("local: %w", err)
			}
			sum := sha256.Sum256(data)
			fi.SHA256 = hex.EncodeToString(sum[:])
		}
		out[i] = fi
	}
	return out, nil
}

// ReadFile reads a regular file's bytes along with its metadata.
func (l *Conn) ReadFile(ctx context.Context, path string, become bool) (conn.FileInfo, []byte, error) {
	fi, err := stat(path)
	if err != nil || fi.Type != conn.TypeFile {
		return fi, nil, err
	}
	data, err := os.ReadFile(abs(path))
	if err != nil {
		return fi, nil, fmt.Errorf("local: %w", err)
	}
	sum := sha256.Sum256(data)
	fi.SHA256 = hex.EncodeToString(sum[:])
	fi.Size = int64(len(data))
	return fi, data, nil
}

// WriteFile writes a temporary file beside path, syncs it, sets mode and owner, and renames it.
func (l *Conn) WriteFile(ctx context.Context, path string, data []byte, opts conn.WriteOptions) error {
	mode := opts.Mode
	if mode == 0 {
		mode = 0o644
	}
	path = abs(path)
	if opts.Backup != "" {
		if err := backup(path, abs(opts.Backup)); err != nil {
			return fmt.Errorf("local: write %s: backup: %w", path, err)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), conn.TempPrefix+"*")
	if err != nil {
		return fmt.Errorf("local: write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("local: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if opts.SHA256 != "" {
		// Read back what reached the disk, as the SSH connection does with sha256sum.
		h := sha256.New()
		if _, err := f.Seek(0, 0); err != nil {
			return fail(err)
		}
		if _, err := io.Copy(h, f); err != nil {
			return fail(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != opts.SHA256 {
			return fail(fmt.Errorf("sha256 of the written file is %s, want %s", got, opts.SHA256))
		}
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if opts.UID >= 0 || opts.GID >= 0 {
		if err := f.Chown(opts.UID, opts.GID); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("local: write %s: %w", path, err)
	}
	return nil
}

// backup copies the regular file at path to dst (bytes, mode, owner) unless dst exists, through
// a temporary name so that an existing backup is always whole.
func backup(path, dst string) error {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return nil // nothing to keep: the write creates the file or fails on its own
	}
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	sys := st.Sys().(*syscall.Stat_t)
	if err := os.Chmod(tmp, st.Mode().Perm()); err != nil {
		os.Remove(tmp)
		return err
	}
	// As cp -p: keeping the owner only works for root; others keep their own.
	if err := os.Lchown(tmp, int(sys.Uid), int(sys.Gid)); err != nil && os.Geteuid() == 0 {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// Dial opens a TCP connection from the controller.
func (l *Conn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Close does nothing: a local connection holds no resources.
func (l *Conn) Close() error { return nil }

func stat(p string) (conn.FileInfo, error) {
	fi := conn.FileInfo{Path: p}
	p = abs(p)
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fi, nil
	}
	if err != nil {
		return fi, fmt.Errorf("local: %w", err)
	}
	fi.Exists = true
	fi.Mode = st.Mode().Perm()
	fi.Size = st.Size()
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fi.UID, fi.GID = int(sys.Uid), int(sys.Gid)
	}
	switch {
	case st.Mode().IsRegular():
		fi.Type = conn.TypeFile
	case st.IsDir():
		fi.Type = conn.TypeDir
	case st.Mode()&fs.ModeSymlink != 0:
		fi.Type = conn.TypeSymlink
		fi.LinkTarget, err = os.Readlink(p)
		if err != nil {
			return fi, fmt.Errorf("local: %w", err)
		}
	default:
		fi.Type = conn.TypeOther
	}
	return fi, nil
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
