// Package sqlscript splits a MySQL script into statements the way the mysql command-line client
// does: it honours quotes (' " `), backslash escapes inside ' and " strings, comments (--, #, /* */),
// executable comments (/*! */ are kept as statement text) and DELIMITER lines, and it remembers
// the line each statement starts on so that an error can name it.
package sqlscript

import (
	"fmt"
	"strings"
	"unicode"
)

// Statement is one statement of a script.
type Statement struct {
	// Text is the statement without its delimiter, starting at its first token (comments before
	// it are dropped; comments inside it are kept, the server ignores them).
	Text string
	// Line is the 1-based line of the script the statement starts on.
	Line int
}

// SyntaxError is a script that cannot be split: an unterminated string, identifier or comment,
// or a DELIMITER line without a delimiter.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Split returns the statements of src in order. A last statement without a delimiter is
// returned too, as the mysql client runs it.
func Split(src string) ([]Statement, error) {
	var (
		out       []Statement
		delim     = ";"
		line      = 1
		start     = -1 // byte offset of the current statement's first token
		startLine = 0
		i         = 0
	)
	atLineStart := func(pos int) bool {
		for j := pos - 1; j >= 0; j-- {
			switch src[j] {
			case '\n':
				return true
			case ' ', '\t', '\r':
				continue
			default:
				return false
			}
		}
		return true
	}
	begin := func() {
		if start < 0 {
			start, startLine = i, line
		}
	}
	for i < len(src) {
		c := src[i]
		// DELIMITER is a client command: only at the start of a line, before a statement begins.
		if start < 0 && (c == 'D' || c == 'd') && atLineStart(i) && hasWordPrefix(src[i:], "delimiter") {
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			arg := strings.TrimSpace(src[i+len("delimiter") : i+end])
			if f := strings.Fields(arg); len(f) > 0 {
				arg = f[0]
			}
			if arg == "" {
				return nil, &SyntaxError{Line: line, Msg: "DELIMITER without a delimiter"}
			}
			if strings.Contains(arg, "\\") {
				return nil, &SyntaxError{Line: line, Msg: "DELIMITER cannot contain a backslash"}
			}
			delim = arg
			i += end
			continue
		}
		// The delimiter ends the statement.
		if strings.HasPrefix(src[i:], delim) {
			if start < 0 {
				i += len(delim) // an empty statement
				continue
			}
			if text := strings.TrimRightFunc(src[start:i], unicode.IsSpace); text != "" {
				out = append(out, Statement{Text: text, Line: startLine})
			}
			start = -1
			i += len(delim)
			continue
		}
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || (c == '-' && strings.HasPrefix(src[i:], "--") && (i+2 == len(src) || isCommentSpace(src[i+2]))):
			// A line comment runs to the end of the line; the newline is left for the line count.
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			exec := strings.HasPrefix(src[i:], "/*!") || strings.HasPrefix(src[i:], "/*M!")
			if exec {
				begin()
			}
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, &SyntaxError{Line: line, Msg: "unterminated /* comment"}
			}
			body := src[i : i+2+end+2]
			line += strings.Count(body, "\n")
			i += len(body)
		case c == '\'' || c == '"' || c == '`':
			begin()
			n, lines, ok := quoted(src[i:], c)
			if !ok {
				what := "string"
				if c == '`' {
					what = "identifier"
				}
				return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("unterminated %s starting with %c", what, c)}
			}
			line += lines
			i += n
		default:
			begin()
			i++
		}
	}
	if start >= 0 {
		if text := strings.TrimRightFunc(src[start:], unicode.IsSpace); text != "" {
			out = append(out, Statement{Text: text, Line: startLine})
		}
	}
	return out, nil
}

// quoted returns the length of the quoted token at the start of s (quote q included), the
// newlines inside it, and whether it was terminated. A doubled quote stands for itself; inside
// ' and " a backslash escapes the next byte.
func quoted(s string, q byte) (n, lines int, ok bool) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\n':
			lines++
		case '\\':
			if q != '`' && i+1 < len(s) {
				i++
				if s[i] == '\n' {
					lines++
				}
			}
		case q:
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1, lines, true
		}
	}
	return len(s), lines, false
}

// isCommentSpace reports whether b may follow "--" to start a comment (MySQL needs a space or
// control character there; "--1" is minus minus one).
func isCommentSpace(b byte) bool { return b <= ' ' }

// hasWordPrefix reports whether s starts with word (case-insensitive) followed by a blank or the
// end of the line.
func hasWordPrefix(s, word string) bool {
	if len(s) < len(word) || !strings.EqualFold(s[:len(word)], word) {
		return false
	}
	return len(s) == len(word) || s[len(word)] == ' ' || s[len(word)] == '\t' || s[len(word)] == '\r' || s[len(word)] == '\n'
}
