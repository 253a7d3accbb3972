package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"

	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/zclconf/go-cty/cty"
)

// ErrPlanWrite is returned by Host writes during a plan: Check never writes.
var ErrPlanWrite = errors.New("write attempted while planning (Check must not write)")

// Host is what a module sees of one host during one task: its identity, the connection, and,
// while planning, an overlay of what earlier tasks will have written. Reads go through the
// overlay; writes are refused while planning.
type Host struct {
	// Name is the inventory name; Address the address connected to.
	Name    string
	Address string
	// Vars are the host's variables (group vars overridden by host vars).
	Vars cty.Value
	// Become is true when the task runs as root through sudo.
	Become bool
	// RunID names the current run; backups on the host live under it.
	RunID string
	// StateDir is isaplay's state directory on the host (backups, locks), outside product trees.
	// A relative path is relative to the login directory.
	StateDir string

	conn     conn.Conn
	overlay  *overlay
	redactor *Redactor
	// statusOf reports what an earlier task did (or will do) on this host.
	statusOf func(task string) (Status, bool)
	ahead
}

// ahead is what a host's play read ahead (see prefetch).
type ahead struct {
	// prefetched are regular files read ahead for a plan (see Attr.HostFile), by path.
	prefetched map[string]prefetchedFile
	// statted are paths stat'd ahead for a play (see PathStatter), by path as asked.
	statted map[string]stattedPath
	// pending counts, by path, the reads of read-ahead files the play's tasks have still to
	// make, whether the file is still held or was forgotten after a change.
	pending map[string]int
	// wantStat are the paths the play's tasks stat, with whether a hash is asked. triedFiles and
	// triedStats are the paths read or stat'd ahead since a change last made them stale.
	wantStat               map[string]bool
	triedFiles, triedStats map[string]bool
}

type prefetchedFile struct {
	info conn.FileInfo
	data []byte
}

// TaskChanged reports whether an earlier task on this host, named as in the playbook ("name",
// "include / name" or "play/name"), changed something (during a plan: will change). known is
// false when that is only known after apply, or no such task ran on this host.
func (h *Host) TaskChanged(task string) (changed, known bool) {
	if h.statusOf == nil {
		return false, false
	}
	st, ok := h.statusOf(task)
	switch {
	case !ok:
		return false, false
	case st == StatusChange:
		return true, true
	case st == StatusUnknown:
		return false, false
	}
	return false, true
}

// NewHost returns a Host over c for applying. Tests of modules use it with a local connection;
// Planning returns a copy that plans.
func NewHost(name string, c conn.Conn, runID, stateDir string, r *Redactor) *Host {
	if r == nil {
		r = NewRedactor()
	}
	return &Host{Name: name, Vars: cty.EmptyObjectVal, conn: c, RunID: runID, StateDir: stateDir, redactor: r}
}

// Planning returns a copy of h that plans: reads see a fresh overlay, writes are refused.
func (h *Host) Planning() *Host {
	c := *h
	c.overlay = newOverlay()
	return &c
}

// IsPlanning reports whether this is a plan (Check may not write; results may be unknown).
func (h *Host) IsPlanning() bool { return h.overlay != nil }

// Conn returns the raw connection, for modules that need it (a TCP dial); prefer the Host methods.
func (h *Host) Conn() conn.Conn { return h.conn }

// Redact masks every known secret in s.
func (h *Host) Redact(s string) string { return h.redactor.Redact(s) }

// AddSecret makes s a secret for every output of this run.
func (h *Host) AddSecret(s string) { h.redactor.Add(s) }

// wrap names the host in an error, unless the connection already did.
func (h *Host) wrap(err error) error {
	if strings.HasPrefix(err.Error(), h.Name+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", h.Name, err)
}

// Run runs a command, as root when the task has become.
func (h *Host) Run(ctx context.Context, c conn.Command) (conn.Result, error) {
	c.Become = c.Become || h.Become
	res, err := h.conn.Run(ctx, c)
	if err != nil {
		return res, h.wrap(err)
	}
	return res, nil
}

// Dial opens a TCP connection from the host.
func (h *Host) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return h.conn.Dial(ctx, network, addr)
}

// Stat reports each path, seen through the plan overlay, in at most one round trip.
func (h *Host) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	out := make([]conn.FileInfo, len(paths))
	var ask []string
	var idx []int
	for i, p := range paths {
		if fi, ok := h.overlay.stat(p); ok {
			out[i] = fi
			continue
		}
		fi, ok := h.statAhead(p, hash)
		if !ok && h.missed(p, true) {
			h.fillStats(ctx)
			fi, ok = h.statAhead(p, hash)
		}
		if ok {
			out[i] = fi
			continue
		}
		ask = append(ask, p)
		idx = append(idx, i)
	}
	if len(ask) > 0 {
		got, err := h.conn.Stat(ctx, ask, hash)
		if err != nil {
			return nil, h.wrap(err)
		}
		for j, fi := range got {
			out[idx[j]] = fi
		}
	}
	return out, nil
}

// ReadFile returns the file at p and its bytes, seen through the plan overlay.
func (h *Host) ReadFile(ctx context.Context, p string) (conn.FileInfo, []byte, error) {
	if fi, ok := h.overlay.stat(p); ok {
		return fi, h.overlay.data(p), nil
	}
	if h.missed(p, false) {
		if _, held := h.prefetched[p]; !held {
			h.fillFiles(ctx)
		}
	}
	if h.pending[p] > 0 {
		h.pending[p]--
	}
	if f, ok := h.prefetched[p]; ok {
		if h.pending[p] <= 0 {
			delete(h.prefetched, p) // the play's last reader frees it
		}
		return f.info, f.data, nil
	}
	fi, data, err := h.conn.ReadFile(ctx, p, h.Become)
	if err != nil {
		return fi, nil, h.wrap(err)
	}
	return fi, data, nil
}

// WriteFile replaces p atomically. It fails while planning.
func (h *Host) WriteFile(ctx context.Context, p string, data []byte, opts conn.WriteOptions) error {
	if h.IsPlanning() {
		return ErrPlanWrite
	}
	opts.Become = opts.Become || h.Become
	if err := h.conn.WriteFile(ctx, p, data, opts); err != nil {
		return h.wrap(err)
	}
	return nil
}

// Exec runs a script of isaplay's own that changes the host (mkdir, ln, rm...), in a subshell
// (see conn.Command.Subshell). It fails while planning and turns a non-zero exit into an error
// that carries stderr.
func (h *Host) Exec(ctx context.Context, script string) error {
	return h.ExecCommand(ctx, conn.Command{Script: script, Subshell: true})
}

// ExecCommand is Exec for any command, a user's too.
func (h *Host) ExecCommand(ctx context.Context, cmd conn.Command) error {
	if h.IsPlanning() {
		return ErrPlanWrite
	}
	res, err := h.Run(ctx, cmd)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: exit %d: %s", h.Name, res.ExitCode, h.Redact(strings.TrimSpace(string(res.Stderr))))
	}
	return nil
}

// backupDir is where this run keeps backups on the host.
func (h *Host) backupDir(runID string) string {
	return path.Join(h.StateDir, "runs", runID, "backups")
}

// FileUndo is the undo record of a change to one file: where its original bytes are kept on
// the host and how to put them back. Every file module uses it.
type FileUndo struct {
	// Path is the file changed.
	Path string `json:"path"`
	// Existed says whether anything was at Path before; if not, undo removes it.
	Existed bool `json:"existed"`
	// Backup is the path of the copy of the original bytes on the host (run id + sha256).
	Backup string `json:"backup,omitempty"`
	// SHA256 is the digest of the original bytes; Mode, UID and GID its metadata.
	SHA256 string `json:"sha256,omitempty"`
	Mode   uint32 `json:"mode,omitempty"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	// NewSHA256 is the digest of what apply writes; a rollback refuses (unless forced) when the
	// file then holds neither this nor the original.
	NewSHA256 string `json:"new_sha256,omitempty"`
	// AlsoRemove are globs removed on undo (files the product generates from this one).
	AlsoRemove []string `json:"also_remove,omitempty"`
}

// NewFileUndo returns the undo record for replacing the file described by before with bytes
// whose digest is newSHA.
func (h *Host) NewFileUndo(before conn.FileInfo, newSHA string) FileUndo {
	u := FileUndo{Path: before.Path, Existed: before.Exists, NewSHA256: newSHA}
	if before.Exists {
		u.SHA256, u.Mode, u.UID, u.GID = before.SHA256, uint32(before.Mode), before.UID, before.GID
		if before.Type == conn.TypeFile {
			u.Backup = path.Join(h.backupDir(h.RunID), before.SHA256)
		}
	}
	return u
}

// SaveBackup copies the original file to its backup location (mode 0700 directory), keeping
// mode and owner; repeating it is harmless. A module that rewrites the file passes the backup
// to WriteFile instead (conn.WriteOptions.Backup), which keeps it in the same round trip.
func (h *Host) SaveBackup(ctx context.Context, u FileUndo) error {
	if u.Backup == "" {
		return nil
	}
	dir := path.Dir(u.Backup)
	script := "umask 077 && mkdir -p " + conn.Quote(dir) + " && chmod 700 " + conn.Quote(path.Dir(dir)) + " " + conn.Quote(dir) +
		" && { [ -f " + conn.Quote(u.Backup) + " ] || { cp -p " + conn.Quote(u.Path) + " " + conn.Quote(u.Backup+".tmp") +
		" && mv -f " + conn.Quote(u.Backup+".tmp") + " " + conn.Quote(u.Backup) + "; }; }"
	return h.Exec(ctx, script)
}

// RestoreFile puts the file of u back as it was: the backup's bytes, mode and owner, or nothing
// when it did not exist. It is idempotent.
func (h *Host) RestoreFile(ctx context.Context, u FileUndo) error {
	// What a write cut short (the host or its sshd died) left beside the file goes too.
	dir := conn.Quote(path.Dir(u.Path))
	parts := []string{"rm -rf -- " + dir + "/" + conn.TempPrefix + "* " + dir + "/" + conn.StagePrefix + "*"}
	if !u.Existed {
		parts = append(parts, "rm -f "+conn.Quote(u.Path))
	} else if u.Backup != "" {
		// Backups are named by content, so two files with the same bytes share one: the mode and
		// owner recorded for this file are set again after the copy.
		tmp := path.Join(path.Dir(u.Path), ".isaplay-restore-"+shortHash(u.Path))
		// A backup is named by its digest: one that does not match it (a host that crashed while
		// writing it) is never restored.
		verify := ""
		if u.SHA256 != "" {
			verify = conn.SHA256Check(conn.Digest{File: conn.Quote(u.Backup), Want: u.SHA256, What: "backup " + u.Backup + " is damaged"}) + " && "
		}
		parts = append(parts, "if [ -f "+conn.Quote(u.Backup)+" ]; then "+verify+"cp "+conn.Quote(u.Backup)+" "+conn.Quote(tmp)+
			" && chmod "+fmt.Sprintf("%o", u.Mode&0o7777)+" "+conn.Quote(tmp)+
			" && chown "+fmt.Sprintf("%d:%d", u.UID, u.GID)+" "+conn.Quote(tmp)+
			" && { sync "+conn.Quote(tmp)+" 2>/dev/null; true; } && mv -f "+conn.Quote(tmp)+" "+conn.Quote(u.Path)+
			// No backup: the change was journaled but never made (the controller died between
			// intent and apply). A file that still holds the original bytes needs nothing.
			"; elif [ \"$(sha256sum < "+conn.Quote(u.Path)+" 2>/dev/null | cut -d ' ' -f 1)\" = "+conn.Quote(u.SHA256)+" ]; then :"+
			"; else echo "+conn.Quote("backup missing: "+u.Backup)+" >&2; exit 3; fi")
	}
	for _, g := range u.AlsoRemove {
		// The glob stays unquoted on purpose so the shell expands it; its characters are checked.
		if !safeGlob(g) {
			return fmt.Errorf("%s: undo glob %q has characters that are not allowed", h.Name, g)
		}
		parts = append(parts, "rm -f -- "+g)
	}
	return h.Exec(ctx, strings.Join(parts, " && "))
}

// safeGlob accepts globs made of path characters and * ? [ ] only.
func safeGlob(g string) bool {
	if g == "" || strings.HasPrefix(g, "-") {
		return false
	}
	for _, c := range g {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./*?[]+@%:,", c)) {
			return false
		}
	}
	return true
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// SHA256 returns the hex sha256 of b.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// RevertChecker is implemented by modules that can tell, before reverting, whether the host
// still holds what the change left. Rollback refuses (unless forced) a revert that would
// overwrite someone else's later change.
type RevertChecker interface {
	CheckRevert(ctx context.Context, h *Host, u Undo) error
}

// DriftError says a change's target was changed by someone else since the run.
type DriftError struct {
	Path string
	// Diff shows the original bytes (what rollback would restore) against what is there now.
	Diff string
}

func (e *DriftError) Error() string {
	return fmt.Sprintf("%s was changed since this run; rollback would overwrite that change (use --force)", e.Path)
}

// CheckFileRevert tells whether reverting u is safe: the file still holds what the change wrote,
// or is already back to the original. Otherwise it returns a *DriftError with a diff of the
// original against what is there now. File modules call it from CheckRevert.
func (h *Host) CheckFileRevert(ctx context.Context, u FileUndo) error {
	infos, err := h.Stat(ctx, []string{u.Path}, true)
	if err != nil {
		return err
	}
	fi := infos[0]
	switch {
	case fi.Exists && fi.SHA256 == u.NewSHA256 && u.NewSHA256 != "":
		return nil
	case !fi.Exists && u.NewSHA256 == "":
		return nil // the change removed it, and it is still gone
	case u.Existed && fi.Exists && fi.SHA256 == u.SHA256:
		return nil // already reverted
	case !u.Existed && !fi.Exists:
		return nil // already reverted
	}
	drift := &DriftError{Path: u.Path}
	_, now, _ := h.ReadFile(ctx, u.Path)
	var orig []byte
	if u.Backup != "" {
		_, orig, _ = h.ReadFile(ctx, u.Backup)
	}
	drift.Diff = h.Redact(Diff(u.Path, string(orig), string(now)))
	return drift
}

type revertSecretsKey struct{}

// WithRevertSecrets gives Revert and CheckRevert the values of a change's sensitive arguments
// (by argument name), supplied again by the operator for a rollback in a later process.
func WithRevertSecrets(ctx context.Context, values map[string]string) context.Context {
	return context.WithValue(ctx, revertSecretsKey{}, values)
}

// RevertSecret returns a sensitive argument's value given for this rollback.
func RevertSecret(ctx context.Context, arg string) (string, bool) {
	m, _ := ctx.Value(revertSecretsKey{}).(map[string]string)
	v, ok := m[arg]
	return v, ok
}
