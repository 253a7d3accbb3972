// Package file implements the file task: write a whole small file from a string (often
// templatefile()) with mode and owner, or ensure a directory exists, with an exact diff in the
// plan and an undo that restores what was there.
package file

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/internal/fileedit"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "file"

// Module is the file task type.
type Module struct{}

var (
	_ engine.Module        = Module{}
	_ engine.Validator     = Module{}
	_ engine.RevertChecker = Module{}
)

// Schema declares file's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Writes a whole file from content (a string or templatefile()) with mode and owner, or ensures a directory exists; " +
			"undo restores the previous file or removes what was created.",
		Attrs: []engine.Attr{
			{Name: "path", Type: cty.String, Required: true, HostFile: true, Description: "The file or directory on the host (absolute)."},
			{Name: "content", Type: cty.String, Description: "The file's whole content. Required when state is \"file\"."},
			{Name: "state", Type: cty.String, Default: cty.StringVal("file"), Description: "\"file\" (write content) or \"directory\" (create it and its parents)."},
			{Name: "mode", Type: cty.String, Description: "Octal permissions such as \"0644\". Default: an existing file's mode, else 0644 for a file and 0755 for a directory."},
			{Name: "owner", Type: cty.String, Description: "User name or uid that owns the file. Default: unchanged (the connecting user for a new file)."},
			{Name: "group", Type: cty.String, Description: "Group name or gid. Default: unchanged."},
		},
		Example: `task "file" "node id" {
  path    = "${var.an_home}/repository/data/my-node-id.dat"
  content = "wso2is-analytics-${host.index + 1}"
  mode    = "0644"
  owner   = "wso2"
  group   = "wso2"
}
`,
	}
}

type params struct {
	path, content string
	dir           bool
	mode          fs.FileMode
	hasMode       bool
	owner, group  string
}

func parseArgs(args *engine.Args) (params, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p := params{path: args.String("path"), content: args.String("content"), owner: args.String("owner"), group: args.String("group")}
	if !path.IsAbs(p.path) {
		diags = append(diags, args.Diag("path", "Relative path", fmt.Sprintf("path %q must be absolute.", p.path)))
	}
	switch args.String("state") {
	case "", "file":
		if !args.Has("content") {
			diags = append(diags, args.Diag("content", "Missing content", "state \"file\" needs content."))
		}
	case "directory":
		p.dir = true
		if args.Has("content") {
			diags = append(diags, args.Diag("content", "Content for a directory", "state \"directory\" takes no content."))
		}
	default:
		diags = append(diags, args.Diag("state", "Invalid state", fmt.Sprintf("state %q is not \"file\" or \"directory\".", args.String("state"))))
	}
	if args.Has("mode") {
		m, err := fileedit.ParseMode(args.String("mode"))
		if err != nil {
			diags = append(diags, args.Diag("mode", "Invalid mode", err.Error()))
		}
		p.mode, p.hasMode = m, true
	}
	return p, diags
}

// Validate checks the arguments without a host.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	_, diags := parseArgs(args)
	return diags
}

// record is the undo record: a file's FileUndo, or what a directory task created or changed.
type record struct {
	File *engine.FileUndo `json:"file,omitempty"`
	Dir  *dirUndo         `json:"dir,omitempty"`
}

type dirUndo struct {
	Path string `json:"path"`
	// Created are the directories that did not exist, parents first.
	Created []string `json:"created,omitempty"`
	// Mode, UID and GID are an existing directory's metadata before the change.
	Mode uint32 `json:"mode,omitempty"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

type dirPlan struct {
	path    string
	create  []string
	mode    fs.FileMode
	uid     int
	gid     int
	setMeta bool
}

// StatPaths is what Check stats: a directory and its parents, or a file's directory (stat'd
// only when the file is missing, but the read-ahead costs no round trip of its own).
func (Module) StatPaths(args *engine.Args) []engine.StatPath {
	p, diags := parseArgs(args)
	if diags.HasErrors() {
		return nil
	}
	if !p.dir {
		return []engine.StatPath{{Path: path.Dir(p.path)}}
	}
	var out []engine.StatPath
	for d := path.Clean(p.path); ; d = path.Dir(d) {
		out = append(out, engine.StatPath{Path: d})
		if d == "/" {
			return out
		}
	}
}

// Check reads the file (one round trip; one more to stat the directory of a new file, and one to
// resolve owner or group names) and returns the change.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	p, diags := parseArgs(args)
	if diags.HasErrors() {
		return nil, diags
	}
	uid, gid, err := fileedit.ResolveOwner(ctx, h, p.owner, p.group)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	if p.dir {
		return checkDir(ctx, h, p, uid, gid)
	}
	fi, data, err := h.ReadFile(ctx, p.path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	if fi.Exists && fi.Type != conn.TypeFile {
		return nil, fmt.Errorf("%s: is a %s, not a file", p.path, fi.Type)
	}
	if !fi.Exists {
		// A new file needs its directory: apply would fail without it.
		dir := path.Dir(p.path)
		st, err := h.Stat(ctx, []string{dir}, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.path, err)
		}
		if st[0].Type != conn.TypeDir && st[0].Type != conn.TypeSymlink {
			return nil, fmt.Errorf("%s: directory %s does not exist (a file task with state = \"directory\" can create it first)", p.path, dir)
		}
	}
	t := fileedit.Keep(fi)
	if p.hasMode {
		t.Mode = p.mode
	}
	if uid >= 0 {
		t.UID = uid
	}
	if gid >= 0 {
		t.GID = gid
	}
	verb := "write"
	if !fi.Exists {
		verb = "create"
	}
	summary := fmt.Sprintf("%s %s (%d bytes, mode %04o)", verb, p.path, len(p.content), t.Mode)
	c := fileedit.NewChange(h, Name, fi, data, []byte(p.content), t, summary)
	if c.Action == engine.ActionNone {
		return c, nil
	}
	if args.Sensitive("content") {
		c.Diff = ""
		c.Summary += "; content is sensitive, diff hidden"
	}
	u := c.Private.(*fileedit.Edit).Undo
	c.Undo = engine.NewUndo(Name, record{File: &u})
	return c, nil
}

func checkDir(ctx context.Context, h *engine.Host, p params, uid, gid int) (*engine.Change, error) {
	var paths []string
	for d := path.Clean(p.path); ; d = path.Dir(d) {
		paths = append(paths, d)
		if d == "/" {
			break
		}
	}
	infos, err := h.Stat(ctx, paths, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	dp := dirPlan{path: paths[0], mode: 0o755, uid: uid, gid: gid}
	if p.hasMode {
		dp.mode = p.mode
	}
	for i, fi := range infos {
		if !fi.Exists {
			dp.create = append([]string{paths[i]}, dp.create...)
			continue
		}
		if fi.Type != conn.TypeDir && !(i > 0 && fi.Type == conn.TypeSymlink) {
			return nil, fmt.Errorf("%s: %s is a %s, not a directory", p.path, paths[i], fi.Type)
		}
		break
	}
	c := &engine.Change{Action: engine.ActionNone, Fingerprint: "absent"}
	u := dirUndo{Path: dp.path, Created: dp.create}
	var notes []string
	if len(dp.create) == 0 {
		fi := infos[0]
		c.Fingerprint = fmt.Sprintf("dir %04o %d:%d", fi.Mode, fi.UID, fi.GID)
		u.Mode, u.UID, u.GID = uint32(fi.Mode), fi.UID, fi.GID
		if p.hasMode && fi.Mode != dp.mode {
			notes = append(notes, fmt.Sprintf("mode %04o -> %04o", fi.Mode, dp.mode))
		}
		if uid >= 0 && fi.UID != uid || gid >= 0 && fi.GID != gid {
			notes = append(notes, fmt.Sprintf("owner %d:%d -> %s:%s", fi.UID, fi.GID, idOr(uid, fi.UID), idOr(gid, fi.GID)))
		}
		if len(notes) == 0 {
			c.Summary = "in sync: directory " + dp.path
			return c, nil
		}
		if !p.hasMode {
			dp.mode = fi.Mode
		}
		dp.setMeta = true
		c.Action = engine.ActionUpdate
		c.Summary = "directory " + dp.path + ": " + strings.Join(notes, ", ")
	} else {
		dp.setMeta = true
		c.Action = engine.ActionCreate
		c.Summary = fmt.Sprintf("create directory %s (mode %04o)", dp.path, dp.mode)
		if len(dp.create) > 1 {
			c.Summary += fmt.Sprintf(" and %d parent(s): %s", len(dp.create)-1, strings.Join(dp.create[:len(dp.create)-1], ", "))
		}
	}
	for _, d := range dp.create {
		m := uint32(0o755)
		if d == dp.path {
			m = uint32(dp.mode)
		}
		c.Effects = append(c.Effects, engine.Effect{Kind: engine.EffectDir, Path: d, Mode: m})
	}
	if len(dp.create) == 0 {
		c.Effects = []engine.Effect{{Kind: engine.EffectDir, Path: dp.path, Mode: uint32(dp.mode)}}
	}
	c.Undo = engine.NewUndo(Name, record{Dir: &u})
	c.Private = &dp
	return c, nil
}

func idOr(want, have int) string {
	if want < 0 {
		return strconv.Itoa(have)
	}
	return strconv.Itoa(want)
}

// WritesOnlyFiles implements engine.FileWriter: Apply writes a file through Host.WriteFile
// (a directory, through Exec, first makes the writes held before it).
func (Module) WritesOnlyFiles() {}

// Apply writes the file (backup first) or creates the directory.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	switch p := c.Private.(type) {
	case *fileedit.Edit:
		return fileedit.Apply(ctx, h, c)
	case *dirPlan:
		script := "mkdir -p -- " + conn.Quote(p.path) + " && chmod " + fmt.Sprintf("%04o", p.mode) + " -- " + conn.Quote(p.path)
		if p.uid >= 0 || p.gid >= 0 {
			script += " && chown " + owner(p.uid, p.gid) + " -- " + conn.Quote(p.path)
		}
		if err := h.Exec(ctx, script); err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
		return nil
	}
	return fmt.Errorf("apply: change carries no plan from this module")
}

func owner(uid, gid int) string {
	switch {
	case uid >= 0 && gid >= 0:
		return fmt.Sprintf("%d:%d", uid, gid)
	case uid >= 0:
		return strconv.Itoa(uid)
	}
	return fmt.Sprintf(":%d", gid)
}

// Revert restores the previous file, or removes the directories the change created (they must
// be empty again) and restores an existing directory's mode and owner.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var r record
	if err := u.Decode(&r); err != nil {
		return fmt.Errorf("undo record: %w", err)
	}
	switch {
	case r.File != nil:
		return fileedit.RevertFile(ctx, h, *r.File)
	case r.Dir != nil && len(r.Dir.Created) > 0:
		var parts []string
		for i := len(r.Dir.Created) - 1; i >= 0; i-- {
			q := conn.Quote(r.Dir.Created[i])
			parts = append(parts, "{ [ ! -d "+q+" ] || rmdir -- "+q+"; }")
		}
		if err := h.Exec(ctx, strings.Join(parts, " && ")); err != nil {
			return fmt.Errorf("%s: remove created directories: %w", r.Dir.Path, err)
		}
		return nil
	case r.Dir != nil:
		q := conn.Quote(r.Dir.Path)
		script := fmt.Sprintf("chmod %04o -- %s && chown %d:%d -- %s", r.Dir.Mode, q, r.Dir.UID, r.Dir.GID, q)
		if err := h.Exec(ctx, script); err != nil {
			return fmt.Errorf("%s: %w", r.Dir.Path, err)
		}
	}
	return nil
}

// CheckRevert reports a file changed by someone else since apply.
func (Module) CheckRevert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var r record
	if err := u.Decode(&r); err != nil {
		return fmt.Errorf("undo record: %w", err)
	}
	if r.File != nil {
		return h.CheckFileRevert(ctx, *r.File)
	}
	return nil
}
