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

// WriteFiles writes a batch of files in one round trip: the backups of what the targets hold
// are taken (one tar pipeline), then the new bytes, which travel as one tar stream, are unpacked
// by one `tar -x` into staging directories beside the targets, given their owners, checked and
// synced, and only then renamed over the targets, one `mv` per directory. A failure before the
// renames leaves every target untouched. Paths that a shell
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
	res, err := c.execToEnd(ctx, script, bytesInput(stream), writes[0].Opts.Become)
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
// standard input. root says whether the script runs as root (files then get their owner from
// the stream, and backups keep theirs).
//
// A path written more than once is renamed over once, with its last bytes; each later write's
// backup, which must hold the bytes the write before it left, comes in the stream from here.
// Backups are written in place, never over an existing one (they are named by content, and a
// restore checks a backup's digest), so none needs a rename of its own.
func batchScript(writes []conn.FileWrite, root bool) (string, []byte, error) {
	q := conn.Quote
	fail := func(msg string) string { return "{ printf '%s\\n' " + q(msg) + " >&2; false; }" }
	owner := func(w conn.FileWrite) (int, int) {
		uid, gid := w.Opts.UID, w.Opts.GID
		if uid < 0 {
			uid = 0
		}
		if gid < 0 {
			gid = 0
		}
		return uid, gid
	}
	mode := func(w conn.FileWrite) int64 {
		if w.Opts.Mode == 0 {
			return 0o644
		}
		return int64(w.Opts.Mode.Perm())
	}

	// Each path's writes, in the order the paths first come; the last write of a path is staged
	// beside it, in one staging directory per target directory.
	type target struct {
		path   string
		writes []int
		staged string
	}
	type group struct {
		dir, stage string
		targets    []*target
	}
	var targets []*target
	byPath := map[string]*target{}
	var groups []*group
	byDir := map[string]*group{}
	for i, w := range writes {
		p := path.Clean(w.Path)
		t := byPath[p]
		if t == nil {
			t = &target{path: p}
			byPath[p] = t
			targets = append(targets, t)
			d := path.Dir(p)
			g := byDir[d]
			if g == nil {
				g = &group{dir: d, stage: path.Join(d, stageName())}
				byDir[d] = g
				groups = append(groups, g)
			}
			g.targets = append(g.targets, t)
			t.staged = path.Join(g.stage, path.Base(p))
		}
		t.writes = append(t.writes, i)
	}

	// The stream: every target's last bytes, staged, then the backups of later writes to a path.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	add := func(name string, w conn.FileWrite) error {
		uid, gid := owner(w)
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode(w), Size: int64(len(w.Data)), ModTime: now,
			Uid: uid, Gid: gid, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(w.Data)
		return err
	}
	for _, t := range targets {
		if err := add(t.staged, writes[t.writes[len(t.writes)-1]]); err != nil {
			return "", nil, err
		}
	}
	for _, t := range targets {
		for k, i := range t.writes {
			b := writes[i].Opts.Backup
			if b == "" {
				continue
			}
			if k > 0 {
				if err := add(path.Clean(b), writes[t.writes[k-1]]); err != nil {
					return "", nil, err
				}
			}
		}
	}
	if err := tw.Close(); err != nil {
		return "", nil, err
	}

	var s []string // the steps, joined by &&: the first that fails stops the rest

	// Every target directory exists and no target is a directory.
	for _, g := range groups {
		s = append(s, "{ [ -d "+q(g.dir)+" ] || "+fail("write "+g.targets[0].path+": no such directory "+g.dir)+"; }")
	}
	for _, t := range targets {
		s = append(s, "{ [ ! -d "+q(t.path)+" ] || [ -L "+q(t.path)+" ] || "+fail("write "+t.path+": is a directory")+"; }")
	}

	// Backups of what the targets hold now: every regular file whose first write asks for one
	// that is not there yet is copied, bytes, mode and owner, by one tar pipeline (which makes
	// the missing directories on the way, mode 0700 under the script's umask).
	sameOwner := "--no-same-owner"
	if root {
		sameOwner = "--same-owner --numeric-owner"
	}
	var b strings.Builder
	b.WriteString("set --")
	for _, t := range targets {
		w := writes[t.writes[0]]
		if w.Opts.Backup == "" {
			continue
		}
		p, bk := q(t.path), path.Clean(w.Opts.Backup)
		fmt.Fprintf(&b, " && if [ -f %s ] && [ ! -L %s ] && [ ! -f %s ]; then set -- \"$@\" %s %s; fi", p, p, q(bk),
			q("--transform="+transform(t.path, bk)), p)
	}
	b.WriteString(" && { [ $# -eq 0 ] || tar -cPf - --no-recursion \"$@\" | tar -xPpf - --skip-old-files " + sameOwner + "; }")
	s = append(s, b.String())
	for _, t := range targets {
		w := writes[t.writes[0]]
		if w.Opts.Backup == "" {
			continue
		}
		p := q(t.path)
		s = append(s, "{ [ ! -f "+p+" ] || [ -L "+p+" ] || [ -f "+q(w.Opts.Backup)+" ] || "+fail("backup to "+w.Opts.Backup+" failed")+"; }")
	}

	// The new files, staged, and the backups of later writes; owners; digests asked for; synced.
	s = append(s, "tar -xPpmf - --skip-old-files "+sameOwner)
	if !root {
		type own struct{ uid, gid int }
		var owners []own
		byOwner := map[own][]string{}
		for _, t := range targets {
			w := writes[t.writes[len(t.writes)-1]]
			o := own{w.Opts.UID, w.Opts.GID}
			if o.uid < 0 && o.gid < 0 {
				continue
			}
			if byOwner[o] == nil {
				owners = append(owners, o)
			}
			byOwner[o] = append(byOwner[o], t.staged)
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
	}
	staged := make([]string, len(targets))
	var sums []conn.Digest
	for k, t := range targets {
		staged[k] = t.staged
		w := writes[t.writes[len(t.writes)-1]]
		if w.Opts.SHA256 != "" {
			sums = append(sums, conn.Digest{File: q(t.staged), Want: w.Opts.SHA256, What: "write " + w.Path + ": the uploaded file"})
		}
	}
	if len(sums) > 0 {
		s = append(s, conn.SHA256Check(sums...))
	}
	s = append(s, conn.Join(append([]string{"sync", "--"}, staged...)...))

	if beforeRenames != "" {
		s = append(s, beforeRenames)
	}

	// The renames, one mv per directory; each records the writes it made.
	var stages []string
	for _, g := range groups {
		args := []string{"mv", "-f", "-t", g.dir, "--"}
		var nums []string
		for _, t := range g.targets {
			args = append(args, t.staged)
			for _, i := range t.writes {
				nums = append(nums, strconv.Itoa(i))
			}
		}
		s = append(s, conn.Join(args...)+" && _m=\"$_m "+strings.Join(nums, " ")+"\"")
		stages = append(stages, g.stage)
	}

	// What was made is printed last, after the cleanup: the script is uninterrupted, and a
	// client gone away must not stop it half-way.
	script := "[ -n \"${_umask-}\" ] || _umask=$(umask)\numask 077\n_m=\n" +
		strings.Join(s, " &&\n") + "\n_r=$?\n" +
		conn.Join(append([]string{"rm", "-rf", "--"}, stages...)...) + "\n" +
		"umask \"$_umask\"\n[ -z \"$_m\" ] || echo \"made$_m\"\nreturn $_r"
	return uninterrupted(script), buf.Bytes(), nil
}

// beforeRenames is a step a batch runs before its renames, for tests (empty: none).
var beforeRenames string

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
