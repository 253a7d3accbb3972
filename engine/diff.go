package engine

import (
	"bytes"
	"regexp"

	"github.com/rogpeppe/go-internal/diff"
)

// Diff returns a unified diff of a file's old and new text with three lines of context, or ""
// when they are equal. Text should be valid UTF-8 (decode other encodings first); carriage
// returns are kept as they are, and a missing final newline is marked as diff marks it.
//
// It uses go-internal's anchored (patience) diff, whose hunk headers match GNU diff -u; go-udiff
// v0.4.1 misnumbers the new-file start of a hunk that follows merged hunks.
func Diff(path, oldText, newText string) string {
	if oldText == newText {
		return ""
	}
	out := diff.Diff(path, []byte(oldText), path, []byte(newText))
	// Drop the "diff OLD NEW" line: plans show the --- and +++ header only.
	if i := bytes.IndexByte(out, '\n'); i >= 0 && bytes.HasPrefix(out, []byte("diff ")) {
		out = out[i+1:]
	}
	return gnuHunkHeaders(string(out))
}

var hunkHeader = regexp.MustCompile(`(?m)^@@ -(\d+),(\d+) \+(\d+),(\d+) @@`)

// gnuHunkHeaders writes hunk ranges as GNU diff does: a count of 1 is left out ("-5" for
// "-5,1").
func gnuHunkHeaders(d string) string {
	return hunkHeader.ReplaceAllStringFunc(d, func(h string) string {
		m := hunkHeader.FindStringSubmatch(h)
		r := func(start, n string) string {
			if n == "1" {
				return start
			}
			return start + "," + n
		}
		return "@@ -" + r(m[1], m[2]) + " +" + r(m[3], m[4]) + " @@"
	})
}
