// Package symlink implements the symlink task: a symbolic link that points at a target,
// replaced atomically, with the previous target kept for undo.
package symlink

import (
	"context"
	"fmt"
	"path"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "symlink"

// Module is the symlink task.
type Module struct{}

type undoRecord struct {
	Path string `json:"path"`
	// Previous is the link's target before the change; empty when there was no link.
	Previous string `json:"previous,omitempty"`
	Target   string `json:"target"`
}

// Schema declares path and target.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Makes path a symbolic link to target. An existing link is repointed atomically; anything else at path is an error.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, Description: "The link to create."},
			{Name: "target", Type: cty.String, Required: true, Description: "What the link points to, stored as given."},
		},
		Example: `task "symlink" "common analytics path" {
  path   = "/opt/wso2/is-analytics"
  target = "/opt/wso2/wso2is-analytics-5.6.0"
}`,
	}
}

// StatPaths is what Check stats: the link and its directory.
func (Module) StatPaths(args *engine.Args) []engine.StatPath {
	p := args.String("path")
	if p == "" {
		return nil
	}
	return []engine.StatPath{{Path: p}, {Path: path.Dir(p)}}
}

// Check compares the link at path with target in one stat.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	p, target := args.String("path"), args.String("target")
	infos, err := h.Stat(ctx, []string{p, path.Dir(p)}, false)
	if err != nil {
		return nil, err
	}
	fi, dir := infos[0], infos[1]
	c := &engine.Change{Action: engine.ActionNone, Summary: fmt.Sprintf("%s -> %s", p, target), Fingerprint: string(fi.Type) + ":" + fi.LinkTarget}
	switch {
	case fi.Exists && fi.Type != conn.TypeSymlink:
		return nil, fmt.Errorf("symlink %s: a %s is there, not a link; remove it first", p, fi.Type)
	case fi.Exists && fi.LinkTarget == target:
		return c, nil
	case !dir.Exists:
		return nil, fmt.Errorf("symlink %s: directory %s does not exist", p, path.Dir(p))
	case fi.Exists:
		c.Action = engine.ActionUpdate
		c.Summary = fmt.Sprintf("repoint %s: %s -> %s", p, fi.LinkTarget, target)
	default:
		c.Action = engine.ActionCreate
		c.Summary = fmt.Sprintf("create link %s -> %s", p, target)
	}
	c.Undo = engine.NewUndo(Name, undoRecord{Path: p, Previous: fi.LinkTarget, Target: target})
	c.Effects = []engine.Effect{{Kind: engine.EffectSymlink, Path: p, Target: target}}
	c.Private = undoRecord{Path: p, Target: target}
	return c, nil
}

// Apply makes the link where there was none (ln fails if anything has appeared there since the
// check), else creates a temporary link beside path and renames it over path.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	rec := c.Private.(undoRecord)
	if c.Action == engine.ActionCreate {
		return h.Exec(ctx, "ln -sT -- "+conn.Quote(rec.Target)+" "+conn.Quote(rec.Path))
	}
	return h.Exec(ctx, link(rec.Path, rec.Target))
}

// Revert points the link back at its previous target, or removes it if there was none.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var rec undoRecord
	if err := u.Decode(&rec); err != nil {
		return fmt.Errorf("symlink: undo record: %w", err)
	}
	if rec.Previous == "" {
		// Only a link this run made is removed; anything else there is left alone.
		return h.Exec(ctx, "if [ -L "+conn.Quote(rec.Path)+" ]; then rm -f "+conn.Quote(rec.Path)+"; fi")
	}
	return h.Exec(ctx, link(rec.Path, rec.Previous))
}

func link(p, target string) string {
	tmp := path.Join(path.Dir(p), ".isaplay-link-"+path.Base(p))
	return "ln -sfn -- " + conn.Quote(target) + " " + conn.Quote(tmp) + " && mv -Tf -- " + conn.Quote(tmp) + " " + conn.Quote(p)
}
