// Package conntest is a conformance suite for conn.Conn implementations: every connection (local,
// SSH) must pass the same tests, so modules can rely on one behaviour.
package conntest

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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/isaplay/isaplay/inventory/conn"
)

// Harness is what the suite needs from a connection under test.
type Harness struct {
	// Conn is the connection under test.
	Conn conn.Conn
	// Dir is an absolute directory on the host, empty and writable, for the suite's files.
	Dir string
	// Local maps a path on the host to the controller-side path of the same file, so the suite
	// can check effects independently of Conn. Nil means the identity (local connections).
	Local func(hostPath string) string
	// Home is the login directory on the host, which relative paths are relative to.
	Home string
	// MaxSessions, when positive, is the most commands the connection may run at once; the
	// concurrency test fails when more ran together.
	MaxSessions int
}

func (h Harness) local(p string) string {
	if h.Local == nil {
		return p
	}
	return h.Local(p)
}

// Run runs the whole suite as subtests of t.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Run", testRun},
		{"RunStreaming", testStreaming},
		{"RunCancel", testCancel},
		{"Stat", testStat},
		{"ReadFile", testReadFile},
		{"WriteFile", testWriteFile},
		{"WriteFiles", testWriteFiles},
		{"Concurrency", testConcurrency},
		{"Dial", testDial},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(h.Dir, tc.name)
			if err := os.MkdirAll(h.local(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			hh := h
			hh.Dir = dir
			tc.fn(t, hh)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// allBytes is every byte value, NULs included, twice.
func allBytes() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func testRun(t *testing.T, h Harness) {
	big := bytes.Repeat(allBytes(), 4096) // 2 MiB, binary
	bigFile := filepath.Join(h.Dir, "big")
	if err := os.WriteFile(h.local(bigFile), big, 0o644); err != nil {
		t.Fatal(err)
	}
	hostile := []string{"a b", "it's", `"$HOME"`, "`id`", "$(id)", "x\ny", "-n", "*", ";true", "\\", "tab\there", "ünï", "\r\n"}
	tests := []struct {
		name   string
		cmd    conn.Command
		stdout []byte
		stderr string
		code   int
	}{
		{"true", conn.Command{Script: "true"}, nil, "", 0},
		{"exit code", conn.Command{Script: "echo out; echo err >&2; exit 3"}, []byte("out\n"), "err\n", 3},
		{"exit 255", conn.Command{Script: "exit 255"}, nil, "", 255},
		{"no trailing newline", conn.Command{Script: "printf abc"}, []byte("abc"), "", 0},
		{"multi-line script", conn.Command{Script: "a=1\nif [ $a = 1 ]; then\n  echo one\nfi\n"}, []byte("one\n"), "", 0},
		{"quoted args", conn.Command{Script: "printf '%s\\n' " + conn.Join(hostile...)}, []byte(strings.Join(hostile, "\n") + "\n"), "", 0},
		{"stdin binary", conn.Command{Script: "cat", Stdin: bytes.NewReader(allBytes())}, allBytes(), "", 0},
		{"stdin empty", conn.Command{Script: "cat; echo end", Stdin: bytes.NewReader(nil)}, []byte("end\n"), "", 0},
		{"no stdin reads nothing", conn.Command{Script: "cat; echo end"}, []byte("end\n"), "", 0},
		{"stdin not consumed", conn.Command{Script: "head -c 1", Stdin: strings.NewReader("xyz")}, []byte("x"), "", 0},
		{"big binary output", conn.Command{Script: "cat " + conn.Quote(bigFile)}, big, "", 0},
		{"stderr binary", conn.Command{Script: "printf 'a\\000b' >&2"}, nil, "a\x00b", 0},
		{"killed by signal", conn.Command{Script: "kill -9 $$"}, nil, "", 137},
		{"pwd is home", conn.Command{Script: "pwd"}, []byte(h.Home + "\n"), "", 0},
	}
	// Each case runs as a command and as isaplay's own script in a subshell; $$ is then not the
	// script's own, so the signal case has no subshell twin.
	for _, sub := range []bool{false, true} {
		for _, tc := range tests {
			if sub && tc.name == "killed by signal" {
				continue
			}
			if r, ok := tc.cmd.Stdin.(*bytes.Reader); ok {
				r.Seek(0, io.SeekStart)
			}
			if r, ok := tc.cmd.Stdin.(*strings.Reader); ok {
				r.Seek(0, io.SeekStart)
			}
			tc.cmd.Subshell = sub
			if sub {
				tc.name += " (subshell)"
			}
			runCase(t, h, tc.name, tc.cmd, tc.stdout, tc.stderr, tc.code)
		}
	}
	// A standard input of unknown length (a connection may read it whole first) and one that is
	// Sized (it may be streamed), larger than any buffer on the way.
	for _, sub := range []bool{false, true} {
		runCase(t, h, fmt.Sprintf("stdin unsized (subshell %v)", sub), conn.Command{Script: "cat", Subshell: sub,
			Stdin: io.MultiReader(bytes.NewReader(big))}, big, "", 0)
		runCase(t, h, fmt.Sprintf("stdin sized (subshell %v)", sub), conn.Command{Script: "cat", Subshell: sub,
			Stdin: &conn.SizedReader{R: io.MultiReader(bytes.NewReader(big)), N: len(big)}}, big, "", 0)
	}
	// What a subshell script changes in its shell (directory, umask, variables, traps) does
	// not reach the next script.
	state := "pwd; umask; echo \"${X-unset}\""
	before, err := h.Conn.Run(ctx(t), conn.Command{Script: state})
	if err != nil || !bytes.HasSuffix(before.Stdout, []byte("\nunset\n")) {
		t.Fatalf("state before: %q, %v", before.Stdout, err)
	}
	runCase(t, h, "subshell changes its shell", conn.Command{Subshell: true,
		Script: "cd / && umask 0 && X=1 && trap 'echo trapped' EXIT && exit 4"}, []byte("trapped\n"), "", 4)
	for _, sub := range []bool{true, false} {
		runCase(t, h, fmt.Sprintf("after it (subshell %v)", sub), conn.Command{Subshell: sub, Script: state}, before.Stdout, "", 0)
	}
	// The connection stays usable after all that.
	res, err := h.Conn.Run(ctx(t), conn.Command{Script: "echo still"})
	if err != nil || string(res.Stdout) != "still\n" {
		t.Fatalf("after the table: %q, %v", res.Stdout, err)
	}
}

// runCase runs one command of testRun's table and checks what it printed and its exit status.
func runCase(t *testing.T, h Harness, name string, cmd conn.Command, stdout []byte, stderr string, code int) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if strings.HasPrefix(name, "pwd is home") && h.Home == "" {
			t.Fatal("harness has no Home")
		}
		res, err := h.Conn.Run(ctx(t), cmd)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !bytes.Equal(res.Stdout, stdout) {
			t.Errorf("stdout = %q, want %q", short(res.Stdout), short(stdout))
		}
		if string(res.Stderr) != stderr {
			t.Errorf("stderr = %q, want %q", res.Stderr, stderr)
		}
		if res.ExitCode != code {
			t.Errorf("exit code = %d, want %d", res.ExitCode, code)
		}
	})
}

func short(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "..."...)
	}
	return b
}

// chanWriter sends each write to a channel, so a test sees output while the command runs.
type chanWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan string
}

func (w *chanWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	select {
	case w.ch <- w.buf.String():
	default:
	}
	return len(p), nil
}

func testStreaming(t *testing.T, h Harness) {
	fifo := filepath.Join(h.Dir, "fifo")
	if err := syscall.Mkfifo(h.local(fifo), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &chanWriter{ch: make(chan string, 100)}
	done := make(chan error, 1)
	go func() {
		// "second" is only printed after the test has seen "first": output must stream.
		res, err := h.Conn.Run(ctx(t), conn.Command{Script: "echo first; read x < " + conn.Quote(fifo) + "; echo second $x", Stdout: w})
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
		}
		if err == nil && len(res.Stdout) != 0 {
			err = fmt.Errorf("Result.Stdout = %q, want empty when Command.Stdout is set", res.Stdout)
		}
		done <- err
	}()
	timeout := time.After(20 * time.Second)
	for seen := false; !seen; {
		select {
		case s := <-w.ch:
			seen = strings.Contains(s, "first\n")
		case err := <-done:
			t.Fatalf("command ended before the test released it: %v", err)
		case <-timeout:
			t.Fatal("no streamed output within 20s")
		}
	}
	f, err := os.OpenFile(h.local(fifo), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("go\n")
	f.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if got := w.buf.String(); got != "first\nsecond go\n" {
		t.Fatalf("streamed %q", got)
	}
}

func testCancel(t *testing.T, h Harness) {
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Conn.Run(c, conn.Command{Script: "sleep 30"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run with an expiring context: err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancelled Run returned after %v", d)
	}
	res, err := h.Conn.Run(ctx(t), conn.Command{Script: "echo ok"})
	if err != nil || string(res.Stdout) != "ok\n" {
		t.Fatalf("after a cancelled Run: %q, %v", res.Stdout, err)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func testStat(t *testing.T, h Harness) {
	d := h.Dir
	content := []byte("hello\x00world\r\n")
	odd := filepath.Join(d, "odd 'name'\n$x")
	mustWrite(t, h.local(filepath.Join(d, "file")), content, 0o640)
	mustWrite(t, h.local(odd), nil, 0o600)
	if err := os.Chown(h.local(filepath.Join(d, "file")), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h.local(filepath.Join(d, "dir")), 0o751); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", h.local(filepath.Join(d, "link"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nowhere/at all", h.local(filepath.Join(d, "dangling"))); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(h.local(filepath.Join(d, "fifo")), 0o600); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		filepath.Join(d, "file"), filepath.Join(d, "dir"), filepath.Join(d, "link"), filepath.Join(d, "missing"),
		filepath.Join(d, "file", "child"), filepath.Join(d, "dangling"), odd, filepath.Join(d, "fifo"), filepath.Join(d, "file"),
	}
	want := []conn.FileInfo{
		{Exists: true, Type: conn.TypeFile, Mode: 0o640, UID: 1234, GID: 5678, Size: int64(len(content)), SHA256: sum(content)},
		{Exists: true, Type: conn.TypeDir, Mode: 0o751},
		{Exists: true, Type: conn.TypeSymlink, Mode: 0o777, Size: 4, LinkTarget: "file"},
		{},
		{},
		{Exists: true, Type: conn.TypeSymlink, Mode: 0o777, Size: 15, LinkTarget: "/nowhere/at all"},
		{Exists: true, Type: conn.TypeFile, Mode: 0o600, SHA256: sum(nil)},
		{Exists: true, Type: conn.TypeOther, Mode: 0o600},
		{Exists: true, Type: conn.TypeFile, Mode: 0o640, UID: 1234, GID: 5678, Size: int64(len(content)), SHA256: sum(content)},
	}
	for _, hash := range []bool{true, false} {
		got, err := h.Conn.Stat(ctx(t), paths, hash)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if len(got) != len(paths) {
			t.Fatalf("Stat returned %d infos for %d paths", len(got), len(paths))
		}
		for i, w := range want {
			w.Path = paths[i]
			if !hash {
				w.SHA256 = ""
			}
			g := got[i]
			if w.Type == conn.TypeDir {
				g.Size, g.UID, g.GID = 0, 0, 0
			}
			if g != w {
				t.Errorf("Stat(hash=%v) %q:\n got %+v\nwant %+v", hash, paths[i], g, w)
			}
		}
	}
	// Relative paths are relative to the login directory.
	if h.Home != "" {
		rel := "conntest-rel-" + strconv.Itoa(os.Getpid())
		mustWrite(t, h.local(filepath.Join(h.Home, rel)), []byte("r"), 0o644)
		defer os.Remove(h.local(filepath.Join(h.Home, rel)))
		got, err := h.Conn.Stat(ctx(t), []string{rel}, true)
		if err != nil || !got[0].Exists || got[0].SHA256 != sum([]byte("r")) || got[0].Path != rel {
			t.Errorf("Stat of relative %q = %+v, %v", rel, got, err)
		}
	}
	if got, err := h.Conn.Stat(ctx(t), nil, true); err != nil || len(got) != 0 {
		t.Errorf("Stat(nil) = %v, %v", got, err)
	}
}

func mustWrite(t *testing.T, p string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func testReadFile(t *testing.T, h Harness) {
	latin1 := []byte("caf\xe9 na\xefve \xa9\n")
	files := []struct {
		name string
		data []byte
	}{
		{"binary", allBytes()},
		{"nul only", []byte{0, 0, 0}},
		{"crlf", []byte("a=1\r\nb=2\r\n")},
		{"no trailing newline", []byte("last line")},
		{"latin1", latin1},
		{"empty", []byte{}},
		{"big", bytes.Repeat([]byte("0123456789abcdef"), 256*1024)}, // 4 MiB
		{"marker-like", []byte("\x00isaplay-end-0000 0\n\x00")},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			p := filepath.Join(h.Dir, f.name)
			mustWrite(t, h.local(p), f.data, 0o604)
			fi, data, err := h.Conn.ReadFile(ctx(t), p, false)
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if !bytes.Equal(data, f.data) {
				t.Fatalf("data = %q, want %q", short(data), short(f.data))
			}
			if data == nil {
				t.Fatal("data of an existing empty file is nil, want empty")
			}
			want := conn.FileInfo{Path: p, Exists: true, Type: conn.TypeFile, Mode: 0o604, UID: os.Getuid(), GID: os.Getgid(),
				Size: int64(len(f.data)), SHA256: sum(f.data)}
			if fi != want {
				t.Fatalf("info = %+v, want %+v", fi, want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		p := filepath.Join(h.Dir, "nope")
		fi, data, err := h.Conn.ReadFile(ctx(t), p, false)
		if err != nil || fi.Exists || data != nil || fi.Path != p {
			t.Fatalf("ReadFile(missing) = %+v, %q, %v", fi, data, err)
		}
	})
	t.Run("dir", func(t *testing.T) {
		fi, data, err := h.Conn.ReadFile(ctx(t), h.Dir, false)
		if err != nil || !fi.Exists || fi.Type != conn.TypeDir || data != nil {
			t.Fatalf("ReadFile(dir) = %+v, %q, %v", fi, data, err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		p := filepath.Join(h.Dir, "ln")
		if err := os.Symlink("binary", h.local(p)); err != nil {
			t.Fatal(err)
		}
		fi, data, err := h.Conn.ReadFile(ctx(t), p, false)
		if err != nil || fi.Type != conn.TypeSymlink || fi.LinkTarget != "binary" || data != nil {
			t.Fatalf("ReadFile(symlink) = %+v, %q, %v", fi, data, err)
		}
	})
	t.Run("unreadable is an error", func(t *testing.T) {
		if os.Getuid() == 0 {
			// root reads anything; use a directory path with a file component instead.
			p := filepath.Join(h.Dir, "binary", "x")
			fi, _, err := h.Conn.ReadFile(ctx(t), p, false)
			if err != nil || fi.Exists {
				t.Fatalf("ReadFile(file/x) = %+v, %v; want missing", fi, err)
			}
			return
		}
		p := filepath.Join(h.Dir, "secret")
		mustWrite(t, h.local(p), []byte("s"), 0o000)
		if _, _, err := h.Conn.ReadFile(ctx(t), p, false); err == nil {
			t.Fatal("ReadFile of an unreadable file succeeded")
		}
	})
}

func testWriteFile(t *testing.T, h Harness) {
	d := h.Dir
	umask := func() string {
		res, err := h.Conn.Run(ctx(t), conn.Command{Script: "umask"})
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Stdout)
	}
	before := umask()
	defer func() {
		if after := umask(); after != before {
			t.Errorf("umask of later commands changed from %q to %q", before, after)
		}
	}()
	tests := []struct {
		name     string
		existing []byte
		data     []byte
		opts     conn.WriteOptions
		mode     fs.FileMode
		uid, gid int
	}{
		{"new default mode", nil, []byte("new\n"), conn.WriteOptions{UID: -1, GID: -1}, 0o644, os.Getuid(), os.Getgid()},
		{"new 0600", nil, allBytes(), conn.WriteOptions{Mode: 0o600, UID: -1, GID: -1}, 0o600, os.Getuid(), os.Getgid()},
		{"replace keeps asked owner", []byte("old"), []byte("a=1\r\nb=\xe9"), conn.WriteOptions{Mode: 0o640, UID: 1234, GID: 5678}, 0o640, 1234, 5678},
		{"empty", []byte("old"), []byte{}, conn.WriteOptions{Mode: 0o755, UID: -1, GID: -1}, 0o755, os.Getuid(), os.Getgid()},
		{"big", nil, bytes.Repeat(allBytes(), 8192), conn.WriteOptions{Mode: 0o644, UID: -1, GID: -1}, 0o644, os.Getuid(), os.Getgid()},
		{"odd 'name' $x\n", nil, []byte("x"), conn.WriteOptions{Mode: 0o644, UID: -1, GID: -1}, 0o644, os.Getuid(), os.Getgid()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(d, tc.name)
			var oldIno uint64
			if tc.existing != nil {
				mustWrite(t, h.local(p), tc.existing, 0o666)
				st, _ := os.Stat(h.local(p))
				oldIno = st.Sys().(*syscall.Stat_t).Ino
			}
			if err := h.Conn.WriteFile(ctx(t), p, tc.data, tc.opts); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			got, err := os.ReadFile(h.local(p))
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("file holds %q (%v), want %q", short(got), err, short(tc.data))
			}
			st, err := os.Lstat(h.local(p))
			if err != nil {
				t.Fatal(err)
			}
			sys := st.Sys().(*syscall.Stat_t)
			if st.Mode() != tc.mode || int(sys.Uid) != tc.uid || int(sys.Gid) != tc.gid {
				t.Errorf("mode %v owner %d:%d, want %v %d:%d", st.Mode(), sys.Uid, sys.Gid, tc.mode, tc.uid, tc.gid)
			}
			if tc.existing != nil && sys.Ino == oldIno {
				t.Errorf("inode unchanged: the file was rewritten in place, not replaced by a rename")
			}
		})
	}
	t.Run("no temporary files left", func(t *testing.T) {
		ents, err := os.ReadDir(h.local(d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.Contains(e.Name(), "tmp") {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	})
	t.Run("missing directory is an error", func(t *testing.T) {
		err := h.Conn.WriteFile(ctx(t), filepath.Join(d, "no", "such", "f"), []byte("x"), conn.WriteOptions{UID: -1, GID: -1})
		if err == nil {
			t.Fatal("WriteFile into a missing directory succeeded")
		}
	})
	t.Run("over a directory is an error", func(t *testing.T) {
		p := filepath.Join(d, "adir")
		if err := os.Mkdir(h.local(p), 0o755); err != nil {
			t.Fatal(err)
		}
		err := h.Conn.WriteFile(ctx(t), p, []byte("x"), conn.WriteOptions{UID: -1, GID: -1})
		if err == nil {
			t.Fatal("WriteFile over a directory succeeded")
		}
		if st, err := os.Lstat(h.local(p)); err != nil || !st.IsDir() {
			t.Fatalf("directory damaged: %v", err)
		}
		ents, _ := os.ReadDir(h.local(p))
		ents2, _ := os.ReadDir(h.local(d))
		for _, e := range append(ents, ents2...) {
			if strings.Contains(e.Name(), "tmp") {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	})
	t.Run("backup before the write", func(t *testing.T) {
		p := filepath.Join(d, "backed up")
		bak := filepath.Join(d, "state dir", "runs", "r1", "backups", "b'1")
		mustWrite(t, h.local(p), []byte("original\n"), 0o640)
		if err := os.Chown(h.local(p), 1234, 5678); err != nil {
			t.Fatal(err)
		}
		if err := h.Conn.WriteFile(ctx(t), p, []byte("first\n"), conn.WriteOptions{UID: -1, GID: -1, Backup: bak}); err != nil {
			t.Fatal(err)
		}
		// A second write keeps the first backup: it holds the original, not "first".
		if err := h.Conn.WriteFile(ctx(t), p, []byte("second\n"), conn.WriteOptions{UID: -1, GID: -1, Backup: bak}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(h.local(bak))
		if err != nil || string(got) != "original\n" {
			t.Fatalf("backup holds %q (%v), want the original", got, err)
		}
		st, err := os.Stat(h.local(bak))
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm() != 0o640 || sys.Uid != 1234 || sys.Gid != 5678 {
			t.Errorf("backup mode %v owner %d:%d, want the original's 0640 1234:5678", st.Mode().Perm(), sys.Uid, sys.Gid)
		}
		if st, err := os.Stat(h.local(filepath.Dir(bak))); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("backup directory: %v, %v; want mode 0700", st.Mode(), err)
		}
		if got, _ := os.ReadFile(h.local(p)); string(got) != "second\n" {
			t.Errorf("file holds %q", got)
		}
		// A new file has nothing to back up: no backup appears.
		nb := filepath.Join(d, "state dir", "none")
		if err := h.Conn.WriteFile(ctx(t), filepath.Join(d, "fresh"), []byte("x"), conn.WriteOptions{UID: -1, GID: -1, Backup: nb}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(h.local(nb)); !os.IsNotExist(err) {
			t.Errorf("backup of a new file: %v", err)
		}
	})
	t.Run("failed backup leaves the file alone", func(t *testing.T) {
		p := filepath.Join(d, "kept")
		mustWrite(t, h.local(p), []byte("original"), 0o644)
		blocker := filepath.Join(d, "blocker")
		mustWrite(t, h.local(blocker), nil, 0o644)
		err := h.Conn.WriteFile(ctx(t), p, []byte("new"), conn.WriteOptions{UID: -1, GID: -1, Backup: filepath.Join(blocker, "sub", "b")})
		if err == nil {
			t.Fatal("write whose backup cannot be made succeeded")
		}
		if got, _ := os.ReadFile(h.local(p)); string(got) != "original" {
			t.Errorf("file holds %q after a failed backup", got)
		}
	})
	t.Run("sha256 verified before the rename", func(t *testing.T) {
		p := filepath.Join(d, "verified")
		mustWrite(t, h.local(p), []byte("original"), 0o644)
		data := []byte("new bytes\n")
		err := h.Conn.WriteFile(ctx(t), p, data, conn.WriteOptions{UID: -1, GID: -1, SHA256: sum([]byte("other bytes"))})
		if err == nil || !strings.Contains(err.Error(), "sha256") {
			t.Fatalf("write with a wrong digest: %v, want a sha256 error", err)
		}
		if got, _ := os.ReadFile(h.local(p)); string(got) != "original" {
			t.Errorf("file holds %q after a failed verification", got)
		}
		if err := h.Conn.WriteFile(ctx(t), p, data, conn.WriteOptions{UID: -1, GID: -1, SHA256: sum(data)}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(h.local(p)); !bytes.Equal(got, data) {
			t.Errorf("file holds %q", got)
		}
		ents, _ := os.ReadDir(h.local(d))
		for _, e := range ents {
			if strings.Contains(e.Name(), "tmp") {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	})
	t.Run("read back through the connection", func(t *testing.T) {
		p := filepath.Join(d, "roundtrip")
		data := []byte("line1\r\nline2\x00\xff")
		if err := h.Conn.WriteFile(ctx(t), p, data, conn.WriteOptions{Mode: 0o600, UID: -1, GID: -1}); err != nil {
			t.Fatal(err)
		}
		fi, got, err := h.Conn.ReadFile(ctx(t), p, false)
		if err != nil || !bytes.Equal(got, data) || fi.Mode != 0o600 || fi.SHA256 != sum(data) {
			t.Fatalf("ReadFile after WriteFile = %+v, %q, %v", fi, got, err)
		}
	})
}

func testConcurrency(t *testing.T, h Harness) {
	const n = 30
	d := h.Dir
	// Each command marks itself running, counts the running ones (a shell glob: no process),
	// works a little, counts again, and unmarks itself.
	script := func(i int) string {
		m := conn.Quote(filepath.Join(d, "run."+strconv.Itoa(i)))
		glob := conn.Quote(d) + "/run.*"
		return ": > " + m + "\nset -- " + glob + "; a=$#\n" +
			"i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done\n" +
			"set -- " + glob + "; b=$#\nrm -f " + m + "\necho " + strconv.Itoa(i) + " $a $b"
	}
	var wg sync.WaitGroup
	results := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := h.Conn.Run(ctx(t), conn.Command{Script: script(i)})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
			}
			results[i], errs[i] = string(res.Stdout), err
		}(i)
	}
	wg.Wait()
	most := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("command %d: %v", i, errs[i])
		}
		f := strings.Fields(results[i])
		if len(f) != 3 || f[0] != strconv.Itoa(i) {
			t.Fatalf("command %d printed %q", i, results[i])
		}
		for _, s := range f[1:] {
			v, _ := strconv.Atoi(s)
			most = max(most, v)
		}
	}
	t.Logf("at most %d commands ran at once", most)
	if h.MaxSessions > 0 && most > h.MaxSessions {
		t.Fatalf("%d commands ran at once, limit %d", most, h.MaxSessions)
	}
}

func testDial(t *testing.T, h Harness) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	c, err := h.Conn.Dial(ctx(t), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	msg := allBytes()
	go c.Write(msg)
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through Dial: %q, %v", short(got), err)
	}
	// Nothing listens here: the error must come back, not hang.
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l2.Addr().String()
	l2.Close()
	if c2, err := h.Conn.Dial(ctx(t), "tcp", addr); err == nil {
		c2.Close()
		t.Fatal("Dial to a closed port succeeded")
	}
}

// testWriteFiles checks conn.WriteFiles (the connection's batch, or its WriteFile one by one):
// files in several directories (names a shell, a regular expression or tar's --transform could
// misread), backups, owners, digests and a path written twice all land as with WriteFile; after
// a failure, what is reported made holds the new bytes and every other target its old ones.
func testWriteFiles(t *testing.T, h Harness) {
	d := h.Dir
	dirs := []string{filepath.Join(d, "a"), filepath.Join(d, `b [x].*^$\&|'q' "d" $HOME`), filepath.Join(d, "c\nline")}
	for _, dir := range dirs {
		if err := os.MkdirAll(h.local(dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bakDir := filepath.Join(d, `state & \1 [dir]`, "runs", "r1", "backups")
	leftovers := func(t *testing.T) {
		t.Helper()
		for _, dir := range append(dirs, d, bakDir) {
			ents, _ := os.ReadDir(h.local(dir))
			for _, e := range ents {
				if strings.Contains(e.Name(), "isaplay") {
					t.Errorf("left behind in %s: %s", dir, e.Name())
				}
			}
		}
	}

	t.Run("batch", func(t *testing.T) {
		replaced := filepath.Join(dirs[1], `conf [1].xml`)
		mustWrite(t, h.local(replaced), []byte("original\r\n"), 0o640)
		if err := os.Chown(h.local(replaced), 1234, 5678); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(h.local(replaced))
		oldIno := st.Sys().(*syscall.Stat_t).Ino
		twice := filepath.Join(dirs[0], "twice")
		mustWrite(t, h.local(twice), []byte("v0"), 0o600)
		jar := allBytes()
		writes := []conn.FileWrite{
			{Path: replaced, Data: []byte("new\r\n"), Opts: conn.WriteOptions{Mode: 0o640, UID: 1234, GID: 5678, Backup: filepath.Join(bakDir, "b1")}},
			{Path: filepath.Join(dirs[0], "new.txt"), Data: []byte("fresh"), Opts: conn.WriteOptions{UID: -1, GID: -1, Backup: filepath.Join(bakDir, "none")}},
			{Path: twice, Data: []byte("v1"), Opts: conn.WriteOptions{Mode: 0o600, UID: -1, GID: -1, Backup: filepath.Join(bakDir, "t0")}},
			{Path: filepath.Join(dirs[0], "x.jar"), Data: jar, Opts: conn.WriteOptions{Mode: 0o644, UID: -1, GID: 5678, SHA256: sum(jar)}},
			{Path: filepath.Join(dirs[1], `back\slash.jar`), Data: []byte("y"), Opts: conn.WriteOptions{UID: -1, GID: -1, SHA256: sum([]byte("y"))}},
			{Path: filepath.Join(dirs[2], "odd\nname"), Data: []byte("nl"), Opts: conn.WriteOptions{Mode: 0o600, UID: -1, GID: -1, SHA256: sum([]byte("nl"))}},
			{Path: twice, Data: []byte("v2"), Opts: conn.WriteOptions{Mode: 0o644, UID: -1, GID: -1, Backup: filepath.Join(bakDir, "t1")}},
		}
		made, err := conn.WriteFiles(ctx(t), h.Conn, writes)
		if err != nil {
			t.Fatalf("WriteFiles: %v", err)
		}
		for i, m := range made {
			if !m {
				t.Errorf("write %d (%s) not reported made", i, writes[i].Path)
			}
		}
		want := []struct {
			path     string
			data     string
			mode     fs.FileMode
			uid, gid int
		}{
			{replaced, "new\r\n", 0o640, 1234, 5678},
			{writes[1].Path, "fresh", 0o644, os.Getuid(), os.Getgid()},
			{twice, "v2", 0o644, os.Getuid(), os.Getgid()},
			{writes[3].Path, string(jar), 0o644, os.Getuid(), 5678},
			{writes[4].Path, "y", 0o644, os.Getuid(), os.Getgid()},
			{writes[5].Path, "nl", 0o600, os.Getuid(), os.Getgid()},
			{filepath.Join(bakDir, "b1"), "original\r\n", 0o640, 1234, 5678},
			{filepath.Join(bakDir, "t0"), "v0", 0o600, os.Getuid(), os.Getgid()},
			{filepath.Join(bakDir, "t1"), "v1", 0o600, os.Getuid(), os.Getgid()},
		}
		for _, w := range want {
			got, err := os.ReadFile(h.local(w.path))
			if err != nil || string(got) != w.data {
				t.Errorf("%s holds %q (%v), want %q", w.path, short(got), err, short([]byte(w.data)))
				continue
			}
			st, _ := os.Lstat(h.local(w.path))
			sys := st.Sys().(*syscall.Stat_t)
			if st.Mode() != w.mode || int(sys.Uid) != w.uid || int(sys.Gid) != w.gid {
				t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", w.path, st.Mode(), sys.Uid, sys.Gid, w.mode, w.uid, w.gid)
			}
		}
		if _, err := os.Lstat(h.local(filepath.Join(bakDir, "none"))); !os.IsNotExist(err) {
			t.Errorf("backup of a new file: %v", err)
		}
		if st, _ := os.Stat(h.local(replaced)); st.Sys().(*syscall.Stat_t).Ino == oldIno {
			t.Error("inode unchanged: the file was rewritten in place, not replaced by a rename")
		}
		leftovers(t)
	})

	t.Run("failure", func(t *testing.T) {
		p1, p2 := filepath.Join(dirs[0], "keep1"), filepath.Join(dirs[1], "keep2")
		blocker := filepath.Join(dirs[0], "sub")
		if err := os.Mkdir(h.local(blocker), 0o755); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name  string
			last  conn.FileWrite
			cause string
		}{
			{"wrong digest", conn.FileWrite{Path: filepath.Join(dirs[0], "bad.jar"), Data: []byte("jar"), Opts: conn.WriteOptions{UID: -1, GID: -1, SHA256: sum([]byte("other"))}}, "bad.jar"},
			{"missing directory", conn.FileWrite{Path: filepath.Join(d, "no", "such", "f"), Data: []byte("x"), Opts: conn.WriteOptions{UID: -1, GID: -1}}, "no such"},
			{"a directory in the way", conn.FileWrite{Path: blocker, Data: []byte("x"), Opts: conn.WriteOptions{UID: -1, GID: -1}}, "sub"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				mustWrite(t, h.local(p1), []byte("one"), 0o644)
				mustWrite(t, h.local(p2), []byte("two"), 0o644)
				writes := []conn.FileWrite{
					{Path: p1, Data: []byte("changed"), Opts: conn.WriteOptions{UID: -1, GID: -1, Backup: filepath.Join(bakDir, "k1")}},
					{Path: p2, Data: []byte("changed"), Opts: conn.WriteOptions{UID: -1, GID: -1, SHA256: sum([]byte("changed"))}},
					tc.last,
				}
				made, err := conn.WriteFiles(ctx(t), h.Conn, writes)
				if err == nil || !strings.Contains(err.Error(), tc.cause) {
					t.Fatalf("WriteFiles: %v, want an error about %q", err, tc.cause)
				}
				if made[2] {
					t.Error("the failed write reported made")
				}
				// What is reported made holds the new bytes; the rest the old ones.
				for i, old := range []string{"one", "two"} {
					want := old
					if made[i] {
						want = "changed"
					}
					if got, _ := os.ReadFile(h.local(writes[i].Path)); string(got) != want {
						t.Errorf("%s holds %q after a failed batch (made %v), want %q", writes[i].Path, got, made[i], want)
					}
				}
				if st, err := os.Lstat(h.local(blocker)); err != nil || !st.IsDir() {
					t.Errorf("directory damaged: %v", err)
				}
				leftovers(t)
			})
		}
	})
}
