package sqlscript

import "strings"

// CreatedTables returns the names of the tables the statements create with CREATE TABLE, in
// order and without duplicates. A qualified name (db.t) gives its table part.
func CreatedTables(stmts []Statement) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range stmts {
		name, ok := createdTable(s.Text)
		if ok && !seen[strings.ToLower(name)] {
			seen[strings.ToLower(name)] = true
			out = append(out, name)
		}
	}
	return out
}

// Modifies reports whether a statement writes rows (INSERT, REPLACE, UPDATE, DELETE, LOAD, CALL),
// as opposed to only defining schema.
func Modifies(s Statement) bool {
	w := tokens(s.Text, 1)
	if len(w) == 0 {
		return false
	}
	switch strings.ToUpper(w[0]) {
	case "INSERT", "REPLACE", "UPDATE", "DELETE", "LOAD", "CALL":
		return true
	}
	return false
}

// createdTable returns the table a CREATE [TEMPORARY] TABLE [IF NOT EXISTS] statement creates.
func createdTable(text string) (string, bool) {
	w := tokens(text, 8)
	k := 0
	next := func(word string) bool {
		if k < len(w) && strings.EqualFold(w[k], word) {
			k++
			return true
		}
		return false
	}
	if !next("CREATE") {
		return "", false
	}
	if next("TEMPORARY") {
		return "", false // gone when the session ends: not part of the schema
	}
	next("OR") // CREATE OR REPLACE TABLE (MariaDB)
	next("REPLACE")
	if !next("TABLE") {
		return "", false
	}
	if next("IF") {
		if !next("NOT") || !next("EXISTS") {
			return "", false
		}
	}
	if k >= len(w) {
		return "", false
	}
	name := w[k]
	// A qualified name arrives as name, ".", name.
	if k+2 < len(w) && w[k+1] == "." {
		name = w[k+2]
	}
	return name, name != ""
}

// tokens returns up to n leading tokens of a statement: words, backquoted identifiers (unquoted)
// and single punctuation characters, skipping blanks and comments.
func tokens(s string, n int) []string {
	var out []string
	i := 0
	for i < len(s) && len(out) < n {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || (c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || isCommentSpace(s[i+2]))):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += 2 + end + 2
		case c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						b.WriteByte('`')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			out = append(out, b.String())
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		default:
			out = append(out, s[i:i+1])
			i++
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
