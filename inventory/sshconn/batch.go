package sshconn

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/isaplay/isaplay/inventory/conn"
)

// WriteFiles writes a batch of files in one round trip: the new bytes travel as one tar stream
// that one `tar -x` unpacks into staging directories beside the targets, where every staged
// file is given its owner, checked and synced; then, for each round of distinct paths (a path
// written again starts the next round, whose backups must see the first write), the backups
// are taken (one tar pipeline) and the files renamed over their targets, one `mv` per
// directory. A failure before the first rename leaves every target untouched. Paths that a shell
// word or tar's --transform cannot carry safely (control characters, a leading "-") are
// written one by one with WriteFile.
func (c *Conn) WriteFiles(ctx context.Context, writes []conn.FileWrite) ([]bool, error) {
	made := make([]bool, len(writes))
	for start := 0; start < len(writes); {
		if !batchable(writes[start]) {
			w := writes[start]
			if err := c.WriteFile(ctx, w.Path, w.Data, w.Opts); err != nil {
				return made, err
			}
			made[start] = true
			start++
			continue
		}
		// A run of batchable writes with one become setting.
		end := start + 1
		for end < len(writes) && batchable(writes[end]) && writes[end].Opts.Become == writes[start].Opts.Become {
			end++
		}
		ok, err := c.writeRun(ctx, writes[start:end])
		copy(made[start:end], ok)
		if err != nil {
			return made, err
		}
		start = end
	}
	return made, nil
}

// batchable reports whether a write can go into a batch script.
func batchable(w conn.FileWrite) bool {
	for _, p := range []string{w.Path, w.Opts.Backup} {
		if strings.HasPrefix(p, "-") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return false
		}
	}
	return w.Path != "" && path.Base(path.Clean(w.Path)) != "." && path.Base(path.Clean(w.Path)) != ".."
}

// writeRun writes files in one round trip (see WriteFiles).
func (c *Conn) writeRun(ctx context.Context, writes []conn.FileWrite) ([]bool, error) {
	made := make([]bool, len(writes))
	script, stream, err := batchScript(writes, c.uid == 0 || writes[0].Opts.Become)
	if err != nil {
		return made, fmt.Errorf("%s: write %s: %w", c.name, writes[0].Path, err)
	}
	res, err := c.exec(ctx, script, true, stream, true, writes[0].Opts.Become, nil)
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		idx, ok := strings.CutPrefix(line, "made ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(idx) {
			if i, err := strconv.Atoi(f); err == nil && i >= 0 && i < len(made) {
				made[i] = true
			}
		}
	}
	if err != nil {
		return made, err
	}
	if res.ExitCode != 0 {
		return made, fmt.Errorf("%s: write %s: exit status %d: %s", c.name, pathsOf(writes), res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return made, nil
}

func pathsOf(writes []conn.FileWrite) string {
	if len(writes) == 1 {
		return writes[0].Path
	}
	return fmt.Sprintf("%s and %d more files", writes[0].Path, len(writes)-1)
}

// batchScript returns the script that writes the files and the tar stream it reads on
// standard input. root says whether the script runs as root (backups then keep their owner).
func batchScript(writes []conn.FileWrite, root bool) (string, []byte, error) {
	q := conn.Quote
	fail := func(msg string) string { return "{ printf '%s\\n' " + q(msg) + " >&2; false; }" }

	// Rounds of distinct paths, in order; each round stages its files in its own directories
	// beside the targets (one per target directory) and its backups beside theirs.
	type group struct {
		dir, stage string
		idx        []int
	}
	type round struct {
		groups, bgroups []*group
		idx             []int
	}
	var rounds []*round
	staged := make([]string, len(writes))
	var cur *round
	var seen map[string]bool
	var byDir, byBDir map[string]*group
	for i, w := range writes {
		p := path.Clean(w.Path)
		if cur == nil || seen[p] {
			cur = &round{}
			rounds = append(rounds, cur)
			seen, byDir, byBDir = map[string]bool{}, map[string]*group{}, map[string]*group{}
		}
		seen[p] = true
		cur.idx = append(cur.idx, i)
		d := path.Dir(p)
		g := byDir[d]
		if g == nil {
			g = &group{dir: d, stage: path.Join(d, stageName())}
			byDir[d] = g
			cur.groups = append(cur.groups, g)
		}
		g.idx = append(g.idx, i)
		staged[i] = path.Join(g.stage, path.Base(p))
		if b := w.Opts.Backup; b != "" {
			bd := path.Dir(path.Clean(b))
			if byBDir[bd] == nil {
				byBDir[bd] = &group{dir: bd, stage: path.Join(bd, stageName())}
				cur.bgroups = append(cur.bgroups, byBDir[bd])
			}
			byBDir[bd].idx = append(byBDir[bd].idx, i)
		}
	}

	// The new bytes, as one tar stream of the staged names.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for i, w := range writes {
		mode := w.Opts.Mode.Perm()
		if w.Opts.Mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: staged[i], Mode: int64(mode), Size: int64(len(w.Data)), ModTime: now, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return "", nil, err
		}
		if _, err := tw.Write(w.Data); err != nil {
			return "", nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return "", nil, err
	}

	var s []string // the steps, joined by &&: the first that fails stops the rest

	// Every target directory exists and no target is a directory.
	dirs := map[string]bool{}
	for _, w := range writes {
		p := path.Clean(w.Path)
		if d := path.Dir(p); !dirs[d] {
			dirs[d] = true
			s = append(s, "{ [ -d "+q(d)+" ] || "+fail("write "+w.Path+": no such directory "+d)+"; }")
		}
		s = append(s, "{ [ ! -d "+q(p)+" ] || [ -L "+q(p)+" ] || "+fail("write "+w.Path+": is a directory")+"; }")
	}

	// The new files, staged; their owners; the digests asked for; synced.
	s = append(s, "tar -xPpmf - --no-same-owner")
	type owner struct{ uid, gid int }
	var owners []owner
	byOwner := map[owner][]string{}
	for i, w := range writes {
		o := owner{w.Opts.UID, w.Opts.GID}
		if o.uid < 0 && o.gid < 0 {
			continue
		}
		if byOwner[o] == nil {
			owners = append(owners, o)
		}
		byOwner[o] = append(byOwner[o], staged[i])
	}
	for _, o := range owners {
		spec := ""
		switch {
		case o.uid >= 0 && o.gid >= 0:
			spec = fmt.Sprintf("%d:%d", o.uid, o.gid)
		case o.uid >= 0:
			spec = strconv.Itoa(o.uid)
		default:
			spec = ":" + strconv.Itoa(o.gid)
		}
		s = append(s, conn.Join(append([]string{"chown", "--", spec}, byOwner[o]...)...))
	}
	for i, w := range writes {
		if w.Opts.SHA256 == "" {
			continue
		}
		s = append(s, "_s=$(sha256sum < "+q(staged[i])+") && { [ \"${_s%% *}\" = "+q(w.Opts.SHA256)+" ] || "+
			"{ printf '%s\\n' "+q("write "+w.Path+": sha256 of the uploaded file is ")+"\"${_s%% *}, want \""+q(w.Opts.SHA256)+" >&2; false; }; }")
	}
	s = append(s, conn.Join(append([]string{"sync", "--"}, staged...)...))

	backupOwner := "--no-same-owner"
	if root {
		backupOwner = "--same-owner --numeric-owner"
	}
	var stages []string
	for _, r := range rounds {
		// Backups: every regular file that has none yet is copied, bytes, mode and owner, by one
		// tar pipeline into a staging directory beside its backup, then renamed into place, so
		// that a backup that exists is always whole.
		if len(r.bgroups) > 0 {
			var b strings.Builder
			b.WriteString("set --")
			bstage := func(i int) (string, string, string) {
				p, bk := path.Clean(writes[i].Path), path.Clean(writes[i].Opts.Backup)
				for _, g := range r.bgroups {
					if g.dir == path.Dir(bk) {
						return p, bk, path.Join(g.stage, path.Base(bk))
					}
				}
				panic("backup outside its round")
			}
			for _, i := range r.idx {
				if writes[i].Opts.Backup == "" {
					continue
				}
				p, bk, bs := bstage(i)
				fmt.Fprintf(&b, " && if [ -f %s ] && [ ! -L %s ] && [ ! -f %s ]; then set -- \"$@\" %s %s; fi", q(p), q(p), q(bk),
					q("--transform="+transform(p, bs)), q(p))
			}
			b.WriteString(" && { [ $# -eq 0 ] || { ")
			for _, g := range r.bgroups {
				b.WriteString("{ [ -d " + q(g.dir) + " ] || mkdir -p -- " + q(g.dir) + "; } && ")
			}
			b.WriteString("tar -cPf - --no-recursion \"$@\" | tar -xPpf - " + backupOwner + "; }; }")
			s = append(s, b.String())
			// Each backup asked for is now in place or staged, or its file was no regular file.
			for _, i := range r.idx {
				if writes[i].Opts.Backup == "" {
					continue
				}
				p, bk, bs := bstage(i)
				s = append(s, "{ [ ! -f "+q(p)+" ] || [ -L "+q(p)+" ] || [ -f "+q(bk)+" ] || [ -f "+q(bs)+" ] || "+fail("backup to "+writes[i].Opts.Backup+" failed")+"; }")
			}
			for _, g := range r.bgroups {
				s = append(s, "{ [ ! -d "+q(g.stage)+" ] || { set -- "+q(g.stage)+"/* && { [ ! -e \"$1\" ] || mv -f -t "+q(g.dir)+" -- \"$@\"; }; }; }")
				stages = append(stages, g.stage)
			}
		}
		// The renames, one mv per directory; each records the writes it made.
		for _, g := range r.groups {
			args := []string{"mv", "-f", "-t", g.dir, "--"}
			nums := make([]string, len(g.idx))
			for k, i := range g.idx {
				args = append(args, staged[i])
				nums[k] = strconv.Itoa(i)
			}
			s = append(s, conn.Join(args...)+" && _m=\"$_m "+strings.Join(nums, " ")+"\"")
			stages = append(stages, g.stage)
		}
	}

	// What was made is printed last, after the cleanup: the script is uninterrupted, and a
	// client gone away must not stop it half-way.
	script := "[ -n \"${_umask-}\" ] || _umask=$(umask)\numask 077\n_m=\n" +
		strings.Join(s, " &&\n") + "\n_r=$?\n" +
		conn.Join(append([]string{"rm", "-rf", "--"}, stages...)...) + "\n" +
		"umask \"$_umask\"\n[ -z \"$_m\" ] || echo \"made$_m\"\nreturn $_r"
	return uninterrupted(script), buf.Bytes(), nil
}

// stageName is the name of a staging directory beside the files of a batch.
func stageName() string {
	return conn.StagePrefix + strings.TrimPrefix(tempName(), conn.TempPrefix)
}

// transform is a GNU tar --transform expression that renames exactly the member from to to.
// The delimiter, \x01, is a control character that batchable keeps out of both paths.
func transform(from, to string) string {
	re := strings.NewReplacer(`\`, `\\`, `.`, `\.`, `[`, `\[`, `]`, `\]`, `*`, `\*`, `^`, `\^`, `$`, `\$`).Replace(from)
	repl := strings.NewReplacer(`\`, `\\`, `&`, `\&`).Replace(to)
	return "s\x01^" + re + "$\x01" + repl + "\x01"
}
