// Package unarchive implements the unarchive task: unpack a .zip or .tar.gz from the controller
// into a directory on a host without unzip there (the controller streams a plain tar into
// `tar -x`), idempotent by a marker path the archive creates.
//
// In a plan, later tasks see every directory of the archive and its small text files (up to
// 1 MiB each, 64 MiB in all, no NUL bytes: configuration, properties, scripts) with their bytes,
// so an edit of a freshly unpacked conf file plans exactly. Larger or binary files are not in the
// plan's overlay: a later task reading one during a plan finds it absent.
package unarchive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/internal/fileedit"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "unarchive"

// Module is the unarchive task type.
type Module struct{}

var (
	_ engine.Module    = Module{}
	_ engine.Validator = Module{}
)

// Limits for the plan overlay: files of the archive up to overlayFileMax bytes without NUL bytes
// (configuration, properties, scripts) are carried into the plan, up to overlayTotalMax in all,
// so that later tasks editing them plan against their real bytes.
const (
	overlayFileMax  = 1 << 20
	overlayTotalMax = 64 << 20
)

// Schema declares unarchive's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Unpacks a .zip, .tar.gz, .tgz or .tar archive from the controller into a directory on the host, needing only sh and tar there; " +
			"skipped when the creates marker exists; undo removes the top-level entries it created.",
		Attrs: []engine.Attr{
			{Name: "src", Type: cty.String, Required: true, ControllerPath: true, Description: "The archive on the controller; a relative path is relative to the playbook file that names it."},
			{Name: "dest", Type: cty.String, Required: true, Description: "Absolute directory on the host to unpack into; created when missing."},
			{Name: "creates", Type: cty.String, Required: true, Description: "A path the archive creates (absolute, or relative to dest); when it exists the task is in sync."},
			{Name: "owner", Type: cty.String, Description: "User name or uid given (recursively) to the top-level entries unpacked. Default: the connecting user."},
			{Name: "group", Type: cty.String, Description: "Group name or gid, likewise."},
		},
		Example: `task "unarchive" "analytics pack" {
  src     = "files/wso2is-analytics-5.6.0.zip"
  dest    = "/opt/wso2"
  creates = "${var.an_home}/bin/wso2server.sh"
  owner   = "wso2"
  group   = "wso2"
}
`,
	}
}

type params struct {
	src, dest, creates, owner, group string
}

func parseArgs(args *engine.Args) (params, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p := params{src: args.String("src"), dest: path.Clean(args.String("dest")), creates: args.String("creates"), owner: args.String("owner"), group: args.String("group")}
	if fn := args.Range("src").Filename; p.src != "" && !filepath.IsAbs(p.src) && fn != "" {
		p.src = filepath.Join(filepath.Dir(fn), p.src)
	}
	if p.src == "" {
		diags = append(diags, args.Diag("src", "Empty src", "src must name an archive on the controller."))
	}
	if !path.IsAbs(args.String("dest")) {
		diags = append(diags, args.Diag("dest", "Relative dest", fmt.Sprintf("dest %q must be an absolute directory.", args.String("dest"))))
	}
	if p.creates == "" {
		diags = append(diags, args.Diag("creates", "Empty creates", "creates must name a path the archive creates."))
	} else if !path.IsAbs(p.creates) {
		p.creates = path.Join(p.dest, p.creates)
	}
	p.creates = path.Clean(p.creates)
	return p, diags
}

// Validate checks the arguments without a host.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	_, diags := parseArgs(args)
	return diags
}

// record is the undo record: what did not exist before and was created by the unpacking.
type record struct {
	Dest string `json:"dest"`
	// Remove are top-level entries under Dest that did not exist before.
	Remove []string `json:"remove,omitempty"`
	// CreatedDirs are Dest and its parents that did not exist, outermost first.
	CreatedDirs []string `json:"created_dirs,omitempty"`
}

type unpackPlan struct {
	p        params
	uid, gid int
	rec      record
}

// listing is what the controller learns from the archive.
type listing struct {
	entries int
	files   int
	dirs    map[string]int64 // every directory, explicit or implied, with its mode
	names   map[string]bool
	tops    []string
	bytes   int64
	small   []engine.Effect // small text files, relative paths
}

func list(src string) (*listing, error) {
	l := &listing{dirs: map[string]int64{}, names: map[string]bool{}}
	var total int64
	seenTop := map[string]bool{}
	err := walk(src, func(e entry, r io.Reader) error {
		l.entries++
		l.names[e.name] = true
		top, _, _ := strings.Cut(e.name, "/")
		if !seenTop[top] {
			seenTop[top] = true
			l.tops = append(l.tops, top)
		}
		for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
			if _, ok := l.dirs[d]; !ok {
				l.dirs[d] = 0o755
			}
			l.names[d] = true
		}
		switch e.typ {
		case tar.TypeDir:
			l.dirs[e.name] = e.mode
		case tar.TypeReg:
			l.files++
			l.bytes += e.size
			if e.size <= overlayFileMax && total+e.size <= overlayTotalMax {
				// A NUL byte in the first 8 KiB marks a binary file (jars, classes, images):
				// stop there rather than decompress all of it.
				head, err := io.ReadAll(io.LimitReader(r, 8<<10))
				if err != nil {
					return fmt.Errorf("%s: %w", e.name, err)
				}
				if bytes.IndexByte(head, 0) >= 0 {
					return nil
				}
				rest, err := io.ReadAll(io.LimitReader(r, overlayFileMax+1-int64(len(head))))
				if err != nil {
					return fmt.Errorf("%s: %w", e.name, err)
				}
				data := append(head, rest...)
				if bytes.IndexByte(rest, 0) < 0 {
					total += int64(len(data))
					l.small = append(l.small, engine.Effect{Kind: engine.EffectFile, Path: e.name, Data: data, Mode: uint32(e.mode & 0o777)})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Check lists the archive on the controller and stats the marker, dest, its parents and the
// archive's top-level entries on the host in one round trip (one more to resolve owner names).
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	p, diags := parseArgs(args)
	if diags.HasErrors() {
		return nil, diags
	}
	l, err := cachedList(ctx, p.src)
	if err != nil {
		return nil, fmt.Errorf("src: %w", err)
	}
	rel := strings.TrimPrefix(p.creates, strings.TrimSuffix(p.dest, "/")+"/")
	if rel == p.creates || !l.names[rel] {
		return nil, fmt.Errorf("creates %s: not a path the archive %s creates under %s, so the task could never be in sync", p.creates, filepath.Base(p.src), p.dest)
	}
	paths := []string{p.creates}
	var parents []string
	for d := p.dest; d != "/"; d = path.Dir(d) {
		parents = append(parents, d)
	}
	paths = append(paths, parents...)
	for _, t := range l.tops {
		paths = append(paths, path.Join(p.dest, t))
	}
	infos, err := h.Stat(ctx, paths, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.dest, err)
	}
	base := filepath.Base(p.src)
	if infos[0].Exists {
		return &engine.Change{Action: engine.ActionNone, Summary: "in sync: " + p.creates + " exists", Fingerprint: "creates:" + p.creates}, nil
	}
	uid, gid, err := fileedit.ResolveOwner(ctx, h, p.owner, p.group)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.dest, err)
	}
	rec := record{Dest: p.dest}
	for i, d := range parents {
		fi := infos[1+i]
		if fi.Exists {
			if fi.Type != conn.TypeDir && fi.Type != conn.TypeSymlink {
				return nil, fmt.Errorf("%s: %s is a %s, not a directory", p.dest, d, fi.Type)
			}
			break
		}
		rec.CreatedDirs = append([]string{d}, rec.CreatedDirs...)
	}
	c := &engine.Change{Action: engine.ActionCreate, Fingerprint: "creates:" + p.creates}
	var created, existing []string
	for i, t := range l.tops {
		fi := infos[1+len(parents)+i]
		full := path.Join(p.dest, t)
		if fi.Exists {
			existing = append(existing, full)
			continue
		}
		created = append(created, full)
		rec.Remove = append(rec.Remove, full)
	}
	c.Summary = fmt.Sprintf("unpack %s into %s: %d entries (%d files, %s)", base, p.dest, l.entries, l.files, size(l.bytes))
	if len(created) > 0 {
		c.Summary += ", creates " + strings.Join(shortList(created, 3), ", ")
	}
	if len(rec.CreatedDirs) > 0 {
		c.Details = append(c.Details, "creates directory "+strings.Join(rec.CreatedDirs, ", "))
	}
	if len(existing) > 0 {
		c.Details = append(c.Details, "unpacks into existing "+strings.Join(existing, ", ")+" (undo leaves it)")
		c.Risks = append(c.Risks, "overwrites files in existing directories")
	}
	if uid >= 0 || gid >= 0 {
		c.Details = append(c.Details, fmt.Sprintf("owner of the created entries: %s", owner(uid, gid)))
	}
	c.Effects = effects(p, l, rec, uid, gid)
	c.Undo = engine.NewUndo(Name, rec)
	c.Private = &unpackPlan{p: p, uid: uid, gid: gid, rec: rec}
	return c, nil
}

// effects are what the plan overlay learns: every directory, the small text files with their
// bytes, and the marker. Large or binary files are not carried: a later task reading one during a
// plan sees it absent.
func effects(p params, l *listing, rec record, uid, gid int) []engine.Effect {
	var out []engine.Effect
	for _, d := range rec.CreatedDirs {
		out = append(out, engine.Effect{Kind: engine.EffectDir, Path: d, Mode: 0o755})
	}
	dirs := make([]string, 0, len(l.dirs))
	for d := range l.dirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		out = append(out, engine.Effect{Kind: engine.EffectDir, Path: path.Join(p.dest, d), Mode: uint32(l.dirs[d] & 0o777)})
	}
	marker := false
	for _, f := range l.small {
		f.Path = path.Join(p.dest, f.Path)
		f.Data = bytes.Clone(f.Data) // the listing is shared by every host: each gets its own bytes
		f.UID, f.GID = uid, gid
		marker = marker || f.Path == p.creates
		out = append(out, f)
	}
	if _, isDir := l.dirs[strings.TrimPrefix(p.creates, p.dest+"/")]; !marker && !isDir {
		out = append(out, engine.Effect{Kind: engine.EffectFile, Path: p.creates, Mode: 0o644, UID: uid, GID: gid})
	}
	return out
}

func shortList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func owner(uid, gid int) string {
	switch {
	case uid >= 0 && gid >= 0:
		return fmt.Sprintf("%d:%d", uid, gid)
	case uid >= 0:
		return fmt.Sprint(uid)
	}
	return fmt.Sprintf(":%d", gid)
}

// Apply streams the archive as a plain tar into `tar -x` on the host, sets the owner of what it
// created, and checks that the marker now exists, in one round trip.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	if h.IsPlanning() {
		return engine.ErrPlanWrite
	}
	up, ok := c.Private.(*unpackPlan)
	if !ok {
		return fmt.Errorf("apply: change carries no unpack plan")
	}
	p := up.p
	stdin, streamed := tarInput(ctx, p.src)
	// One round trip: unpack, give what was created its owner, and check the marker.
	script := "mkdir -p -- " + conn.Quote(p.dest) + " && tar -x -o -f - -C " + conn.Quote(p.dest) + " || exit 1\n"
	if (up.uid >= 0 || up.gid >= 0) && len(up.rec.Remove) > 0 {
		args := append([]string{"chown", "-R", "--", owner(up.uid, up.gid)}, up.rec.Remove...)
		script += conn.Join(args...) + " || exit 2\n"
	}
	script += "[ -e " + conn.Quote(p.creates) + " ] || [ -L " + conn.Quote(p.creates) + " ] || exit 3"
	res, err := h.Run(ctx, conn.Command{Script: script, Stdin: stdin, Subshell: true})
	if e := streamed(); e != nil {
		return fmt.Errorf("unpack %s: %w", p.src, e)
	}
	if err != nil {
		return fmt.Errorf("unpack %s into %s: %w", filepath.Base(p.src), p.dest, err)
	}
	stderr := h.Redact(strings.TrimSpace(string(res.Stderr)))
	switch res.ExitCode {
	case 0:
		return nil
	case 2:
		return fmt.Errorf("%s: chown: %s", p.dest, stderr)
	case 3:
		return fmt.Errorf("unpacked %s into %s, but %s does not exist", filepath.Base(p.src), p.dest, p.creates)
	}
	return fmt.Errorf("unpack %s into %s: tar exit %d: %s", filepath.Base(p.src), p.dest, res.ExitCode, stderr)
}

// Revert removes the top-level entries the unpacking created and the directories it made for
// dest; nothing that existed before is touched. It is idempotent.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var rec record
	if err := u.Decode(&rec); err != nil {
		return fmt.Errorf("undo record: %w", err)
	}
	var parts []string
	for _, r := range rec.Remove {
		if path.Dir(r) != rec.Dest || !path.IsAbs(r) || path.Base(r) == ".." || path.Base(r) == "." || r == "/" {
			return fmt.Errorf("undo record: refusing to remove %q (not an entry of %s)", r, rec.Dest)
		}
		parts = append(parts, "rm -rf -- "+conn.Quote(r))
	}
	for i := len(rec.CreatedDirs) - 1; i >= 0; i-- {
		q := conn.Quote(rec.CreatedDirs[i])
		parts = append(parts, "{ [ ! -d "+q+" ] || rmdir -- "+q+"; }")
	}
	if len(parts) == 0 {
		return nil
	}
	if err := h.Exec(ctx, strings.Join(parts, " && ")); err != nil {
		return fmt.Errorf("%s: %w", rec.Dest, err)
	}
	return nil
}
