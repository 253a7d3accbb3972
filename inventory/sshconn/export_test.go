package sshconn

// SetReadWithTar switches ReadFile between tar and the stat+cat fallback, for tests.
func SetReadWithTar(on bool) { readWithTar = on }

// SetStagedScript sets the length above which isaplay's own scripts are staged with dd, for
// tests; it returns the old one.
func SetStagedScript(n int) int { old := stagedScript; stagedScript = n; return old }

// SetBeforeRenames sets a step that write batches run before their renames, for tests.
func SetBeforeRenames(step string) { beforeRenames = step }
