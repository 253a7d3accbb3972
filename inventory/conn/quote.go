package conn

import "strings"

// Quote returns s quoted for a POSIX shell so that the shell passes it on as exactly one word
// with the same bytes. It is the one quoting function every remote command is built with. A
// shell word cannot hold a NUL byte: the SSH connection refuses scripts that contain one.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '/' || c == ':' || c == '@' || c == '%' || c == '+' || c == ',') {
			safe = false
			break
		}
	}
	// '=' is left out of the safe set: a bare first word with '=' would be an assignment.
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument with Quote and joins them with spaces into one command line.
func Join(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// SHA256Check is a shell step that fails, saying on stderr "WHAT: sha256 is X, want WANT",
// unless the file that the shell word file names has the sha256 want. It sets the variable _s.
func SHA256Check(file, want, what string) string {
	return "_s=$(sha256sum < " + file + ") && { [ \"${_s%% *}\" = " + Quote(want) + " ] || " +
		"{ printf '%s\\n' " + Quote(what+": sha256 is ") + "\"${_s%% *}, want \"" + Quote(want) + " >&2; false; }; }"
}
