package lineinfile

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzEdit: edit never panics; after ensuring a line it is present exactly once among the lines
// the regexp matches, a second edit changes nothing, and the other lines keep their order and
// bytes (the last one may gain a line ending).
func FuzzEdit(f *testing.F) {
	for _, s := range []string{"a\nb\n", "a\r\nb", "", "x=1\nx=2", "\n\n", "export SPARK_LOCAL_IP=1\r\n"} {
		f.Add([]byte(s), "export SPARK_LOCAL_IP=2")
	}
	re := regexp.MustCompile(`^export SPARK_LOCAL_IP=`)
	f.Fuzz(func(t *testing.T, data []byte, line string) {
		if !strings.HasPrefix(line, "export SPARK_LOCAL_IP=") || strings.ContainsAny(line, "\r\n") {
			return
		}
		p := params{line: line, re: re}
		out, _, err := edit(data, p)
		if err != nil {
			t.Fatal(err)
		}
		again, _, _ := edit(out, p)
		if string(again) != string(out) {
			t.Fatalf("second edit changes %q -> %q", out, again)
		}
		var others, oldOthers []string
		found := 0
		for _, l := range split(out) {
			if re.MatchString(l.text) {
				if l.text == line {
					found++
				}
				continue
			}
			others = append(others, l.text)
		}
		if found != 1 {
			t.Fatalf("line present %d times in %q", found, out)
		}
		for _, l := range split(data) {
			if !re.MatchString(l.text) {
				oldOthers = append(oldOthers, l.text)
			}
		}
		// An unterminated last line ending in a lone CR becomes a CRLF line when ended.
		if n := len(oldOthers); n > 0 && len(others) >= n && oldOthers[n-1] == others[n-1]+"\r" {
			oldOthers[n-1] = others[n-1]
		}
		if strings.Join(others, "\x00") != strings.Join(oldOthers, "\x00") {
			t.Fatalf("other lines changed: %q -> %q", data, out)
		}
	})
}
