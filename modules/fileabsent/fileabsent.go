// Package fileabsent implements the file_absent task: remove files (such as a cloned node's
// repository/data/my-node-id.dat), keeping a backup on the host so that undo puts them back.
package fileabsent

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/internal/fileedit"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "file_absent"

// Module is the file_absent task type.
type Module struct{}

var (
	_ engine.Module        = Module{}
	_ engine.Validator     = Module{}
	_ engine.RevertChecker = Module{}
)

// Schema declares file_absent's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Removes files and symbolic links (not directories); each removed file is backed up on the host and put back on undo.",
		Attrs: []engine.Attr{
			{Name: "paths", Type: cty.List(cty.String), Required: true, Description: "Absolute paths that must not exist; a missing one is already fine, a directory is an error."},
		},
		Example: `task "file_absent" "fresh node identity" {
  paths = [
    "${var.an_home}/repository/data/my-node-id.dat",
    "${var.an_home}/repository/conf/analytics/my-node-id.dat",
    "${var.an_home}/repository/data/local-shard-allocation-config.conf",
  ]
}
`,
	}
}

// Validate checks that every path is absolute.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ps := args.Strings("paths")
	if len(ps) == 0 {
		diags = append(diags, args.Diag("paths", "No paths", "paths must name at least one file."))
	}
	for _, p := range ps {
		if !path.IsAbs(p) || path.Clean(p) == "/" {
			diags = append(diags, args.Diag("paths", "Invalid path", fmt.Sprintf("%q must be an absolute path below /.", p)))
		}
	}
	return diags
}

// record is the undo record: the removed files (with backups) and links (with targets).
type record struct {
	Files []engine.FileUndo `json:"files,omitempty"`
	Links []link            `json:"links,omitempty"`
}

type link struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// StatPaths is what Check stats: every path, with its sha256.
func (m Module) StatPaths(args *engine.Args) []engine.StatPath {
	if m.Validate(args).HasErrors() {
		return nil
	}
	var out []engine.StatPath
	for _, p := range args.Strings("paths") {
		out = append(out, engine.StatPath{Path: path.Clean(p), Hash: true})
	}
	return out
}

// Check stats every path with its sha256 in one round trip.
func (m Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	if diags := m.Validate(args); diags.HasErrors() {
		return nil, diags
	}
	var paths []string
	seen := map[string]bool{}
	for _, p := range args.Strings("paths") {
		p = path.Clean(p)
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	infos, err := h.Stat(ctx, paths, true)
	if err != nil {
		return nil, err
	}
	c := &engine.Change{Action: engine.ActionNone}
	var rec record
	var gone, fp []string
	for _, fi := range infos {
		fp = append(fp, fi.Path+"="+string(fi.Type)+":"+fi.SHA256+fi.LinkTarget)
		switch fi.Type {
		case conn.TypeNone:
			continue
		case conn.TypeFile:
			rec.Files = append(rec.Files, h.NewFileUndo(fi, ""))
			c.Details = append(c.Details, fmt.Sprintf("%s: file of %d bytes, sha256 %s, kept as a backup for undo", fi.Path, fi.Size, fi.SHA256[:12]))
		case conn.TypeSymlink:
			rec.Links = append(rec.Links, link{Path: fi.Path, Target: fi.LinkTarget})
			c.Details = append(c.Details, fmt.Sprintf("%s: link to %s", fi.Path, fi.LinkTarget))
		default:
			return nil, fmt.Errorf("%s: is a %s; file_absent removes files and links only", fi.Path, fi.Type)
		}
		gone = append(gone, fi.Path)
		c.Effects = append(c.Effects, engine.Effect{Kind: engine.EffectRemove, Path: fi.Path})
	}
	c.Fingerprint = engine.SHA256([]byte(strings.Join(fp, "\n")))
	if len(gone) == 0 {
		c.Summary = fmt.Sprintf("in sync: %d path(s) absent", len(paths))
		return c, nil
	}
	c.Action = engine.ActionDelete
	c.Summary = fmt.Sprintf("remove %s", strings.Join(gone, ", "))
	c.Undo = engine.NewUndo(Name, rec)
	c.Private = &rec
	return c, nil
}

// Apply backs up each file, then removes every path in one command.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	rec, ok := c.Private.(*record)
	if !ok {
		return fmt.Errorf("apply: change carries no removal plan")
	}
	args := []string{"rm", "-f", "--"}
	for _, u := range rec.Files {
		if err := h.SaveBackup(ctx, u); err != nil {
			return fmt.Errorf("%s: backup: %w", u.Path, err)
		}
		args = append(args, u.Path)
	}
	for _, l := range rec.Links {
		args = append(args, l.Path)
	}
	if err := h.Exec(ctx, conn.Join(args...)); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

// Revert puts every removed file back from its backup (bytes, mode, owner) and recreates links.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var rec record
	if err := u.Decode(&rec); err != nil {
		return fmt.Errorf("undo record: %w", err)
	}
	for _, fu := range rec.Files {
		if err := fileedit.RevertFile(ctx, h, fu); err != nil {
			return err
		}
	}
	for _, l := range rec.Links {
		if err := h.Exec(ctx, conn.Join("ln", "-sfn", "--", l.Target, l.Path)); err != nil {
			return fmt.Errorf("%s: relink: %w", l.Path, err)
		}
	}
	return nil
}

// CheckRevert reports a removed file that has been recreated with other bytes since (Carbon
// writes a new my-node-id.dat at start), which a revert would overwrite.
func (Module) CheckRevert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var rec record
	if err := u.Decode(&rec); err != nil {
		return fmt.Errorf("undo record: %w", err)
	}
	for _, fu := range rec.Files {
		if err := h.CheckFileRevert(ctx, fu); err != nil {
			return err
		}
	}
	return nil
}
