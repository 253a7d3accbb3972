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
// (for '-') or new (for '+' and context) text. It also writes each hunk header again from the
// hunk's own lines: go-udiff v0.4.1 misnumbers the new-file start of a hunk that follows a hunk
// joining two nearby edits (it does not count the joining context lines).
func maskDiff(diff string, oldLines, newLines []string) string {
	var b strings.Builder
	lines := splitLines(diff)
	delta := 0
	for i := 0; i < len(lines); {
		l := lines[i]
		if !strings.HasPrefix(l, "@@") {
			b.WriteString(l)
			i++
			continue
		}
		oldStart := hunkStart(l)
		if oldStart < 1 {
			oldStart = 1 // "-0,0": the old file is empty
		}
		j := i + 1
		for j < len(lines) && len(lines[j]) > 0 && strings.ContainsRune(" +-\\", rune(lines[j][0])) &&
			!strings.HasPrefix(lines[j], "--- ") && !strings.HasPrefix(lines[j], "+++ ") {
			j++
		}
		var body strings.Builder
		oldN, newN := oldStart, oldStart+delta
		oldCount, newCount := 0, 0
		for _, hl := range lines[i+1 : j] {
			var src []string
			var idx int
			switch hl[0] {
			case '-':
				src, idx = oldLines, oldN
				oldN++
				oldCount++
			case '+':
				src, idx = newLines, newN
				newN++
				newCount++
			case ' ':
				src, idx = newLines, newN
				oldN++
				newN++
				oldCount++
				newCount++
			default: // "\ No newline at end of file"
				body.WriteString(hl)
				continue
			}
			content := engine.Mask + "\n"
			if idx >= 1 && idx <= len(src) {
				content = strings.TrimSuffix(src[idx-1], "\n") + "\n"
			}
			body.WriteString(hl[:1] + content)
		}
		b.WriteString("@@ -" + hunkRange(oldStart, oldCount) + " +" + hunkRange(oldStart+delta, newCount) + " @@\n")
		b.WriteString(body.String())
		delta += newCount - oldCount
		i = j
	}
	return b.String()
}

func hunkRange(start, count int) string {
	switch count {
	case 0:
		if start > 0 {
			start--
		}
		return strconv.Itoa(start) + ",0"
	case 1:
		return strconv.Itoa(start)
	}
	return strconv.Itoa(start) + "," + strconv.Itoa(count)
}

// hunkStart reads the old-file start line of "@@ -a,b +c,d @@" (-1 when unreadable).
func hunkStart(h string) int {
	f := strings.Fields(h)
	if len(f) < 3 {
		return -1
	}
	s := strings.TrimPrefix(f[1], "-")
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = s[:i]
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
