package xmldoc

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/ianaindex"
)

// Encoding is the character encoding a document is stored in. Documents are parsed and edited
// as UTF-8 text and written back in their own encoding.
type Encoding struct {
	// Name is the encoding as the XML declaration spells it ("ISO-8859-1"), or "UTF-8" when the
	// document has no declaration or no encoding in it.
	Name string
	enc  encoding.Encoding // nil for UTF-8
}

// IsUTF8 reports whether the document is stored as UTF-8 (or its ASCII subset).
func (e Encoding) IsUTF8() bool { return e.enc == nil }

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// detectEncoding reads the encoding from a byte order mark or the XML declaration.
func detectEncoding(raw []byte) (Encoding, error) {
	if bytes.HasPrefix(raw, utf8BOM) {
		return Encoding{Name: "UTF-8"}, nil
	}
	if bytes.HasPrefix(raw, []byte{0xFE, 0xFF}) || bytes.HasPrefix(raw, []byte{0xFF, 0xFE}) ||
		bytes.HasPrefix(raw, []byte{0, '<'}) || bytes.HasPrefix(raw, []byte{'<', 0}) {
		return Encoding{}, fmt.Errorf("UTF-16 and UTF-32 documents are not supported")
	}
	name := declaredEncoding(raw)
	if name == "" {
		return Encoding{Name: "UTF-8"}, nil
	}
	switch strings.ToLower(name) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return Encoding{Name: name}, nil
	}
	enc, err := ianaindex.IANA.Encoding(name)
	if err != nil || enc == nil {
		return Encoding{}, fmt.Errorf("encoding %q declared in the XML declaration is not supported", name)
	}
	return Encoding{Name: name, enc: enc}, nil
}

// declaredEncoding returns the encoding pseudo-attribute of a leading XML declaration, or "".
// The declaration is ASCII in every encoding this package accepts.
func declaredEncoding(raw []byte) string {
	if !bytes.HasPrefix(raw, []byte("<?xml")) || len(raw) < 6 || !isSpace(rune(raw[5])) {
		return ""
	}
	end := bytes.Index(raw, []byte("?>"))
	if end < 0 {
		return ""
	}
	decl := string(raw[5:end])
	i := strings.Index(decl, "encoding")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if !strings.HasPrefix(rest, "=") {
		return ""
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n")
	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		return ""
	}
	q := rest[0]
	j := strings.IndexByte(rest[1:], q)
	if j < 0 {
		return ""
	}
	return rest[1 : 1+j]
}

// decode turns the stored bytes into UTF-8 text. It refuses bytes that would not be written back
// exactly, so a document always round-trips.
func (e Encoding) decode(raw []byte) (string, error) {
	if e.enc == nil {
		if !utf8.Valid(raw) {
			off := 0
			for off < len(raw) {
				r, n := utf8.DecodeRune(raw[off:])
				if r == utf8.RuneError && n <= 1 {
					break
				}
				off += n
			}
			return "", fmt.Errorf("invalid UTF-8 at byte %d (the document declares no other encoding)", off)
		}
		return string(raw), nil
	}
	text, err := e.enc.NewDecoder().Bytes(raw)
	if err != nil {
		return "", fmt.Errorf("decoding %s: %w", e.Name, err)
	}
	back, err := e.enc.NewEncoder().Bytes(text)
	if err != nil || !bytes.Equal(back, raw) {
		return "", fmt.Errorf("the %s bytes do not survive decoding and encoding again; refusing to edit", e.Name)
	}
	return string(text), nil
}

// encode turns UTF-8 text into the document's encoding. A character the encoding cannot
// represent is an error naming it and its line.
func (e Encoding) encode(text string) ([]byte, error) {
	if e.enc == nil {
		return []byte(text), nil
	}
	out, err := e.enc.NewEncoder().Bytes([]byte(text))
	if err == nil {
		return out, nil
	}
	enc := e.enc.NewEncoder()
	for i, r := range text {
		if _, err := enc.String(string(r)); err != nil {
			line := 1 + strings.Count(text[:i], "\n")
			return nil, fmt.Errorf("character %q (U+%04X) on line %d cannot be written in %s", r, r, line, e.Name)
		}
	}
	return nil, fmt.Errorf("encoding %s: %w", e.Name, err)
}
