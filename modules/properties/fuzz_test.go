package properties

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEdit: Edit never panics; the key reads back with the value set; a second edit changes
// nothing; and every logical line that is not the key's stays byte-identical and in order (one
// commented default may be taken over, and appending may end an unterminated last line).
func FuzzEdit(f *testing.F) {
	seeds := []string{
		"a=1\nb=2\n", "a 1\r\nb\t2", "# a 1\n", "a=1\\\n  2\n", "a=1\\", "", "!x:y\n  \n#c\\\n",
		"k\\ e\\=y = v\\u00e9\n", "caf\xe9=1\n", "\n\n\\\n", "# #a 1\n", "a\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), "a", "v")
	}
	f.Add([]byte("carbon.spark.master local\n# carbon.das.symbolic.link /x\n"), "carbon.das.symbolic.link", "/opt/y")
	f.Add([]byte("a=1\n"), "a b", " =x\\\n")
	f.Fuzz(func(t *testing.T, data []byte, key, value string) {
		if key == "" || !utf8.ValidString(key) || !utf8.ValidString(value) {
			return
		}
		out, res := Edit(data, "f.properties", map[string]string{key: value}, nil, FormatAuto)
		if got, ok := Get(out, key); !ok || got != value {
			t.Fatalf("read back %q = %q (%v), want %q\nin:  %q\nout: %q", key, got, ok, value, data, out)
		}
		again, res2 := Edit(out, "f.properties", map[string]string{key: value}, nil, FormatAuto)
		if res2.Changed() || string(again) != string(out) {
			t.Fatalf("second edit changes: %q -> %q", out, again)
		}
		if !res.Changed() && string(out) != string(data) {
			t.Fatalf("unchanged result differs")
		}
		old, cur := others(data, key), others(out, key)
		if len(cur) > len(old)+1 {
			t.Fatalf("lines added: %q -> %q", old, cur)
		}
		if len(cur) == len(old)+1 {
			// Only a blank line ending a dangling continuation may appear, at the end.
			if strings.TrimRight(cur[len(cur)-1], "\r\n") != "" {
				t.Fatalf("unexpected new line %q", cur[len(cur)-1])
			}
			cur = cur[:len(cur)-1]
		}
		if len(cur) == len(old)-1 && len(res.Uncommented) == 1 {
			for i := range old {
				if i == len(cur) || old[i] != cur[i] {
					old = append(old[:i:i], old[i+1:]...)
					break
				}
			}
		}
		if len(cur) != len(old) {
			t.Fatalf("line count %d, want %d\nin:  %q\nout: %q", len(cur), len(old), data, out)
		}
		for i := range old {
			if old[i] == cur[i] {
				continue
			}
			// The last line may gain a line ending when keys are appended after it.
			if i == len(old)-1 && strings.HasPrefix(cur[i], old[i]) && strings.TrimLeft(cur[i][len(old[i]):], "\r\n") == "" {
				continue
			}
			t.Fatalf("line %d changed: %q -> %q", i, old[i], cur[i])
		}
	})
}

// others returns the raw bytes of each logical line that is not an entry for key.
func others(data []byte, key string) []string {
	var out []string
	for _, e := range parse(data) {
		if e.kind == kindEntry && e.key == key {
			continue
		}
		out = append(out, string(data[e.start:e.end]))
	}
	return out
}
