package unarchive

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// entry is one member of an archive, with a cleaned relative name.
type entry struct {
	name  string // relative, cleaned, without trailing slash
	typ   byte   // tar.TypeReg, TypeDir, TypeSymlink or TypeLink
	mode  int64  // permission bits
	size  int64
	mtime time.Time
	link  string // symlink or hard link target
}

// walk calls fn for every member of the archive at src in order; for regular files r reads the
// content. Names that would land outside the destination (absolute, "..", links pointing out)
// are errors.
func walk(src string, fn func(e entry, r io.Reader) error) error {
	lower := strings.ToLower(src)
	switch {
	case strings.HasSuffix(lower, ".zip") || strings.HasSuffix(lower, ".jar") || strings.HasSuffix(lower, ".war"):
		return walkZip(src, fn)
	case strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz"):
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		return walkTar(src, gz, fn)
	case strings.HasSuffix(lower, ".tar"):
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		return walkTar(src, f, fn)
	}
	return fmt.Errorf("%s: not a .zip, .tar.gz, .tgz or .tar archive", src)
}

func walkZip(src string, fn func(e entry, r io.Reader) error) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		m := f.Mode()
		e := entry{mode: int64(m.Perm()), mtime: f.Modified}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", src, f.Name, err)
		}
		switch {
		case m.IsDir() || strings.HasSuffix(f.Name, "/"):
			e.typ = tar.TypeDir
		case m&fs.ModeSymlink != 0:
			target, err := io.ReadAll(io.LimitReader(rc, 4096))
			if err != nil {
				rc.Close()
				return fmt.Errorf("%s: %s: %w", src, f.Name, err)
			}
			e.typ, e.link = tar.TypeSymlink, string(target)
		case m.IsRegular():
			e.typ, e.size = tar.TypeReg, int64(f.UncompressedSize64)
		default:
			rc.Close()
			return fmt.Errorf("%s: %s: unsupported member type %v", src, f.Name, m.Type())
		}
		err = visit(src, f.Name, e, rc, fn)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func walkTar(src string, r io.Reader, fn func(e entry, r io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		e := entry{mode: hdr.Mode & 0o7777, mtime: hdr.ModTime, size: hdr.Size, link: hdr.Linkname}
		switch hdr.Typeflag {
		case tar.TypeReg: // the reader turns old-style TypeRegA into TypeReg
			e.typ = tar.TypeReg
		case tar.TypeDir:
			e.typ, e.size = tar.TypeDir, 0
		case tar.TypeSymlink, tar.TypeLink:
			e.typ, e.size = hdr.Typeflag, 0
		case tar.TypeXGlobalHeader:
			continue
		default:
			return fmt.Errorf("%s: %s: unsupported member type %q", src, hdr.Name, hdr.Typeflag)
		}
		if err := visit(src, hdr.Name, e, tr, fn); err != nil {
			return err
		}
	}
}

// visit cleans and checks a member's name and link, then calls fn (skipping the root ".").
func visit(src, raw string, e entry, r io.Reader, fn func(e entry, r io.Reader) error) error {
	name, err := cleanName(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if name == "." {
		return nil
	}
	e.name = name
	switch e.typ {
	case tar.TypeSymlink:
		if path.IsAbs(e.link) || escapes(path.Join(path.Dir(name), e.link)) {
			return fmt.Errorf("%s: %s: symbolic link to %q points outside the archive", src, raw, e.link)
		}
	case tar.TypeLink:
		target, err := cleanName(e.link)
		if err != nil || target == "." {
			return fmt.Errorf("%s: %s: hard link to %q points outside the archive", src, raw, e.link)
		}
		e.link = target
	}
	return fn(e, r)
}

func cleanName(raw string) (string, error) {
	if raw == "" || path.IsAbs(raw) {
		return "", fmt.Errorf("member %q: absolute or empty name", raw)
	}
	name := path.Clean(raw)
	if escapes(name) {
		return "", fmt.Errorf("member %q: name leaves the destination", raw)
	}
	return name, nil
}

func escapes(p string) bool {
	p = path.Clean(p)
	return p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p)
}

// writeTar re-encodes the archive at src as a plain tar stream on w, with checked names and
// without owners, for `tar -x` on the host.
func writeTar(src string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := walk(src, func(e entry, r io.Reader) error {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, ModTime: e.mtime, Linkname: e.link}
		switch e.typ {
		case tar.TypeDir:
			hdr.Name += "/"
		case tar.TypeReg:
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		if e.typ == tar.TypeReg {
			n, err := io.Copy(tw, r)
			if err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
			if n != e.size {
				return fmt.Errorf("%s: read %d bytes, header says %d", e.name, n, e.size)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
