package properties

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Format says how a file separates keys from values, for keys it appends.
type Format string

// The formats properties_set knows.
const (
	// FormatAuto copies the file's most used separator ("=" for an empty *.properties file, a
	// space for an empty *.conf file).
	FormatAuto Format = "auto"
	// FormatProperties uses the file's most used "=" or ":" separator, else "=".
	FormatProperties Format = "properties"
	// FormatSpark uses the file's most used whitespace separator, else one space
	// (spark-defaults.conf).
	FormatSpark Format = "spark"
)

type kind int

const (
	kindBlank kind = iota
	kindComment
	kindEntry
)

// entry is one logical line of a properties file: a blank line, a comment, or a key and value
// spread over one or more physical lines (continued with a trailing backslash).
type entry struct {
	kind       kind
	start, end int    // byte range in the file, EOL of the last physical line included
	eol        string // "\n", "\r\n" or "" (end of file)
	indent     string // whitespace before the key
	keyRaw     string // the key as written (continuations joined)
	key        string // the key unescaped
	sep        string // separator as written between key and value
	valueRaw   string // the value as written (continuations joined)
	dangling   bool   // the last physical line ends in a continuation backslash
}

// parse splits data into logical lines the way java.util.Properties.load reads them. It never
// fails: every byte belongs to exactly one entry, in order.
func parse(data []byte) []entry {
	var out []entry
	pos := 0
	for pos < len(data) {
		content, eol, next := physical(data, pos)
		e := entry{start: pos}
		trimmed := strings.TrimLeft(content, " \t\f")
		switch {
		case trimmed == "":
			e.kind, e.eol, e.end = kindBlank, eol, next
		case trimmed[0] == '#' || trimmed[0] == '!':
			e.kind, e.eol, e.end = kindComment, eol, next
		default:
			e.kind = kindEntry
			e.indent = content[:len(content)-len(trimmed)]
			logical := trimmed
			for oddBackslashes(logical) {
				logical = logical[:len(logical)-1]
				if next >= len(data) {
					e.dangling = true
					break
				}
				c2, eol2, n2 := physical(data, next)
				logical += strings.TrimLeft(c2, " \t\f")
				eol, next = eol2, n2
			}
			e.eol, e.end = eol, next
			e.keyRaw, e.sep, e.valueRaw = splitKey(logical)
			e.key = unescape(decode(e.keyRaw))
		}
		out = append(out, e)
		pos = next
	}
	return out
}

// physical returns the physical line starting at pos without its line ending, the ending
// ("\n", "\r\n", a lone "\r" as Properties.load also ends lines with, or "" at the end of the
// file), and where the next line starts.
func physical(data []byte, pos int) (string, string, int) {
	i := pos
	for i < len(data) && data[i] != '\n' && data[i] != '\r' {
		i++
	}
	switch {
	case i == len(data):
		return string(data[pos:]), "", i
	case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
		return string(data[pos:i]), "\r\n", i + 2
	}
	return string(data[pos:i]), string(data[i]), i + 1
}

func oddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKey splits a logical line (leading whitespace removed) into key, separator and value,
// as Properties.load0 does.
func splitKey(s string) (key, sep, value string) {
	keyLen, valStart := 0, len(s)
	hasSep, backslash := false, false
	for keyLen < len(s) {
		c := s[keyLen]
		if (c == '=' || c == ':') && !backslash {
			valStart, hasSep = keyLen+1, true
			break
		}
		if (c == ' ' || c == '\t' || c == '\f') && !backslash {
			valStart = keyLen + 1
			break
		}
		backslash = c == '\\' && !backslash
		keyLen++
	}
	for valStart < len(s) {
		c := s[valStart]
		if c != ' ' && c != '\t' && c != '\f' {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valStart++
	}
	if valStart > len(s) {
		valStart = len(s)
	}
	return s[:keyLen], s[keyLen:valStart], s[valStart:]
}

// decode turns the bytes of a key or value into text: UTF-8 when valid, else ISO-8859-1 (the
// encoding Properties.load(InputStream) assumes).
func decode(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		sb.WriteRune(rune(s[i]))
	}
	return sb.String()
}

// unescape resolves the escapes Properties.load understands: \uXXXX, \t \n \r \f, and \x for any
// other x. A malformed \u escape is kept as written.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var u16 []uint16
	var sb strings.Builder
	flush := func() {
		if len(u16) > 0 {
			sb.WriteString(string(utf16.Decode(u16)))
			u16 = u16[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			if c == '\\' {
				continue // a lone trailing backslash is dropped
			}
			flush()
			r, n := utf8.DecodeRuneInString(s[i:])
			sb.WriteRune(r)
			i += n - 1
			continue
		}
		i++
		c = s[i]
		if c == 'u' && i+4 < len(s) {
			var v uint16
			ok := true
			for _, h := range s[i+1 : i+5] {
				switch {
				case h >= '0' && h <= '9':
					v = v<<4 | uint16(h-'0')
				case h >= 'a' && h <= 'f':
					v = v<<4 | uint16(h-'a'+10)
				case h >= 'A' && h <= 'F':
					v = v<<4 | uint16(h-'A'+10)
				default:
					ok = false
				}
			}
			if ok {
				u16 = append(u16, v)
				i += 4
				continue
			}
		}
		flush()
		switch c {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			sb.WriteRune(r)
			i += n - 1
		}
	}
	flush()
	return sb.String()
}

// escape writes s for a properties file in ASCII: backslash escapes for \ and control
// characters, \uXXXX for anything outside printable ASCII. For a key, spaces and = : # ! are
// escaped too; for a value, only a leading space, = or : (which load would otherwise eat).
func escape(s string, isKey bool) string {
	var sb strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\f':
			sb.WriteString(`\f`)
		case r == ' ' && (isKey || i == 0):
			sb.WriteString(`\ `)
		case (r == '=' || r == ':') && (isKey || i == 0):
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case (r == '#' || r == '!') && isKey:
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&sb, `\u%04X`, u)
			}
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// commented parses a comment line as a commented-out default ("# key value", "#key=value"),
// returning its indent, key as written, separator and value, and whether it looks like one:
// prose such as "# carbon.spark.master config has 3 states" does not (its value would have
// spaces after a whitespace separator).
func commented(content string) (indent, keyRaw, key, sep, value string, ok bool) {
	trimmed := strings.TrimLeft(content, " \t\f")
	indent = content[:len(content)-len(trimmed)]
	rest := strings.TrimLeft(trimmed, "#!")
	rest = strings.TrimLeft(rest, " \t\f")
	if rest == "" || oddBackslashes(rest) || rest[0] == '#' || rest[0] == '!' {
		return "", "", "", "", "", false
	}
	keyRaw, sep, value = splitKey(rest)
	if keyRaw == "" {
		return "", "", "", "", "", false
	}
	explicit := strings.ContainsAny(sep, "=:")
	if !explicit && (value == "" || strings.ContainsAny(strings.TrimRight(value, " \t\f"), " \t\f")) {
		return "", "", "", "", "", false
	}
	return indent, keyRaw, unescape(decode(keyRaw)), sep, value, true
}

// Result is what an edit did, for the plan summary.
type Result struct {
	Set         []string // keys whose value changed in place
	Uncommented []string // keys set by uncommenting a commented default
	Added       []string // keys appended
	Removed     []string // keys removed
}

// Changed reports whether the edit changed anything.
func (r Result) Changed() bool {
	return len(r.Set)+len(r.Uncommented)+len(r.Added)+len(r.Removed) > 0
}

// Summary is a one-line description such as "set 1, uncomment 1, add 1 key".
func (r Result) Summary() string {
	var parts []string
	add := func(verb string, keys []string) {
		if len(keys) > 0 {
			parts = append(parts, verb+" "+strings.Join(keys, ", "))
		}
	}
	add("set", r.Set)
	add("uncomment", r.Uncommented)
	add("add", r.Added)
	add("remove", r.Removed)
	return strings.Join(parts, "; ")
}

// Edit sets and removes keys in a properties file and returns the new bytes. Lines it does not
// change stay byte-identical. Setting a key rewrites every active line of it whose value
// differs, keeping the line's separator; a key with no active line takes over its first
// commented default, else it is appended with the file's dominant separator and line ending.
// name is the file name, used by FormatAuto for an empty file.
func Edit(data []byte, name string, set map[string]string, remove []string, format Format) ([]byte, Result) {
	entries := parse(data)
	var res Result
	replace := map[int]string{} // entry index -> new bytes
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	removing := map[string]bool{}
	for _, k := range remove {
		removing[k] = true
	}
	sep := dominantSep(entries, name, format)
	eol := dominantEOL(data)
	var appended []string
	for _, k := range keys {
		want := set[k]
		found, changed := false, false
		for i, e := range entries {
			if e.kind != kindEntry || e.key != k {
				continue
			}
			found = true
			if unescape(decode(e.valueRaw)) == want {
				continue
			}
			s := e.sep
			if s == "" {
				s = sep
			}
			replace[i] = e.indent + e.keyRaw + s + escape(want, false) + e.eol
			changed = true
		}
		if changed {
			res.Set = append(res.Set, k)
		}
		if found {
			continue
		}
		done := false
		for i, e := range entries {
			if _, used := replace[i]; used || e.kind != kindComment {
				continue
			}
			content := strings.TrimSuffix(string(data[e.start:e.end]), e.eol)
			indent, keyRaw, key, csep, _, ok := commented(content)
			if !ok || key != k {
				continue
			}
			replace[i] = indent + keyRaw + csep + escape(want, false) + e.eol
			res.Uncommented = append(res.Uncommented, k)
			done = true
			break
		}
		if !done {
			appended = append(appended, escape(k, true)+sep+escape(want, false))
			res.Added = append(res.Added, k)
		}
	}
	removed := map[string]bool{}
	for i, e := range entries {
		if e.kind == kindEntry && removing[e.key] {
			replace[i] = ""
			if !removed[e.key] {
				removed[e.key] = true
				res.Removed = append(res.Removed, e.key)
			}
		}
	}
	sort.Strings(res.Removed)
	if !res.Changed() {
		return data, res
	}
	var out []byte
	for i, e := range entries {
		if r, ok := replace[i]; ok {
			out = append(out, r...)
		} else {
			out = append(out, data[e.start:e.end]...)
		}
	}
	if len(appended) > 0 {
		finalNL := len(data) == 0 || data[len(data)-1] == '\n' || data[len(data)-1] == '\r'
		if len(out) > 0 && out[len(out)-1] != '\n' && out[len(out)-1] != '\r' {
			out = append(out, eol...)
		}
		if n := len(entries); n > 0 && entries[n-1].dangling {
			if _, replaced := replace[n-1]; !replaced {
				// The last line ends in a continuation backslash: a blank line ends it first.
				out = append(out, eol...)
			}
		}
		for i, l := range appended {
			out = append(out, l...)
			if i < len(appended)-1 || finalNL {
				out = append(out, eol...)
			}
		}
	}
	return out, res
}

// Get returns the value Properties.load would give key in data (the last line wins).
func Get(data []byte, key string) (string, bool) {
	val, ok := "", false
	for _, e := range parse(data) {
		if e.kind == kindEntry && e.key == key {
			val, ok = unescape(decode(e.valueRaw)), true
		}
	}
	return val, ok
}

// dominantSep returns the separator the file uses most among those the format allows.
func dominantSep(entries []entry, name string, format Format) string {
	count := map[string]int{}
	var order []string
	for _, e := range entries {
		if e.kind != kindEntry || e.sep == "" {
			continue
		}
		ws := !strings.ContainsAny(e.sep, "=:")
		if format == FormatSpark && !ws || format == FormatProperties && ws {
			continue
		}
		if count[e.sep] == 0 {
			order = append(order, e.sep)
		}
		count[e.sep]++
	}
	best := ""
	for _, s := range order {
		if best == "" || count[s] > count[best] {
			best = s
		}
	}
	if best != "" {
		return best
	}
	switch {
	case format == FormatSpark:
		return " "
	case format == FormatProperties:
		return "="
	case strings.HasSuffix(name, ".conf"):
		return " "
	}
	return "="
}

// dominantEOL returns "\r\n" when most lines of data end so, else "\n".
func dominantEOL(data []byte) string {
	crlf, lf := 0, 0
	for i, c := range data {
		if c == '\n' {
			if i > 0 && data[i-1] == '\r' {
				crlf++
			} else {
				lf++
			}
		}
	}
	if crlf > lf {
		return "\r\n"
	}
	return "\n"
}
