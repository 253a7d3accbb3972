package sshconn

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/isaplay/isaplay/inventory/conn"
)

// statFormat is what `stat --printf` prints per path: raw mode in hex, uid, gid, size, and the
// name, which for a symlink is "name -> target" (QUOTING_STYLE=literal: no escaping).
const statFormat = `%f %u %g %s %N\0`

// The file scripts below run as functions inside the framed shell (see shell.go): they end
// with return, never exit, and name their variables _*.

// statScript prints, for the paths: stat records, a NUL, then `sha256sum -z` of the regular
// files among hashed.
func statScript(paths, hashed []string) string {
	var b strings.Builder
	b.WriteString("LC_ALL=C QUOTING_STYLE=literal stat --printf " + conn.Quote(statFormat) + " -- " + conn.Join(paths...) + "\n_st=$?\nprintf '\\000'\n")
	if len(hashed) > 0 {
		b.WriteString(`set --; for _p in ` + conn.Join(hashed...) + `; do if [ -f "$_p" ] && [ ! -L "$_p" ]; then set -- "$@" "$_p"; fi; done` + "\n")
		b.WriteString(`if [ $# -gt 0 ]; then LC_ALL=C sha256sum -z -- "$@" || return 2; fi` + "\n")
	}
	b.WriteString("return $_st")
	return b.String()
}

// Stat reports each path without following symlinks, in one round trip.
func (c *Conn) Stat(ctx context.Context, paths []string, hash bool) ([]conn.FileInfo, error) {
	want := make([]bool, len(paths))
	for i := range want {
		want[i] = hash
	}
	return c.StatHash(ctx, paths, want)
}

// StatHash is Stat with the sha256 of the regular files only at the paths where hash[i], in one
// round trip.
func (c *Conn) StatHash(ctx context.Context, paths []string, hash []bool) ([]conn.FileInfo, error) {
	out := make([]conn.FileInfo, len(paths))
	for i, p := range paths {
		out[i].Path = p
		if p == "" {
			return nil, fmt.Errorf("%s: stat: empty path", c.name)
		}
	}
	if len(paths) == 0 {
		return out, nil
	}
	var hashed []string
	for i, p := range paths {
		if hash[i] {
			hashed = append(hashed, p)
		}
	}
	res, err := c.exec(ctx, statScript(paths, hashed), runFunction, noInput, false, nil)
	if err != nil {
		return nil, err
	}
	if err := statErrors(res); err != nil {
		return nil, fmt.Errorf("%s: stat: %w", c.name, err)
	}
	recs := bytes.Split(res.Stdout, []byte{0})
	// stat records, "", then hash records.
	k := 0
	for k < len(recs) && len(recs[k]) > 0 {
		k++
	}
	statRecs := recs[:k]
	hashes := map[string]string{}
	if k < len(recs) {
		for _, h := range recs[k+1:] {
			if len(h) > 66 {
				hashes[string(h[66:])] = string(h[:64])
			}
		}
	}
	// Records come in argument order, without the missing paths.
	var unknownLinks []int
	j := 0
	for i, p := range paths {
		if j >= len(statRecs) {
			break
		}
		fi, name, err := parseStat(statRecs[j], true)
		if err != nil {
			return nil, fmt.Errorf("%s: stat %s: %w", c.name, p, err)
		}
		switch {
		case fi.Type != conn.TypeSymlink && name == p:
		case fi.Type == conn.TypeSymlink && strings.HasPrefix(name, p+" -> "):
			fi.LinkTarget = name[len(p)+4:]
		case fi.Type == conn.TypeSymlink && strings.HasPrefix(name, p):
			// An older stat that quotes %N its own way: ask readlink below.
			unknownLinks = append(unknownLinks, i)
		default:
			continue // p is missing; the record is the next path's
		}
		fi.Path = p
		if fi.Type == conn.TypeFile && hash[i] {
			fi.SHA256 = hashes[p]
		}
		out[i] = fi
		j++
	}
	if len(unknownLinks) > 0 {
		var b strings.Builder
		for _, i := range unknownLinks {
			b.WriteString("readlink -n -- " + conn.Quote(paths[i]) + "; printf '\\000'\n")
		}
		res, err := c.exec(ctx, b.String(), runFunction, noInput, false, nil)
		if err != nil {
			return nil, err
		}
		targets := bytes.Split(res.Stdout, []byte{0})
		if res.ExitCode != 0 || len(targets) < len(unknownLinks) {
			return nil, fmt.Errorf("%s: stat: readlink: exit status %d: %s", c.name, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
		}
		for k, i := range unknownLinks {
			out[i].LinkTarget = string(targets[k])
		}
	}
	return out, nil
}

// statErrors turns stat's complaints other than "no such file" into an error.
func statErrors(res conn.Result) error {
	if res.ExitCode == 0 {
		return nil
	}
	var bad []string
	for _, l := range strings.Split(strings.TrimSpace(string(res.Stderr)), "\n") {
		if l == "" || strings.HasSuffix(l, ": No such file or directory") || strings.HasSuffix(l, ": Not a directory") {
			continue
		}
		bad = append(bad, l)
	}
	if len(bad) > 0 || res.ExitCode != 1 {
		return fmt.Errorf("exit status %d: %s", res.ExitCode, strings.Join(bad, "; "))
	}
	return nil
}

// parseStat parses "<hexmode> <uid> <gid> <size>[ <name>]".
func parseStat(rec []byte, withName bool) (conn.FileInfo, string, error) {
	var fi conn.FileInfo
	n := 4
	if withName {
		n = 5
	}
	f := strings.SplitN(string(rec), " ", n)
	if len(f) < n {
		return fi, "", fmt.Errorf("bad stat record %q", rec)
	}
	mode, err1 := strconv.ParseUint(f[0], 16, 32)
	uid, err2 := strconv.Atoi(f[1])
	gid, err3 := strconv.Atoi(f[2])
	size, err4 := strconv.ParseInt(f[3], 10, 64)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return fi, "", fmt.Errorf("bad stat record %q: %w", rec, err)
		}
	}
	fi.Exists = true
	fi.UID, fi.GID, fi.Size = uid, gid, size
	fi.Mode = fs.FileMode(mode & 0o777)
	switch mode & 0o170000 {
	case 0o100000:
		fi.Type = conn.TypeFile
	case 0o040000:
		fi.Type = conn.TypeDir
	case 0o120000:
		fi.Type = conn.TypeSymlink
	default:
		fi.Type = conn.TypeOther
	}
	name := ""
	if withName {
		name = f[4]
	}
	return fi, name, nil
}

// readWithTar makes ReadFile use GNU tar where the host has it: one process instead of two
// (stat and cat), which halves the host's work per read. Tests turn it off to cover the fallback.
var readWithTar = true

// tarArgs archives exactly one path, its header and (for a regular file) its bytes, with numeric
// owners, in 512-byte records.
const tarArgs = "tar --numeric-owner --no-recursion -P -b1 -cf"

// readScript prints nothing when the path does not exist. Otherwise it prints "T" and a tar
// archive of the path, or, where GNU tar is missing (the shell probes once), "S", the stat record
// of the path, a NUL, then the file's bytes or the link's target.
func readScript(p string) string {
	var b strings.Builder
	b.WriteString("_p=" + conn.Quote(p) + "\n")
	if readWithTar {
		b.WriteString(`[ -n "${_tar-}" ] || if ` + tarArgs + ` /dev/null -- / >/dev/null 2>&1; then _tar=y; else _tar=n; fi` + "\n")
	} else {
		b.WriteString("_tar=n\n")
	}
	b.WriteString(`if [ ! -e "$_p" ] && [ ! -L "$_p" ]; then return 0; fi
if [ "$_tar" = y ]; then printf T; ` + tarArgs + ` - -- "$_p"; return; fi
printf S
if [ -L "$_p" ]; then LC_ALL=C stat --printf '%f %u %g %s\0' -- "$_p" && readlink -n -- "$_p"
elif [ -f "$_p" ]; then LC_ALL=C stat --printf '%f %u %g %s\0' -- "$_p" && cat -- "$_p"
else LC_ALL=C stat --printf '%f %u %g %s\0' -- "$_p"
fi`)
	return b.String()
}

// ReadFile returns what is at path and, for a regular file, its bytes, in one round trip.
func (c *Conn) ReadFile(ctx context.Context, p string, become bool) (conn.FileInfo, []byte, error) {
	fi := conn.FileInfo{Path: p}
	res, err := c.exec(ctx, readScript(p), runFunction, noInput, become, nil)
	if err != nil {
		return fi, nil, err
	}
	if res.ExitCode != 0 {
		return fi, nil, fmt.Errorf("%s: read %s: exit status %d: %s", c.name, p, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	out := res.Stdout
	if len(out) == 0 {
		return fi, nil, nil
	}
	var data []byte
	switch out[0] {
	case 'T':
		fi, data, err = parseTar(out[1:])
	case 'S':
		fi, data, err = parseStatRead(out[1:])
	default:
		err = fmt.Errorf("bad output")
	}
	if err != nil {
		return conn.FileInfo{Path: p}, nil, fmt.Errorf("%s: read %s: %w", c.name, p, err)
	}
	fi.Path = p
	if fi.Type == conn.TypeFile {
		if data == nil {
			data = []byte{}
		}
		sum := sha256.Sum256(data)
		fi.SHA256 = hex.EncodeToString(sum[:])
		fi.Size = int64(len(data))
		return fi, data, nil
	}
	return fi, nil, nil
}

// parseTar reads the one entry of a tar archive. The archive must end exactly where GNU tar
// ends it (two zero blocks): more bytes mean output of another process got mixed in.
func parseTar(b []byte) (fi conn.FileInfo, data []byte, err error) {
	r := bytes.NewReader(b)
	tr := tar.NewReader(r)
	h, err := tr.Next()
	if err != nil {
		return fi, nil, fmt.Errorf("tar: %w", err)
	}
	defer func() {
		if err != nil {
			return
		}
		if _, e := tr.Next(); e != io.EOF {
			err = fmt.Errorf("tar: more than one entry (%v): output of another process got mixed in", e)
		} else if r.Len() != 0 {
			err = fmt.Errorf("tar: %d stray bytes after the archive: output of another process got mixed in", r.Len())
		}
	}()
	fi.Exists = true
	fi.Mode = fs.FileMode(h.Mode & 0o777)
	fi.UID, fi.GID = h.Uid, h.Gid
	switch h.Typeflag {
	case tar.TypeReg:
		fi.Type = conn.TypeFile
		data, err = io.ReadAll(tr)
		if err != nil {
			return fi, nil, fmt.Errorf("tar: %w", err)
		}
		return fi, data, nil
	case tar.TypeSymlink:
		fi.Type = conn.TypeSymlink
		fi.LinkTarget = h.Linkname
		fi.Size = int64(len(h.Linkname))
	case tar.TypeDir:
		fi.Type = conn.TypeDir
	default:
		fi.Type = conn.TypeOther
	}
	return fi, nil, nil
}

// parseStatRead reads a stat record, a NUL, then the bytes or link target.
func parseStatRead(b []byte) (conn.FileInfo, []byte, error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return conn.FileInfo{}, nil, fmt.Errorf("bad output")
	}
	fi, _, err := parseStat(b[:i], false)
	if err != nil {
		return fi, nil, err
	}
	rest := b[i+1:]
	switch fi.Type {
	case conn.TypeSymlink:
		fi.LinkTarget = string(rest)
	case conn.TypeFile:
		return fi, rest, nil
	}
	return fi, nil, nil
}

// writeScript installs standard input as a temporary file beside p with its mode and owner,
// syncs it and renames it over p, after copying the file at p to opts.Backup if asked.
func writeScript(p string, opts conn.WriteOptions) string {
	mode := opts.Mode.Perm()
	if opts.Mode == 0 {
		mode = 0o644
	}
	args := []string{"install", "-m", fmt.Sprintf("%04o", uint32(mode))}
	if opts.UID >= 0 {
		args = append(args, "-o", strconv.Itoa(opts.UID))
	}
	if opts.GID >= 0 {
		args = append(args, "-g", strconv.Itoa(opts.GID))
	}
	tmp := path.Join(path.Dir(p), tempName())
	args = append(args, "--", "/dev/stdin", tmp)
	// The temporary file is created under umask 077 (install then sets the mode); the shell's
	// own umask, read once, is restored for the commands that follow.
	backup := ""
	if opts.Backup != "" {
		// The copy goes to a temporary name first, so a backup that exists is always whole.
		b, bt, p := conn.Quote(opts.Backup), conn.Quote(opts.Backup+".tmp"), conn.Quote(p)
		backup = "if [ -f " + p + " ] && [ ! -L " + p + " ] && [ ! -f " + b + " ]; then { [ -d " + conn.Quote(path.Dir(opts.Backup)) +
			" ] || mkdir -p -- " + conn.Quote(path.Dir(opts.Backup)) + "; } && cp -p -- " + p + " " + bt + " && mv -f -- " + bt + " " + b +
			" || { echo " + conn.Quote("backup to "+opts.Backup+" failed") + " >&2; false; }; fi && "
	}
	verify := ""
	if opts.SHA256 != "" {
		verify = " && " + conn.SHA256Check(conn.Digest{File: `"$_t"`, Want: opts.SHA256, What: "the uploaded file"})
	}
	return uninterrupted("[ -n \"${_umask-}\" ] || _umask=$(umask)\numask 077\n_t=" + conn.Quote(tmp) + "\n" +
		backup + conn.Join(args...) + verify + ` && sync -- "$_t" && mv -fT -- "$_t" ` + conn.Quote(p) +
		"\n_r=$?\numask \"$_umask\"\nif [ $_r -ne 0 ]; then rm -f -- \"$_t\"; fi\nreturn $_r")
}

// WriteFile replaces path atomically with data: a temporary file in the same directory, synced,
// given its mode and owner, then renamed over path. The bytes travel as the command's standard
// input on an already open shell, which is faster than an scp session per file.
func (c *Conn) WriteFile(ctx context.Context, p string, data []byte, opts conn.WriteOptions) error {
	if p == "" {
		return fmt.Errorf("%s: write: empty path", c.name)
	}
	if data == nil {
		data = []byte{}
	}
	res, err := c.execToEnd(ctx, writeScript(p, opts), bytesInput(data), opts.Become)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: write %s: exit status %d: %s", c.name, p, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}
