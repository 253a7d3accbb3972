package adopt

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// Map renames a directory prefix of the configured tree to where it lives in the product
// (conf=repository/conf for the Kubernetes copies).
type Map struct {
	From, To string
}

// ParseMap parses FROM=TO.
func ParseMap(s string) (Map, error) {
	from, to, ok := strings.Cut(s, "=")
	from, to = strings.Trim(from, "/"), strings.Trim(to, "/")
	if !ok || from == "" || to == "" {
		return Map{}, fmt.Errorf("--map %q: want FROM=TO, such as conf=repository/conf", s)
	}
	return Map{From: path.Clean(from), To: path.Clean(to)}, nil
}

// apply returns rel with the longest matching prefix mapped.
func mapPath(maps []Map, rel string) string {
	best := -1
	for i, m := range maps {
		if (rel == m.From || strings.HasPrefix(rel, m.From+"/")) && (best < 0 || len(m.From) > len(maps[best].From)) {
			best = i
		}
	}
	if best < 0 {
		return rel
	}
	return maps[best].To + strings.TrimPrefix(rel, maps[best].From)
}

// textAssign matches NAME = value, NAME: value and "NAME": "value" in any text (JSON, shell).
var textAssign = regexp.MustCompile(`["']?([A-Za-z0-9_.\-]+)["']?[ \t]*[:=][ \t]*["']?([^"'\s,;}]+)`)

// textSecrets returns the values assigned to secret names in a text file of no known format
// (a JSON dashboard setting, a shell script), so that inline content never carries them.
func textSecrets(data []byte) []string {
	var out []string
	for _, m := range textAssign.FindAllStringSubmatch(string(data), -1) {
		if SecretName(m[1]) {
			out = append(out, m[2])
		}
	}
	return out
}

// HomeVar is the variable the tree's task paths start with.
const HomeVar = "home"

// inlineMax is the largest text file written inline in a file task; larger ones are read with
// file() from the configured tree.
const inlineMax = 4096

// Tree compares a pristine product home with a configured one: one task per changed file
// (paths under var.home), file tasks for text files only the configured tree has and
// jar_copy tasks for binary ones (their src is the file in the configured tree). New files get
// the modules' default mode (0644), or 0755 when the configured copy is executable. Files only
// the pristine tree has are left alone: a configured copy is usually a subset.
func Tree(pristineHome, configuredHome string, maps []Map) (*Result, error) {
	res := &Result{Values: map[string]string{}}
	vs := newVarSet(res)
	vs.add(HomeVar, "", "The product home on the host (the folder holding bin/ and repository/).", false)
	type file struct {
		rel, product string
		data         []byte
		mode         fs.FileMode
	}
	var files []file
	err := filepath.WalkDir(configuredHome, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(configuredHome, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files = append(files, file{rel: rel, product: mapPath(maps, rel), data: data, mode: info.Mode().Perm()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].product < files[j].product })
	// Learn every secret first, so that no file gives away another file's secret.
	for _, f := range files {
		switch Kind(f.product, f.data) {
		case KindXML:
			if d, err := xmldoc.Parse(f.data); err == nil {
				vs.learn(XMLSecrets(d))
			}
		case KindProperties:
			vs.learn(propSecrets(f.data))
		case KindOther:
			vs.learn(textSecrets(f.data))
		}
	}
	for _, f := range files {
		dest := Expr{{Var: HomeVar}, {Lit: "/" + f.product}}
		label := strings.TrimSuffix(path.Base(f.product), path.Ext(f.product))
		src := filepath.Join(configuredHome, filepath.FromSlash(f.rel))
		pristine, err := os.ReadFile(filepath.Join(pristineHome, filepath.FromSlash(f.product)))
		switch {
		case err == nil:
			if string(pristine) == string(f.data) {
				continue
			}
			kind := Kind(f.product, f.data)
			if kind == KindXML || kind == KindProperties {
				err := fileInto(res, vs, f.product, pristine, f.data, Options{Path: dest, Name: f.product, Label: label})
				if err == nil {
					continue
				}
				res.Notes = append(res.Notes, fmt.Sprintf("%v: written whole", err))
			}
		case !os.IsNotExist(err):
			return nil, err
		}
		if Kind(f.product, f.data) == KindBinary {
			t := &Task{Type: "jar_copy", Name: f.product, Args: []Arg{{Name: "src", Expr: Lit(src)}, {Name: "dest", Expr: dest}}}
			if f.mode&0o111 != 0 {
				t.Args = append(t.Args, Arg{Name: "mode", Expr: Lit("0755")})
			}
			res.Tasks = append(res.Tasks, t)
			continue
		}
		content := Lit(string(f.data))
		if len(f.data) > inlineMax || !utf8.Valid(f.data) || vs.leaks(string(f.data)) || strings.Contains(string(f.data), "\r") {
			content = Expr{{Raw: "file(" + quote(src) + ")"}}
		}
		t := &Task{Type: "file", Name: f.product, Args: []Arg{{Name: "path", Expr: dest}, {Name: "content", Expr: content, Exact: true}}}
		if f.mode&0o111 != 0 {
			t.Args = append(t.Args, Arg{Name: "mode", Expr: Lit("0755")})
		}
		res.Tasks = append(res.Tasks, t)
	}
	return res, nil
}
