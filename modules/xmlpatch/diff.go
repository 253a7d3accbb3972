package xmlpatch

import (
	"strconv"
	"strings"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
)

// MaskedDiff returns the unified diff (engine.Diff) of two versions of a document, with every
// value under an element or attribute whose name says password, secret or token (see
// xmldoc.SecretName) replaced by engine.Mask on every line it shows: removed, added and
// context lines alike. The diff is computed on the real text, so a changed secret still shows
// as a changed line.
func MaskedDiff(path string, old, new *xmldoc.Document) string {
	diff := engine.Diff(path, old.Text, new.Text)
	if diff == "" {
		return ""
	}
	return maskDiff(diff, splitLines(old.MaskSecrets(engine.Mask)), splitLines(new.MaskSecrets(engine.Mask)))
}

// splitLines splits text after each "\n", as the diff does.
func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// maskDiff rewrites each content line of a unified diff with the same line of the masked old
// (for '-') or new (for '+' and context) text.
func maskDiff(diff string, oldLines, newLines []string) string {
	var b strings.Builder
	oldN, newN := 0, 0
	for _, l := range splitLines(diff) {
		if strings.HasPrefix(l, "@@") {
			oldN, newN = hunkStarts(l)
			b.WriteString(l)
			continue
		}
		if strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") || l == "" || oldN < 0 {
			b.WriteString(l)
			continue
		}
		var src []string
		var idx int
		switch l[0] {
		case '-':
			src, idx = oldLines, oldN
			oldN++
		case '+':
			src, idx = newLines, newN
			newN++
		case ' ':
			src, idx = newLines, newN
			oldN++
			newN++
		default: // "\ No newline at end of file"
			b.WriteString(l)
			continue
		}
		content := engine.Mask + "\n"
		if idx >= 1 && idx <= len(src) {
			content = strings.TrimSuffix(src[idx-1], "\n") + "\n"
		}
		b.WriteString(l[:1] + content)
	}
	return b.String()
}

// hunkStarts reads "@@ -a,b +c,d @@" and returns a and c (1-based line numbers).
func hunkStarts(h string) (int, int) {
	f := strings.Fields(h)
	if len(f) < 3 {
		return -1, -1
	}
	num := func(s string) int {
		s = strings.TrimLeft(s, "-+")
		if i := strings.IndexByte(s, ','); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return -1
		}
		return n
	}
	return num(f[1]), num(f[2])
}
