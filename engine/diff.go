package engine

import (
	"github.com/aymanbagabas/go-udiff"
)

// Diff returns a unified diff of a file's old and new text with three lines of context, or ""
// when they are equal. Text should be valid UTF-8 (decode other encodings first); carriage
// returns are kept as they are.
func Diff(path, oldText, newText string) string {
	if oldText == newText {
		return ""
	}
	return udiff.Unified(path, path, oldText, newText)
}
