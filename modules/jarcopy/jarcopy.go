// Package jarcopy implements the jar_copy task: copy a file from the controller (a JDBC driver
// jar, any file) to a host, compared by sha256, optionally pinned to a known digest, with an undo
// that also removes files the product generates from it.
package jarcopy

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/internal/fileedit"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "jar_copy"

// Module is the jar_copy task type.
type Module struct{}

var (
	_ engine.Module        = Module{}
	_ engine.Validator     = Module{}
	_ engine.RevertChecker = Module{}
)

// Schema declares jar_copy's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Copies a file from the controller to a host (a JDBC driver jar into repository/components/lib, or any file), " +
			"compared by sha256, optionally pinned to a known digest; undo removes or restores it and removes files the product generated from it.",
		Attrs: []engine.Attr{
			{Name: "src", Type: cty.String, Required: true, ControllerPath: true, Description: "The file on the controller; a relative path is relative to the playbook file that names it."},
			{Name: "dest", Type: cty.String, Required: true, Description: "Where it goes on the host: a directory (ending in / or existing) gets the file under its own name; anything else is the file's path."},
			{Name: "sha256", Type: cty.String, Description: "The expected sha256 (hex) of src, verified before anything is uploaded; a mismatch is an error."},
			{Name: "mode", Type: cty.String, Default: cty.StringVal("0644"), Description: "Octal permissions of the copy."},
			{Name: "owner", Type: cty.String, Description: "User name or uid that owns the copy. Default: unchanged, or the connecting user for a new file."},
			{Name: "group", Type: cty.String, Description: "Group name or gid. Default: unchanged."},
			{Name: "undo_also_remove", Type: cty.List(cty.String), Description: "Absolute globs removed on undo as well: files the product generates " +
				"from the copy, such as the OSGi bundle Carbon builds in repository/components/dropins for a jar in repository/components/lib."},
		},
		Example: `task "jar_copy" "mysql driver" {
  src    = "files/mysql-connector-java-5.1.47-bin.jar"
  dest   = "${var.an_home}/repository/components/lib/"
  sha256 = "f3a5ac4ab9a5b6c9e1f64a1e9d1d0a4bd0a3e1e2b2c4f8f5f6a7b8c9d0e1f2a3"
  mode   = "0644"
  undo_also_remove = [
    "${var.an_home}/repository/components/dropins/mysql_connector_java_5.1.47_bin_1.0.0.jar",
  ]
}
`,
	}
}

type params struct {
	src, dest, pin, owner, group string
	mode                         fs.FileMode
	also                         []string
}

func parseArgs(args *engine.Args) (params, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p := params{src: args.String("src"), dest: args.String("dest"), pin: strings.ToLower(args.String("sha256")),
		owner: args.String("owner"), group: args.String("group"), also: args.Strings("undo_also_remove"), mode: 0o644}
	if fn := args.Range("src").Filename; p.src != "" && !filepath.IsAbs(p.src) && fn != "" {
		p.src = filepath.Join(filepath.Dir(fn), p.src)
	}
	if p.src == "" {
		diags = append(diags, args.Diag("src", "Empty src", "src must name a file on the controller."))
	}
	if !path.IsAbs(p.dest) {
		diags = append(diags, args.Diag("dest", "Relative dest", fmt.Sprintf("dest %q must be an absolute path on the host.", p.dest)))
	}
	if args.Has("sha256") && !isHex64(p.pin) {
		diags = append(diags, args.Diag("sha256", "Invalid sha256", "sha256 must be 64 hexadecimal digits."))
	}
	if args.Has("mode") {
		m, err := fileedit.ParseMode(args.String("mode"))
		if err != nil {
			diags = append(diags, args.Diag("mode", "Invalid mode", err.Error()))
		}
		p.mode = m
	}
	for _, g := range p.also {
		if !path.IsAbs(g) || !safeGlob(g) {
			diags = append(diags, args.Diag("undo_also_remove", "Invalid glob",
				fmt.Sprintf("%q must be an absolute path made of letters, digits, - _ . / + @ %% : , and the glob characters * ? [ ].", g)))
		}
	}
	return p, diags
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// safeGlob matches what engine.Host.RestoreFile accepts for AlsoRemove.
func safeGlob(g string) bool {
	for _, c := range g {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./*?[]+@%:,", c)) {
			return false
		}
	}
	return g != ""
}

// Validate checks the arguments without a host.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	_, diags := parseArgs(args)
	return diags
}

type copyPlan struct {
	target string
	data   []byte
	sha    string
	mode   fs.FileMode
	uid    int
	gid    int
	undo   engine.FileUndo
}

// StatPaths is what Check stats, with sha256: dest, the jar's name under dest (when dest is a
// directory) and dest's directory.
func (Module) StatPaths(args *engine.Args) []engine.StatPath {
	p, diags := parseArgs(args)
	if diags.HasErrors() {
		return nil
	}
	dest := path.Clean(p.dest)
	return []engine.StatPath{{Path: dest, Hash: true}, {Path: path.Join(dest, filepath.Base(p.src)), Hash: true}, {Path: path.Dir(dest), Hash: true}}
}

// Check hashes src on the controller, verifies the pin, and compares with the host's copy by
// sha256 in one round trip (one more to resolve owner or group names).
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	p, diags := parseArgs(args)
	if diags.HasErrors() {
		return nil, diags
	}
	data, err := os.ReadFile(p.src)
	if err != nil {
		return nil, fmt.Errorf("src: %w", err)
	}
	sha := engine.SHA256(data)
	if p.pin != "" && sha != p.pin {
		return nil, fmt.Errorf("%s: sha256 is %s, but the task pins %s; not uploading", p.src, sha, p.pin)
	}
	uid, gid, err := fileedit.ResolveOwner(ctx, h, p.owner, p.group)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.dest, err)
	}
	base := filepath.Base(p.src)
	dest := path.Clean(p.dest)
	infos, err := h.Stat(ctx, []string{dest, path.Join(dest, base), path.Dir(dest)}, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.dest, err)
	}
	target, before, parent := dest, infos[0], infos[2]
	if strings.HasSuffix(p.dest, "/") || infos[0].Type == conn.TypeDir {
		target, before, parent = path.Join(dest, base), infos[1], infos[0]
	}
	if parent.Type != conn.TypeDir && parent.Type != conn.TypeSymlink {
		return nil, fmt.Errorf("%s: directory %s does not exist", target, parent.Path)
	}
	if before.Exists && before.Type != conn.TypeFile {
		return nil, fmt.Errorf("%s: is a %s, not a file", target, before.Type)
	}
	c := &engine.Change{Action: engine.ActionNone, Fingerprint: "absent"}
	if before.Exists {
		c.Fingerprint = before.SHA256
	}
	var notes []string
	switch {
	case !before.Exists:
		c.Action = engine.ActionCreate
		c.Summary = fmt.Sprintf("copy %s to %s (%s, sha256 %s)", base, target, size(len(data)), sha[:12])
	case before.SHA256 != sha:
		c.Action = engine.ActionUpdate
		c.Summary = fmt.Sprintf("replace %s with %s (%s, sha256 %s -> %s)", target, base, size(len(data)), before.SHA256[:12], sha[:12])
	}
	if before.Exists && before.Mode != p.mode {
		notes = append(notes, fmt.Sprintf("mode %04o -> %04o", before.Mode, p.mode))
	}
	if before.Exists && (uid >= 0 && before.UID != uid || gid >= 0 && before.GID != gid) {
		notes = append(notes, fmt.Sprintf("owner %d:%d -> %d:%d", before.UID, before.GID, pick(uid, before.UID), pick(gid, before.GID)))
	}
	if c.Action == engine.ActionNone && len(notes) == 0 {
		c.Summary = "in sync: " + target + " (sha256 " + sha[:12] + ")"
		return c, nil
	}
	if c.Action == engine.ActionNone {
		c.Action = engine.ActionUpdate
		c.Summary = target
	}
	if len(notes) > 0 {
		c.Summary += " (" + strings.Join(notes, ", ") + ")"
	}
	if before.Exists {
		// Unchanged parts of the owner stay as they are.
		uid, gid = pick(uid, before.UID), pick(gid, before.GID)
	}
	u := h.NewFileUndo(before, sha)
	u.AlsoRemove = p.also
	if len(p.also) > 0 {
		c.Details = append(c.Details, "undo also removes: "+strings.Join(p.also, " "))
	}
	c.Undo = engine.NewUndo(Name, u)
	effUID, effGID := uid, gid
	c.Effects = []engine.Effect{{Kind: engine.EffectFile, Path: target, Data: data, Mode: uint32(p.mode), UID: effUID, GID: effGID}}
	c.Private = &copyPlan{target: target, data: data, sha: sha, mode: p.mode, uid: uid, gid: gid, undo: u}
	return c, nil
}

func pick(want, have int) int {
	if want < 0 {
		return have
	}
	return want
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// WritesOnlyFiles implements engine.FileWriter: Apply changes the host only through
// Host.WriteFile, so an apply may send its write with those of the tasks around it.
func (Module) WritesOnlyFiles() {}

// Apply backs up a replaced file and uploads the new one atomically: to a temporary file whose
// sha256 is verified on the host before it is renamed over the target, all in one round trip.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	p, ok := c.Private.(*copyPlan)
	if !ok {
		return fmt.Errorf("apply: change carries no copy plan")
	}
	opts := conn.WriteOptions{Mode: p.mode, UID: p.uid, GID: p.gid, Backup: p.undo.Backup, SHA256: p.sha}
	if err := h.WriteFile(ctx, p.target, p.data, opts); err != nil {
		return fmt.Errorf("%s: %w", p.target, err)
	}
	return nil
}

// Revert removes the copy (or restores the file it replaced) and removes the undo_also_remove
// globs.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	return fileedit.Revert(ctx, h, u)
}

// CheckRevert reports a copy changed by someone else since apply.
func (Module) CheckRevert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	return fileedit.CheckRevert(ctx, h, u)
}
