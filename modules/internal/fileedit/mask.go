package fileedit

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/isaplay/isaplay/engine"
)

// secretName is the part of a name that makes its value secret.
const secretName = `(?:password|passwd|secret|token)`

var (
	// A key-value line whose key says password/secret/token: key=value, key: value, key value,
	// export KEY=value, "key": "value", optionally commented out.
	kvSecret = regexp.MustCompile(`(?i)^(\s*(?:[#!;]+\s*)?(?:export\s+)?["']?[A-Za-z0-9_.\-/\\]*` + secretName +
		`[A-Za-z0-9_.\-/\\]*["']?(?:\s*[=:]\s*|\s+))(\S.*?)(\r?)$`)
	// <adminPassword>value</adminPassword>
	xmlElemSecret = regexp.MustCompile(`(?i)(<(?:[A-Za-z_][\w.:\-]*)?` + secretName + `[\w.\-]*(?:\s[^>]*)?>)([^<]+)(<)`)
	// <Property name="ConnectionPassword">value</Property>
	xmlNamedSecret = regexp.MustCompile(`(?i)(<[A-Za-z_][\w.:\-]*\s[^>]*\bname\s*=\s*["'][^"']*` + secretName + `[^"']*["'][^>]*>)([^<]+)(<)`)
	// password="value"
	attrSecret = regexp.MustCompile(`(?i)(\b[\w.:\-]*` + secretName + `[\w.\-]*\s*=\s*)("[^"]*"|'[^']*')`)
)

// MaskLine masks, in one line of text, the values of keys, elements and attributes whose name
// says password, secret or token. Line endings are kept.
func MaskLine(line string) string {
	if m := kvSecret.FindStringSubmatchIndex(line); m != nil {
		return line[:m[3]] + engine.Mask + line[m[6]:]
	}
	line = xmlElemSecret.ReplaceAllString(line, "${1}"+engine.Mask+"${3}")
	line = xmlNamedSecret.ReplaceAllString(line, "${1}"+engine.Mask+"${3}")
	line = attrSecret.ReplaceAllStringFunc(line, func(s string) string {
		m := attrSecret.FindStringSubmatch(s)
		q := m[2][:1]
		return m[1] + q + engine.Mask + q
	})
	return line
}

// MaskDiff masks a unified diff: secret-named values in every body line (context lines too)
// and then every secret the host's redactor knows.
func MaskDiff(h *engine.Host, diff string) string {
	if diff == "" {
		return ""
	}
	lines := strings.SplitAfter(diff, "\n")
	inBody := false
	for i, l := range lines {
		if strings.HasPrefix(l, "@@") {
			inBody = true
			continue
		}
		if !inBody || l == "" || strings.HasPrefix(l, `\`) {
			continue
		}
		body, nl := strings.CutSuffix(l[1:], "\n")
		masked := MaskLine(body)
		if nl {
			masked += "\n"
		}
		lines[i] = l[:1] + masked
	}
	return h.Redact(strings.Join(lines, ""))
}

// LineMask gives, by 1-based line number, the masked text of lines that hold a secret (without
// the line ending). A file module that parses its format builds one for the old and the new
// bytes, so that values spread over several lines are masked too.
type LineMask map[int]string

// MaskDiffLines masks a unified diff of old → new with the LineMasks of both sides, then as
// MaskDiff does.
func MaskDiffLines(h *engine.Host, diff string, oldMask, newMask LineMask) string {
	if diff == "" || len(oldMask)+len(newMask) == 0 {
		return MaskDiff(h, diff)
	}
	lines := strings.SplitAfter(diff, "\n")
	oldNo, newNo := 0, 0
	inBody := false
	for i, l := range lines {
		if strings.HasPrefix(l, "@@") {
			inBody = true
			var a, b, c, d int
			if n, _ := fmt.Sscanf(l, "@@ -%d,%d +%d,%d @@", &a, &b, &c, &d); n == 4 {
				oldNo, newNo = a, c
			} else if n, _ := fmt.Sscanf(l, "@@ -%d +%d,%d @@", &a, &c, &d); n == 3 {
				oldNo, newNo = a, c
			} else if n, _ := fmt.Sscanf(l, "@@ -%d,%d +%d @@", &a, &b, &c); n == 3 {
				oldNo, newNo = a, c
			} else if n, _ := fmt.Sscanf(l, "@@ -%d +%d @@", &a, &c); n == 2 {
				oldNo, newNo = a, c
			}
			continue
		}
		if !inBody || l == "" || strings.HasPrefix(l, `\`) {
			continue
		}
		nl := ""
		if strings.HasSuffix(l, "\n") {
			nl = "\n"
		}
		cr := ""
		if strings.HasSuffix(l, "\r\n") {
			cr = "\r"
		}
		var m string
		var ok bool
		switch l[0] {
		case ' ':
			m, ok = oldMask[oldNo]
			if !ok {
				m, ok = newMask[newNo]
			}
			oldNo++
			newNo++
		case '-':
			m, ok = oldMask[oldNo]
			oldNo++
		case '+':
			m, ok = newMask[newNo]
			newNo++
		}
		if ok {
			lines[i] = l[:1] + m + cr + nl
		}
	}
	return MaskDiff(h, strings.Join(lines, ""))
}
