package sshconn

import (
	"context"

	"github.com/isaplay/isaplay/inventory/conn"
)

// SetReadWithTar switches ReadFile between tar and the stat+cat fallback, for tests.
func SetReadWithTar(on bool) { readWithTar = on }

// SetStagedScript sets the length above which isaplay's own scripts are staged with dd, for
// tests; it returns the old one.
func SetStagedScript(n int) int { old := stagedScript; stagedScript = n; return old }

// SetBeforeRenames sets a step that write batches run before their renames, for tests.
func SetBeforeRenames(step string) { beforeRenames = step }

// ExecToEnd runs script as the file writes do (uninterrupted once begun), with stdin streamed,
// for tests.
func (c *Conn) ExecToEnd(ctx context.Context, script string, stdin conn.Sized) (conn.Result, error) {
	return c.execToEnd(ctx, uninterrupted(script), input{n: int64(stdin.Len()), r: stdin}, false)
}
