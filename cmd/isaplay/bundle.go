package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/isaplay/isaplay/engine"
	"github.com/spf13/cobra"
)

// bundleManifest is manifest.json in an offline bundle: every file with its sha256. Files are
// stored under files/ at their absolute path on the machine that made the bundle.
type bundleManifest struct {
	Format         string        `json:"format"`
	IsaplayVersion string        `json:"isaplay_version"`
	Playbook       string        `json:"playbook"`
	VarFiles       []string      `json:"var_files,omitempty"`
	Files          []bundleEntry `json:"files"`
}

type bundleEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

const bundleFormat = "isaplay-bundle-1"

func bundleCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "bundle PLAYBOOK -o site.tar.gz",
		Short: "Pack a playbook and every controller file it uses into one archive for air-gapped sites",
		Long: "bundle packs the playbook, its components, every controller file its tasks read (product zips,\n" +
			"JDBC and SVNKit jars, templates, var files) and a sha256 manifest. It evaluates every task for\n" +
			"every host of the inventory (-i) to find them, without connecting. At the site, run\n" +
			"`isaplay apply site.tar.gz -i hosts.hcl`: the manifest is verified before anything runs.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("bundle needs -o FILE")
			}
			return g.bundle(cmd.Context(), args[0], out)
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "the archive to write (.tar.gz)")
	return cmd
}

func (g *globals) bundle(ctx context.Context, playbook, out string) error {
	var mu sync.Mutex
	files := map[string]bool{}
	record := func(p string) {
		mu.Lock()
		files[p] = true
		mu.Unlock()
	}
	g.files = &engine.ControllerFiles{Record: record}
	l, err := g.load(context.Background(), playbook, true, nil)
	if err != nil {
		return err
	}
	cfg := g.config(l, "bundle", nil)
	if err := g.printDiags(engine.Validate(ctx, cfg)); err != nil {
		return err
	}
	// Every HCL file parsed (playbook, components, var files) but the inventory: the site brings
	// its own.
	invAbs, _ := filepath.Abs(g.inventory)
	for name := range g.parser.Files() {
		if abs, err := filepath.Abs(name); err == nil && abs != invAbs {
			files[abs] = true
		}
	}
	var varFiles []string
	for _, vf := range g.varFiles {
		abs, err := filepath.Abs(vf)
		if err != nil {
			return err
		}
		files[abs] = true
		varFiles = append(varFiles, abs)
	}
	pbAbs, _ := filepath.Abs(playbook)
	m := bundleManifest{Format: bundleFormat, IsaplayVersion: Version, Playbook: pbAbs, VarFiles: varFiles}
	var paths []string
	for p := range files {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("bundle: %s is used by the playbook but cannot be read: %w", p, err)
		}
		if st.Mode().IsRegular() {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, p := range paths {
		e, err := addFile(tw, p)
		if err != nil {
			f.Close()
			return fmt.Errorf("bundle: %s: %w", p, err)
		}
		m.Files = append(m.Files, e)
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(mb)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	tw.Write(mb)
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return err
	}
	var size int64
	for _, e := range m.Files {
		size += e.Size
	}
	fmt.Fprintf(g.stdout, "Wrote %s: %d files, %d bytes before compression.\n", out, len(m.Files), size)
	for _, e := range m.Files {
		fmt.Fprintf(g.stdout, "  %s  %s\n", e.SHA256, e.Path)
	}
	return nil
}

func addFile(tw *tar.Writer, p string) (bundleEntry, error) {
	f, err := os.Open(p)
	if err != nil {
		return bundleEntry{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return bundleEntry{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "files" + p, Mode: int64(st.Mode().Perm()), Size: st.Size(), Typeflag: tar.TypeReg, ModTime: st.ModTime()}); err != nil {
		return bundleEntry{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), f)
	if err != nil {
		return bundleEntry{}, err
	}
	return bundleEntry{Path: p, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// isBundle reports whether path is a gzip-compressed tar (an offline bundle).
func isBundle(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 2)
	if _, err := io.ReadFull(f, magic); err != nil {
		return false
	}
	return magic[0] == 0x1f && magic[1] == 0x8b
}

// openBundle unpacks a bundle into a temporary directory, verifies every file against the
// manifest, and points the controller file lookups into it. It returns the unpacked playbook
// and a cleanup function.
func (g *globals) openBundle(path string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "isaplay-bundle-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	fail := func(err error) (string, func(), error) {
		cleanup()
		return "", nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fail(err)
	}
	tr := tar.NewReader(gz)
	sums := map[string]string{}
	var m bundleManifest
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return fail(fmt.Errorf("unexpected entry %s (only files are allowed)", hdr.Name))
		}
		if hdr.Name == "manifest.json" {
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				return fail(fmt.Errorf("manifest: %w", err))
			}
			continue
		}
		name := filepath.Clean("/" + strings.TrimPrefix(hdr.Name, "files"))
		if !strings.HasPrefix(hdr.Name, "files/") || strings.Contains(hdr.Name, "..") {
			return fail(fmt.Errorf("unexpected entry %s", hdr.Name))
		}
		target := filepath.Join(dir, "files", name)
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return fail(err)
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(hdr.Mode).Perm()|0o400)
		if err != nil {
			return fail(err)
		}
		h := sha256.New()
		_, err = io.Copy(io.MultiWriter(out, h), tr)
		out.Close()
		if err != nil {
			return fail(err)
		}
		sums[name] = hex.EncodeToString(h.Sum(nil))
	}
	if m.Format != bundleFormat {
		return fail(errors.New("no isaplay manifest"))
	}
	for _, e := range m.Files {
		got, ok := sums[e.Path]
		if !ok {
			return fail(fmt.Errorf("%s is in the manifest but not in the archive", e.Path))
		}
		if got != e.SHA256 {
			return fail(fmt.Errorf("%s: sha256 %s, manifest says %s: the bundle is damaged or was altered", e.Path, got, e.SHA256))
		}
		delete(sums, e.Path)
	}
	for extra := range sums {
		return fail(fmt.Errorf("%s is in the archive but not in the manifest", extra))
	}
	root := filepath.Join(dir, "files")
	g.files = &engine.ControllerFiles{Remap: func(p string) string {
		if strings.HasPrefix(p, root+"/") {
			return p
		}
		return filepath.Join(root, p)
	}}
	if len(g.varFiles) == 0 {
		for _, vf := range m.VarFiles {
			g.varFiles = append(g.varFiles, filepath.Join(root, vf))
		}
	}
	fmt.Fprintf(g.stderr, "Verified bundle %s: %d files match the manifest.\n", path, len(m.Files))
	return filepath.Join(root, m.Playbook), cleanup, nil
}

// playbookArg turns a PLAYBOOK argument that is an offline bundle into its unpacked, verified
// playbook; other arguments are returned as they are.
func (g *globals) playbookArg(path string) (string, func(), error) {
	if !isBundle(path) {
		return path, func() {}, nil
	}
	return g.openBundle(path)
}
