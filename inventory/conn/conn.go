// Package conn defines the connection to one host that modules and the engine use: run a
// command, read, stat and atomically write files, and dial TCP from the host. The local and SSH
// connections implement it; the engine wraps it so that a plan reads through earlier tasks.
package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
)

// Conn is an open connection to one host. It is safe for concurrent use: commands run as
// independent sessions (bounded per connection) and file operations may overlap.
//
// Every method takes a context; cancelling it aborts the remote operation and returns ctx.Err()
// wrapped with the host's name. A broken connection makes every later call fail with an error
// that wraps ErrConnLost.
type Conn interface {
	// Run runs c.Script with sh on the host and waits for it. A non-zero exit status is not an
	// error: it is reported in Result.ExitCode. The error is for failures to run at all.
	Run(ctx context.Context, c Command) (Result, error)
	// Stat returns what is at each path, in one round trip. A missing path is not an error: its
	// FileInfo has Exists false. With hash, regular files carry their sha256.
	Stat(ctx context.Context, paths []string, hash bool) ([]FileInfo, error)
	// ReadFile returns what is at path and, for a regular file, its bytes, in one round trip.
	// A missing file is not an error (Exists false, nil data); a directory has nil data.
	ReadFile(ctx context.Context, path string, become bool) (FileInfo, []byte, error)
	// WriteFile replaces path atomically with data: a temporary file in the same directory, synced,
	// given its mode and owner, then renamed over path. The directory must exist. A write is
	// not started once ctx has ended, and one started is waited for to its end even if ctx ends.
	WriteFile(ctx context.Context, path string, data []byte, opts WriteOptions) error
	// Dial opens a TCP connection from the host (for SSH, a direct-tcpip channel), so that a
	// module can reach a service bound to the host's loopback.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Close ends the connection. Calls after Close fail.
	Close() error
}

// ErrConnLost is wrapped by errors of operations that failed because the connection to the host
// broke (killed peer, keepalive timeout).
var ErrConnLost = errors.New("connection to host lost")

// Command is a shell script to run on a host. Build Script only with Quote and Join: nothing
// user-supplied may be pasted into it raw.
type Command struct {
	// Script is passed to `sh -c`.
	Script string
	// Stdin, when set, is fed to the script's standard input (secrets travel here, never in Script).
	// A connection may read it whole before the script starts, unless it is Sized.
	Stdin io.Reader
	// Stdout, when set, receives the standard output as it is produced instead of Result.Stdout.
	Stdout io.Writer
	// Become runs the script as root through sudo; the sudo password, if the host needs one, is
	// sent on standard input by the connection.
	Become bool
	// Subshell lets the connection run the script in a subshell of a shell it keeps open instead
	// of a new sh, which saves starting a program. $$ and $0 are then not the script's own, and
	// the shell's variables are visible: only for isaplay's own scripts, never a user's command.
	Subshell bool
}

// Sized is a standard input whose length is known before it is read (bytes.Reader,
// strings.Reader, SizedReader): connections stream it instead of holding it whole in memory. Len
// is the number of bytes Read will still return.
type Sized interface {
	io.Reader
	Len() int
}

// SizedReader is R, known to hold exactly N bytes, as a Sized input.
type SizedReader struct {
	R io.Reader
	N int
}

// Read reads from R, counting down N.
func (s *SizedReader) Read(p []byte) (int, error) {
	n, err := s.R.Read(p)
	s.N -= n
	return n, err
}

// Len is the number of bytes still to be read.
func (s *SizedReader) Len() int { return s.N }

// Result is how a command ended.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// FileType says what kind of object a path names.
type FileType string

// The kinds of object Stat reports.
const (
	TypeNone    FileType = ""
	TypeFile    FileType = "file"
	TypeDir     FileType = "dir"
	TypeSymlink FileType = "symlink"
	TypeOther   FileType = "other"
)

// FileInfo is what Stat and ReadFile report about a path. Symlinks are not followed: a link is
// reported as TypeSymlink with its target.
type FileInfo struct {
	Path   string      `json:"path"`
	Exists bool        `json:"exists"`
	Type   FileType    `json:"type,omitempty"`
	Mode   fs.FileMode `json:"mode,omitempty"` // permission bits only
	UID    int         `json:"uid"`
	GID    int         `json:"gid"`
	Size   int64       `json:"size,omitempty"`
	// LinkTarget is the target of a symlink, as stored in the link.
	LinkTarget string `json:"link_target,omitempty"`
	// SHA256 is the hex digest of a regular file's bytes when hashing was asked for or the file was read.
	SHA256 string `json:"sha256,omitempty"`
}

// WriteOptions controls WriteFile.
type WriteOptions struct {
	// Mode is the permission bits of the new file; 0 means 0644.
	Mode fs.FileMode
	// UID and GID own the new file; -1 leaves the owner the writing user gets.
	UID, GID int
	// Become writes as root through sudo.
	Become bool
	// Backup, when set, is where the regular file found at the path is first copied (bytes,
	// mode and owner), in the same round trip, unless a file is already there; missing
	// directories up to it are created mode 0700. Nothing is copied when the path holds no
	// regular file. A failed copy fails the write before the path is touched.
	Backup string
	// SHA256, when set, is the hex digest the written bytes must have on the host: the
	// temporary file is checked before the rename, and a mismatch fails the write with the
	// path untouched.
	SHA256 string
}

// TempPrefix and StagePrefix begin the names of the temporary files and staging directories
// that writes make beside their targets; a write that completes leaves none.
const (
	TempPrefix  = ".isaplay-tmp-"
	StagePrefix = ".isaplay-stage-"
)

// FileWrite is one file of a WriteFiles batch: what WriteFile(Path, Data, Opts) would write.
type FileWrite struct {
	Path string
	Data []byte
	Opts WriteOptions
}

// BatchWriter is implemented by connections that can write many files in one round trip.
type BatchWriter interface {
	// WriteFiles makes every write as WriteFile would, each file replaced atomically and only
	// after its backup was taken. made[i] reports whether writes[i] is
	// certainly in place; when err is not nil the others may or may not be (a write whose
	// file still holds its old bytes was not made). A path may appear more than once; the
	// writes then happen in order. Like WriteFile, it starts nothing once ctx has ended and
	// waits for what it started.
	WriteFiles(ctx context.Context, writes []FileWrite) (made []bool, err error)
}

// WriteFiles makes the writes with c's WriteFiles when it has one, else one by one with
// WriteFile, stopping at the first error (see BatchWriter).
func WriteFiles(ctx context.Context, c Conn, writes []FileWrite) ([]bool, error) {
	if bw, ok := c.(BatchWriter); ok {
		return bw.WriteFiles(ctx, writes)
	}
	made := make([]bool, len(writes))
	for i, w := range writes {
		if err := ctx.Err(); err != nil {
			return made, fmt.Errorf("write %s: %w", w.Path, err)
		}
		if err := c.WriteFile(ctx, w.Path, w.Data, w.Opts); err != nil {
			return made, err
		}
		made[i] = true
	}
	return made, nil
}

// StatHasher is implemented by connections that can stat paths and hash only some of them (the
// regular files among those asked with hash[i]) in one round trip.
type StatHasher interface {
	StatHash(ctx context.Context, paths []string, hash []bool) ([]FileInfo, error)
}

// StatHash stats paths, with the sha256 of the regular files at the paths where hash[i], with
// c's StatHash when it has one, else with one Stat call per kind.
func StatHash(ctx context.Context, c Conn, paths []string, hash []bool) ([]FileInfo, error) {
	if sh, ok := c.(StatHasher); ok {
		return sh.StatHash(ctx, paths, hash)
	}
	out := make([]FileInfo, len(paths))
	for _, want := range []bool{true, false} {
		var ask []string
		var idx []int
		for i, p := range paths {
			if hash[i] == want {
				ask = append(ask, p)
				idx = append(idx, i)
			}
		}
		if len(ask) == 0 {
			continue
		}
		got, err := c.Stat(ctx, ask, want)
		if err != nil {
			return nil, err
		}
		for j, fi := range got {
			out[idx[j]] = fi
		}
	}
	return out, nil
}
