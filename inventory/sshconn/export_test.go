package sshconn

// SetReadWithTar switches ReadFile between tar and the stat+cat fallback, for tests.
func SetReadWithTar(on bool) { readWithTar = on }
