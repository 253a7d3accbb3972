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

// Digest is a file whose sha256 a SHA256Check step checks: File is a shell word naming it, and
// What names it in the failure message.
type Digest struct{ File, Want, What string }

// SHA256Check is a shell step, one sha256sum for all the files, that fails, saying on stderr
// "WHAT: sha256 is X, want WANT" for the first file that differs. sha256sum prints a line per
// file in argument order (a name with a backslash or a newline is escaped, and its line starts
// with a backslash). It sets the variables _s and _l.
func SHA256Check(files ...Digest) string {
	var b strings.Builder
	b.WriteString("_s=$(sha256sum --")
	for _, f := range files {
		b.WriteString(" " + f.File)
	}
	b.WriteString(") && _s=\"$_s\n\"")
	for _, f := range files {
		b.WriteString(" &&\n_l=${_s%%\"\n\"*} && _s=${_s#*\"\n\"} && _l=${_l#\\\\} && { [ \"${_l%% *}\" = " + Quote(f.Want) + " ] || " +
			"{ printf '%s\\n' " + Quote(f.What+": sha256 is ") + "\"${_l%% *}, want \"" + Quote(f.Want) + " >&2; false; }; }")
	}
	return b.String()
}
