package conn

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// hostile are arguments that break naive quoting.
var hostile = []string{
	"", " ", "a b", "it's", "'", "''", `"`, `\`, `\'`, `'\''`, "$HOME", "${HOME}", "$(id)", "`id`",
	"a;b", "a&&b", "a|b", "a>b", "<a", "*", "?", "[a]", "~", "~root", "-n", "--", "-e", "a=b", "=",
	"#comment", "!", "!!", "\n", "a\nb", "\r\n", "\t", "ünï©ødé", "\xe9\xff", "%s%n", "{a,b}", "a\\\nb",
	"\x01\x1b[31m", "IFS=x", "$IFS", "$@", "$*", "$1", "$$", "&", ";", "(", ")", "{", "}",
}

// shellWords runs `sh -c 'printf "%s\0" <quoted args>'` with the named shell and returns the
// words the shell passed to printf.
func shellWords(t *testing.T, shell string, args []string) []string {
	t.Helper()
	script := "printf '%s\\0' " + Join(args...)
	if len(args) == 0 {
		script = "printf ''"
	}
	cmd := exec.Command(shell, "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "IFS= "}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v: %s", shell, script, err, stderr.String())
	}
	if len(out) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

func TestQuoteHostile(t *testing.T) {
	shells := []string{"sh"}
	if _, err := exec.LookPath("bash"); err == nil {
		shells = append(shells, "bash")
	}
	for _, sh := range shells {
		for _, s := range hostile {
			got := shellWords(t, sh, []string{s})
			if len(got) != 1 || got[0] != s {
				t.Errorf("%s: Quote(%q) = %s: shell saw %q", sh, s, Quote(s), got)
			}
		}
		// All at once, as one command line.
		got := shellWords(t, sh, hostile)
		if strings.Join(got, "\x00") != strings.Join(hostile, "\x00") {
			t.Errorf("%s: Join(hostile...) split into %q", sh, got)
		}
	}
}

func TestQuoteShape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"abc", "abc"},
		{"/opt/wso2/x-1.2_3", "/opt/wso2/x-1.2_3"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"a=b", "'a=b'"},
		{"~", "'~'"},
	}
	for _, tc := range tests {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzQuote checks with a real sh that no argument escapes its quotes: the words the shell
// sees are exactly the arguments given to Join.
func FuzzQuote(f *testing.F) {
	for _, s := range hostile {
		f.Add(s, "x")
	}
	f.Add("a'b", `c"d\`)
	f.Fuzz(func(t *testing.T, a, b string) {
		// A NUL cannot be part of any shell word or argv string; no caller can pass one.
		if strings.ContainsRune(a, 0) || strings.ContainsRune(b, 0) {
			return
		}
		args := []string{a, b, a + b}
		got := shellWords(t, "sh", args)
		if len(got) != len(args) {
			t.Fatalf("Join(%q) = %s: shell saw %d words %q", args, Join(args...), len(got), got)
		}
		for i := range args {
			if got[i] != args[i] {
				t.Fatalf("Join(%q) = %s: word %d is %q", args, Join(args...), i, got[i])
			}
		}
	})
}
