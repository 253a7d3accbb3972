package sshconn

import (
	"os/exec"
	"strings"
	"testing"
)

// decode runs the framed loop's own decoding (NL variable, eval "s=<word>") in a real sh.
func decode(t *testing.T, word string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "NL='\n'\neval \"s=$1\"\nprintf %s \"$s\"", "sh", word).Output()
	if err != nil {
		t.Fatalf("decode %q: %v", word, err)
	}
	return string(out)
}

func TestEncodeWord(t *testing.T) {
	for _, s := range []string{"", "\n", "a\nb", "echo 'x'\n\n", "$NL", "'\"$NL\"'", "\\\n", "printf '%s\\n' \"$@\"\n\r\n", "ü\xff"} {
		w := encodeWord(s)
		if strings.Contains(w, "\n") {
			t.Fatalf("encodeWord(%q) = %q holds a newline", s, w)
		}
		if got := decode(t, w); got != s {
			t.Errorf("encodeWord(%q) = %q decodes to %q", s, w, got)
		}
	}
}

// FuzzEncodeWord checks that every script (without NUL) survives the one-line framing.
func FuzzEncodeWord(f *testing.F) {
	f.Add("echo hi\nexit 3\n")
	f.Add("a'\n'b\"$NL\"")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			return // refused by run: no shell string can hold a NUL
		}
		w := encodeWord(s)
		if strings.Contains(w, "\n") {
			t.Fatalf("encodeWord(%q) = %q holds a newline", s, w)
		}
		if got := decode(t, w); got != s {
			t.Fatalf("encodeWord(%q) = %q decodes to %q", s, w, got)
		}
	})
}
