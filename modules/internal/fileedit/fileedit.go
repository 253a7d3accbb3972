// Package fileedit holds what the whole-file modules (properties_set, line_in_file, file,
// jar_copy) share: the Change for replacing one file's bytes, its Apply and Revert through
// engine.FileUndo, diffs masked of secrets, and owner name resolution on the host.
package fileedit

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
)

// Edit is the Private payload of a file Change: the bytes and metadata Apply writes.
type Edit struct {
	Path string
	Data []byte
	Mode fs.FileMode
	UID  int
	GID  int
	Undo engine.FileUndo
}

// Target is the metadata a new version of a file gets.
type Target struct {
	Mode fs.FileMode
	UID  int // -1 keeps what the writer gets
	GID  int
}

// Keep returns the target that keeps before's mode and owner (0644 and the writer's owner for a
// new file).
func Keep(before conn.FileInfo) Target {
	if !before.Exists {
		return Target{Mode: 0o644, UID: -1, GID: -1}
	}
	return Target{Mode: before.Mode, UID: before.UID, GID: before.GID}
}

// NewChange returns the change that turns the file before (with bytes old) into data with the
// target's metadata: ActionNone when nothing differs. The diff is masked by MaskDiffLines with
// masks, when given, the LineMasks of old and data.
func NewChange(h *engine.Host, module string, before conn.FileInfo, old, data []byte, t Target, summary string, masks ...LineMask) *engine.Change {
	fp := "absent"
	if before.Exists {
		fp = engine.SHA256(old)
	}
	c := &engine.Change{Action: engine.ActionNone, Fingerprint: fp}
	metaDiffers := before.Exists && (before.Mode != t.Mode || (t.UID >= 0 && before.UID != t.UID) || (t.GID >= 0 && before.GID != t.GID))
	if before.Exists && string(old) == string(data) && !metaDiffers {
		c.Summary = "in sync: " + before.Path
		return c
	}
	c.Action = engine.ActionUpdate
	if !before.Exists {
		c.Action = engine.ActionCreate
	}
	var notes []string
	if before.Exists && before.Mode != t.Mode {
		notes = append(notes, fmt.Sprintf("mode %04o -> %04o", before.Mode, t.Mode))
	}
	if before.Exists && ((t.UID >= 0 && before.UID != t.UID) || (t.GID >= 0 && before.GID != t.GID)) {
		notes = append(notes, fmt.Sprintf("owner %d:%d -> %s:%s", before.UID, before.GID, idString(t.UID, before.UID), idString(t.GID, before.GID)))
	}
	if len(notes) > 0 {
		summary += " (" + strings.Join(notes, ", ") + ")"
	}
	c.Summary = summary
	var oldMask, newMask LineMask
	if len(masks) == 2 {
		oldMask, newMask = masks[0], masks[1]
	}
	c.Diff = MaskDiffLines(h, Diff(before.Path, old, data), oldMask, newMask)
	u := h.NewFileUndo(before, engine.SHA256(data))
	c.Undo = engine.NewUndo(module, u)
	uid, gid := t.UID, t.GID
	if uid < 0 && before.Exists {
		uid = before.UID
	}
	if gid < 0 && before.Exists {
		gid = before.GID
	}
	c.Effects = []engine.Effect{{Kind: engine.EffectFile, Path: before.Path, Data: data, Mode: uint32(t.Mode), UID: uid, GID: gid}}
	c.Private = &Edit{Path: before.Path, Data: data, Mode: t.Mode, UID: t.UID, GID: t.GID, Undo: u}
	return c
}

func idString(want, have int) string {
	if want < 0 {
		return strconv.Itoa(have)
	}
	return strconv.Itoa(want)
}

// Apply writes the Edit of c: it saves the original's backup first, then replaces the file
// atomically with the new bytes, mode and owner.
func Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	e, ok := c.Private.(*Edit)
	if !ok {
		return fmt.Errorf("apply: change carries no file edit (was it planned by this module?)")
	}
	if err := h.WriteFile(ctx, e.Path, e.Data, conn.WriteOptions{Mode: e.Mode, UID: e.UID, GID: e.GID, Backup: e.Undo.Backup}); err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	return nil
}

// Revert puts the file of a FileUndo record back. It is idempotent: a file already back as it
// was is left alone, and AlsoRemove globs are removed every time. Whether the file was changed
// by someone else since apply is CheckRevert's question (rollback asks it unless forced).
func Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var fu engine.FileUndo
	if err := u.Decode(&fu); err != nil {
		return fmt.Errorf("undo record: %w", err)
	}
	return RevertFile(ctx, h, fu)
}

// CheckRevert tells whether reverting a FileUndo record would overwrite someone else's change
// (an *engine.DriftError).
func CheckRevert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var fu engine.FileUndo
	if err := u.Decode(&fu); err != nil {
		return fmt.Errorf("undo record: %w", err)
	}
	return h.CheckFileRevert(ctx, fu)
}

// RevertFile is Revert for a decoded record.
func RevertFile(ctx context.Context, h *engine.Host, fu engine.FileUndo) error {
	st, err := h.Stat(ctx, []string{fu.Path}, true)
	if err != nil {
		return err
	}
	now := st[0]
	back := !fu.Existed && !now.Exists ||
		fu.Existed && now.Exists && now.Type == conn.TypeFile && now.SHA256 == fu.SHA256 &&
			uint32(now.Mode) == fu.Mode && now.UID == fu.UID && now.GID == fu.GID
	if back {
		if len(fu.AlsoRemove) == 0 {
			return nil
		}
		// Only the globs are left to remove.
		return h.RestoreFile(ctx, engine.FileUndo{Path: fu.Path, Existed: true, AlsoRemove: fu.AlsoRemove})
	}
	if err := h.RestoreFile(ctx, fu); err != nil {
		return fmt.Errorf("%s: restore: %w", fu.Path, err)
	}
	if !fu.Existed || fu.Backup == "" {
		return nil
	}
	// Backups are named by content digest, so two files with the same bytes share one; put the
	// recorded mode and owner back in case that copy came from the other file.
	st, err = h.Stat(ctx, []string{fu.Path}, false)
	if err != nil {
		return err
	}
	var fix []string
	if uint32(st[0].Mode) != fu.Mode {
		fix = append(fix, fmt.Sprintf("chmod %04o -- %s", fu.Mode, conn.Quote(fu.Path)))
	}
	if st[0].UID != fu.UID || st[0].GID != fu.GID {
		fix = append(fix, fmt.Sprintf("chown %d:%d -- %s", fu.UID, fu.GID, conn.Quote(fu.Path)))
	}
	if len(fix) > 0 {
		if err := h.Exec(ctx, strings.Join(fix, " && ")); err != nil {
			return fmt.Errorf("%s: restore mode and owner: %w", fu.Path, err)
		}
	}
	return nil
}

// Diff returns the unified diff of a file's bytes. Bytes that are not UTF-8 (an ISO-8859-1
// properties file) are shown as Latin-1.
func Diff(path string, old, data []byte) string {
	return engine.Diff(path, Text(old), Text(data))
}

// Text returns b as a string for display: unchanged when it is UTF-8, else decoded as Latin-1.
func Text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// ResolveOwner turns owner and group (names or numbers; "" for unchanged) into ids, asking the
// host only for names, in one command. It returns -1 for an empty owner or group.
func ResolveOwner(ctx context.Context, h *engine.Host, owner, group string) (int, int, error) {
	uid, gid := -1, -1
	var script []string
	if owner != "" {
		if n, err := strconv.Atoi(owner); err == nil {
			uid = n
		} else {
			script = append(script, "printf 'u %s\\n' \"$(id -u -- "+conn.Quote(owner)+")\"")
		}
	}
	if group != "" {
		if n, err := strconv.Atoi(group); err == nil {
			gid = n
		} else {
			q := conn.Quote(group)
			script = append(script, "printf 'g %s\\n' \"$( (getent group "+q+" 2>/dev/null || grep -e ^"+conn.Quote(group+":")+" /etc/group) | cut -d: -f3)\"")
		}
	}
	if len(script) == 0 {
		return uid, gid, nil
	}
	res, err := h.Run(ctx, conn.Command{Script: strings.Join(script, "; "), Subshell: true})
	if err != nil {
		return 0, 0, fmt.Errorf("resolve owner: %w", err)
	}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		kind, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		switch {
		case kind == "u" && err != nil:
			return 0, 0, fmt.Errorf("owner %q: no such user on %s", owner, h.Name)
		case kind == "g" && err != nil:
			return 0, 0, fmt.Errorf("group %q: no such group on %s", group, h.Name)
		case kind == "u":
			uid = n
		case kind == "g":
			gid = n
		}
	}
	return uid, gid, nil
}

// ParseMode parses an octal permission string such as "0644" or "755" (permission bits only).
func ParseMode(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("mode %q is not an octal permission such as \"0644\"", s)
	}
	return fs.FileMode(n), nil
}
