// Package adopt turns hand-configured or templated product files into surgical edits: it
// compares a pristine product file with a configured one and writes the smallest xml_patch or
// properties_set task that turns the first into the second, with secrets moved into sensitive
// variables. Tree compares two product homes and adds file and jar_copy tasks for the files
// only the configured tree has.
package adopt

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// Part is one piece of a generated string: literal text, a reference to a variable, or a raw
// HCL expression (a file() call).
type Part struct {
	Lit string
	Var string
	Raw string
}

// Expr is a generated string expression: literal text and variable references, in order. A
// single variable renders as var.NAME, anything else as a quoted string or heredoc template.
type Expr []Part

// Lit returns a literal expression.
func Lit(s string) Expr { return Expr{{Lit: s}} }

// Ref returns a reference to variable name.
func Ref(name string) Expr { return Expr{{Var: name}} }

// IsLiteral reports whether e has no variable references.
func (e Expr) IsLiteral() bool {
	for _, p := range e {
		if p.Var != "" || p.Raw != "" {
			return false
		}
	}
	return true
}

// Template returns e as an HCL template string without quotes: ${var.NAME} for references,
// literal text with its template sequences escaped ($${).
func (e Expr) Template() string { return e.join(templateEscape) }

// join writes e as HCL template text, the literal parts through esc: a quoted string and a
// heredoc escape literals differently but interpolate references the same way.
func (e Expr) join(esc func(string) string) string {
	var b strings.Builder
	for _, p := range e {
		switch {
		case p.Var != "":
			b.WriteString("${var." + p.Var + "}")
		case p.Raw != "":
			b.WriteString("${" + p.Raw + "}")
		default:
			b.WriteString(esc(p.Lit))
		}
	}
	return b.String()
}

// Eval returns e's value with the variables taken from vars.
func (e Expr) Eval(vars map[string]string) string {
	var b strings.Builder
	for _, p := range e {
		if p.Var != "" {
			b.WriteString(vars[p.Var])
		} else {
			b.WriteString(p.Lit)
		}
	}
	return b.String()
}

// KV is one entry of a generated map.
type KV struct {
	Key   string
	Value Expr
}

// Arg is one argument of a task or block: a string expression, a map or a list of strings.
type Arg struct {
	Name string
	Expr Expr
	Map  []KV
	List []string
	// IsMap and IsList say which of the above it is (an empty map or list is still one).
	IsMap, IsList bool
	// Exact marks text whose every byte counts (a file's content): it is never re-indented.
	Exact bool
}

// Block is a nested block of a task (an xml_patch operation).
type Block struct {
	Type string
	Args []Arg
}

// Task is one generated task.
type Task struct {
	Type, Name string
	Args       []Arg
	Blocks     []Block
	// Comments are written above the task (notes such as comment-only differences).
	Comments []string
}

// Variable is a generated variable: a secret taken out of a file, or the product home.
type Variable struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Sensitive   bool   `json:"sensitive"`
}

// Result is what adoption produced.
type Result struct {
	Tasks     []*Task
	Variables []Variable
	// Notes are differences reported but not patched (comments only, line endings).
	Notes []string
	// loose are the notes of files that got no task (the others are the tasks' comments).
	loose []string
	// Values are the configured values of the generated variables, for tests and for writing a
	// var file; HCL and JSON never write them.
	Values map[string]string
}

// Options say where the task's file lives on the host and how it is named.
type Options struct {
	// Home, when set, makes the task's path ${var.HOME}/NAME (NAME relative to the product
	// home) and declares that variable. Path, when set, is the path on the host as an
	// expression. By default the path is the name as given.
	Home string
	Path Expr
	// Name is the task name; by default the path.
	Name string
	// Label is used to derive variable names (usually the file's base name).
	Label string
}

// File compares the pristine and configured bytes of one file and returns the task that turns
// the first into the second (no task when they are equal after canonicalisation). name is the
// file name, which tells XML from properties files.
func File(name string, pristine, configured []byte, opts Options) (*Result, error) {
	res := &Result{Values: map[string]string{}}
	vs := newVarSet(res)
	if opts.Home != "" {
		home := vs.add(opts.Home, "", "The product home on the host (the folder holding bin/ and repository/).", false)
		opts.Path = Expr{{Var: home}, {Lit: "/" + strings.TrimPrefix(name, "/")}}
	}
	if err := fileInto(res, vs, name, pristine, configured, opts); err != nil {
		return nil, err
	}
	return res, nil
}

// fileInto adds the task for one file to res.
func fileInto(res *Result, vs *varSet, name string, pristine, configured []byte, opts Options) error {
	if opts.Label == "" {
		opts.Label = strings.TrimSuffix(path.Base(name), path.Ext(name))
	}
	if opts.Name == "" {
		opts.Name = name
	}
	if len(opts.Path) == 0 {
		opts.Path = Lit(name)
	}
	switch Kind(name, configured) {
	case KindXML:
		return xmlTask(res, vs, pristine, configured, opts)
	case KindProperties:
		propsTask(res, vs, pristine, configured, opts)
		return nil
	}
	return fmt.Errorf("%s: neither XML nor a key=value file; adopt it as a whole file (--tree writes a file task)", name)
}

// FileKind says how adopt reads a file.
type FileKind int

// The kinds of file adopt knows.
const (
	KindOther FileKind = iota
	KindXML
	KindProperties
	KindBinary
)

// Kind tells how to read a file from its name and content: binary (archives, key stores, NUL
// bytes or invalid UTF-8), XML (*.xml, or text starting with '<'), properties (*.properties,
// *.conf, *.cfg, *.env, or text whose every line is a comment or key and value), else other text.
func Kind(name string, data []byte) FileKind {
	switch strings.ToLower(path.Ext(name)) {
	case ".jar", ".zip", ".war", ".car", ".gz", ".tgz", ".so", ".class", ".jks", ".p12", ".keystore":
		return KindBinary
	}
	if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
		if _, err := xmldoc.Parse(data); err == nil {
			return KindXML // UTF-16 XML
		}
		return KindBinary
	}
	ext := strings.ToLower(path.Ext(name))
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case ext == ".xml" || bytes.HasPrefix(trimmed, []byte("<")):
		return KindXML
	case ext == ".properties" || ext == ".conf" || ext == ".cfg" || ext == ".env":
		return KindProperties
	case ext == ".sh" || ext == ".json" || ext == ".bat" || ext == ".js":
		return KindOther
	}
	if keyValueLines(data) {
		return KindProperties
	}
	return KindOther
}

// keyValueLines reports whether every line is blank, a # or ! comment, or KEY=value.
func keyValueLines(data []byte) bool {
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		i := strings.IndexAny(l, "=:")
		if i <= 0 || strings.ContainsAny(l[:i], " \t\"'$();") {
			return false
		}
		n++
	}
	return n > 0
}

// varSet hands out variable names, unique within a result, and knows the secret values of the
// configured files so that no other value gives them away.
type varSet struct {
	res   *Result
	used  map[string]bool
	known []string // secret values (at least minSecret long), longest first
}

func newVarSet(res *Result) *varSet {
	vs := &varSet{res: res, used: map[string]bool{}}
	for _, v := range res.Variables {
		vs.used[v.Name] = true
	}
	return vs
}

// add declares a new variable named after base holding value, and returns its name.
func (vs *varSet) add(base, value, desc string, sensitive bool) string {
	name := ident(base)
	for i := 2; vs.used[name]; i++ {
		name = fmt.Sprintf("%s_%d", ident(base), i)
	}
	vs.used[name] = true
	vs.res.Variables = append(vs.res.Variables, Variable{Name: name, Description: desc, Sensitive: sensitive})
	vs.res.Values[name] = value
	return name
}

// learn records secret values found in a configured file.
func (vs *varSet) learn(values []string) {
	for _, v := range values {
		if len(v) < minSecret || !secretValue(v) {
			continue
		}
		dup := false
		for _, k := range vs.known {
			dup = dup || k == v
		}
		if !dup {
			vs.known = append(vs.known, v)
		}
	}
	sort.SliceStable(vs.known, func(i, j int) bool { return len(vs.known[i]) > len(vs.known[j]) })
}

// leaks reports whether value contains a known secret value.
func (vs *varSet) leaks(value string) bool {
	for _, k := range vs.known {
		if strings.Contains(value, k) {
			return true
		}
	}
	return false
}

// secretValue reports whether a value under a secret name can be a secret: not empty and not a
// boolean (StoreSaltedPassword=true).
func secretValue(v string) bool {
	v = strings.TrimSpace(v)
	return v != "" && !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false")
}

// minSecret is the shortest secret value looked for in other values: shorter ones would match
// ordinary words.
const minSecret = 4

// ident makes a variable name: lower case letters, digits and underscores, words split at case
// changes and punctuation, starting with a letter.
func ident(s string) string {
	var b strings.Builder
	prevLower := false
	under := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
	}
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			if prevLower {
				under()
			}
			b.WriteRune(r + 'a' - 'A')
			prevLower = false
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			prevLower = true
		default:
			under()
			prevLower = false
		}
	}
	out := strings.Trim(b.String(), "_")
	if out == "" || out[0] >= '0' && out[0] <= '9' {
		out = "v_" + out
	}
	return out
}

// SecretName reports whether an element, attribute or key name says its value is a secret:
// what xml_patch masks (password, secret, token, ...), plus credential and names ending in a
// kind of key (apiKey, private.key, secretKey). A bare "key" or ServerKey is not a secret, nor
// a setting about secrets (PasswordJavaRegEx, PasswordDigest, PasswordHashMethod).
//
// secretValue then skips values that cannot be secrets (empty, true, false).
func SecretName(name string) bool {
	l := strings.ToLower(name)
	for _, w := range []string{"regex", "digest", "method", "msg", "pattern", "length", "managed", "class", "classname", "url", "endpoint", "timeout", "enabled", "enable", "type", "store"} {
		if strings.HasSuffix(l, w) {
			return false // PasswordJavaRegEx, PasswordDigest: settings about secrets
		}
	}
	if xmldoc.SecretName(name) {
		return true
	}
	if strings.Contains(l, "credential") {
		return true
	}
	var norm strings.Builder
	for _, r := range l {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			norm.WriteRune(r)
		}
	}
	n := norm.String()
	for _, w := range []string{"api", "private", "access", "secret", "encryption", "signing", "license", "master", "shared", "client", "auth", "session", "hmac", "aes", "consumer"} {
		if strings.HasSuffix(n, w+"key") {
			return true
		}
	}
	return false
}
