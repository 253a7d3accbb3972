package adopt

import (
	"fmt"
	"sort"
	"strings"

	"github.com/isaplay/isaplay/modules/properties"
)

// propLine is one logical line of a properties file.
type propLine struct {
	comment bool
	key     string // unescaped; "" for blank lines and comments
	text    string // a comment's text, normalised
}

// propLines reads data as java.util.Properties.load does: logical lines joined across
// backslash continuations, # and ! comments, keys ending at =, : or whitespace.
func propLines(data []byte) []propLine {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var out []propLine
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimLeft(lines[i], " \t\f")
		if l == "" {
			continue
		}
		if l[0] == '#' || l[0] == '!' {
			out = append(out, propLine{comment: true, text: normText(l[1:])})
			continue
		}
		for oddBackslashes(l) && i+1 < len(lines) {
			i++
			l = l[:len(l)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		out = append(out, propLine{key: unescapeKey(splitKey(l))})
	}
	return out
}

func oddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKey returns the key of a logical line as written.
func splitKey(s string) string {
	backslash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !backslash && (c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f') {
			return s[:i]
		}
		backslash = c == '\\' && !backslash
	}
	return s
}

// unescapeKey resolves the backslash escapes of a key (\uXXXX is rare in keys and kept).
func unescapeKey(k string) string {
	if !strings.Contains(k, `\`) {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] == '\\' && i+1 < len(k) && k[i+1] != 'u' {
			i++
			switch k[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'f':
				b.WriteByte('\f')
			default:
				b.WriteByte(k[i])
			}
			continue
		}
		b.WriteByte(k[i])
	}
	return b.String()
}

// PropValues returns the keys of a properties file in order of first appearance and the value
// each has (the last line wins, as for Properties.load).
func PropValues(data []byte) ([]string, map[string]string) {
	var keys []string
	vals := map[string]string{}
	for _, l := range propLines(data) {
		if l.comment {
			continue
		}
		if _, ok := vals[l.key]; !ok {
			keys = append(keys, l.key)
		}
		v, _ := properties.Get(data, l.key)
		vals[l.key] = v
	}
	return keys, vals
}

// propSecrets returns the values of secret-named keys.
func propSecrets(data []byte) []string {
	keys, vals := PropValues(data)
	var out []string
	for _, k := range keys {
		if SecretName(k) && secretValue(vals[k]) {
			out = append(out, vals[k])
		}
	}
	return out
}

// propsTask adds the properties_set task turning pristine into configured.
func propsTask(res *Result, vs *varSet, pristine, configured []byte, opts Options) {
	vs.learn(propSecrets(configured))
	pk, pv := PropValues(pristine)
	ck, cv := PropValues(configured)
	set := Arg{Name: "set", IsMap: true}
	for _, k := range ck {
		if old, ok := pv[k]; ok && old == cv[k] {
			continue
		}
		v := cv[k]
		var e Expr
		switch {
		case SecretName(k) && secretValue(v):
			e = Ref(vs.add(opts.Label+"_"+k, v, fmt.Sprintf("%s in %s", k, opts.Name), true))
		case vs.leaks(v):
			e = Ref(vs.add(opts.Label+"_"+k, v, fmt.Sprintf("%s in %s: contains a secret's value, so it is not written in the playbook", k, opts.Name), false))
		default:
			e = Lit(v)
		}
		set.Map = append(set.Map, KV{Key: k, Value: e})
	}
	remove := Arg{Name: "remove", IsList: true}
	for _, k := range pk {
		if _, ok := cv[k]; !ok {
			remove.List = append(remove.List, k)
		}
	}
	var notes []string
	var pc []string
	for _, c := range propComments(pristine) {
		if _, uncommented := cv[unescapeKey(splitKey(c))]; !uncommented {
			pc = append(pc, c) // a commented default that set uncomments is no comment difference
		}
	}
	if n := commentDiff(pc, propComments(configured)); n != "" {
		notes = append(notes, n)
	}
	if eolOf(pristine) != eolOf(configured) {
		notes = append(notes, fmt.Sprintf("line endings differ (%s in the pristine file, %s in the configured one): not patched", eolOf(pristine), eolOf(configured)))
	}
	for _, n := range notes {
		res.Notes = append(res.Notes, opts.Name+": "+n)
	}
	if len(set.Map) == 0 && len(remove.List) == 0 {
		for _, n := range notes {
			res.loose = append(res.loose, opts.Name+": "+n)
		}
		return
	}
	sort.Slice(set.Map, func(i, j int) bool { return set.Map[i].Key < set.Map[j].Key })
	t := &Task{Type: "properties_set", Name: opts.Name, Comments: notes}
	t.Args = append(t.Args, Arg{Name: "path", Expr: opts.Path})
	if len(set.Map) > 0 {
		t.Args = append(t.Args, set)
	}
	if len(remove.List) > 0 {
		t.Args = append(t.Args, remove)
	}
	res.Tasks = append(res.Tasks, t)
}

func propComments(data []byte) []string {
	var out []string
	for _, l := range propLines(data) {
		if l.comment && l.text != "" {
			out = append(out, l.text)
		}
	}
	return out
}

func eolOf(data []byte) string {
	crlf := strings.Count(string(data), "\r\n")
	if crlf > 0 && crlf*2 >= strings.Count(string(data), "\n") {
		return "CRLF"
	}
	return "LF"
}
