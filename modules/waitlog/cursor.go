package waitlog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/isaplay/isaplay/inventory/conn"
)

// Cursor is a position in a log file: the file's inode and a byte offset in it. Inode 0 means
// the file did not exist, so everything in whatever file appears there is new.
type Cursor struct {
	Inode  uint64
	Offset int64
}

// String formats the cursor as "inode:offset", the form tasks pass along in results.
func (c Cursor) String() string { return fmt.Sprintf("%d:%d", c.Inode, c.Offset) }

// ParseCursor reads an "inode:offset" cursor.
func ParseCursor(s string) (Cursor, error) {
	ino, off, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Cursor{}, fmt.Errorf("log cursor %q is not inode:offset", s)
	}
	i, err1 := strconv.ParseUint(ino, 10, 64)
	o, err2 := strconv.ParseInt(off, 10, 64)
	if err1 != nil || err2 != nil || o < 0 {
		return Cursor{}, fmt.Errorf("log cursor %q is not inode:offset", s)
	}
	return Cursor{Inode: i, Offset: o}, nil
}

// CursorScript returns a shell snippet that prints the current end of the file at path as a
// cursor line "cursor inode:size" ("cursor 0:0" when it does not exist). Symlinks are followed.
func CursorScript(path string) string {
	q := conn.Quote(path)
	return "if [ -e " + q + " ]; then printf 'cursor '; stat -L -c '%i:%s' -- " + q + "; else echo 'cursor 0:0'; fi"
}

// CursorFromOutput finds the "cursor inode:size" line CursorScript printed in out.
func CursorFromOutput(out string) (Cursor, error) {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cursor "); ok {
			return ParseCursor(rest)
		}
	}
	return Cursor{}, fmt.Errorf("no log cursor in output %q", out)
}

// followScript returns the script that streams every byte written to path after c, on one
// session. The caller cancels it when done. `timeout --foreground` stays in the command's
// process group, so a connection that kills the group on cancel ends tail too; tail also
// watches the pid of `timeout` (the shell exec's into it), so killing just that process ends
// it; and `timeout` is the backstop when a remote session is dropped without a signal. When the
// file was rotated since c (its inode changed), the rest of the rotated file is sent first when
// a sibling path.* or path-* still has the old inode; the new file is then read from its
// start. A file shorter than the cursor was truncated and is read from its start. tail -F
// follows later rotations by name.
func followScript(path string, c Cursor, backstopSec int) string {
	q := conn.Quote(path)
	return "p=" + q + "; ino=" + strconv.FormatUint(c.Inode, 10) + "; off=" + strconv.FormatInt(c.Offset, 10) + "\n" +
		`cur=$(stat -L -c %i -- "$p" 2>/dev/null)
if [ "$ino" = 0 ]; then
  off=0
elif [ -n "$cur" ] && [ "$cur" != "$ino" ]; then
  for f in "$p".* "$p"-*; do
    if [ -f "$f" ] && [ "$(stat -L -c %i -- "$f" 2>/dev/null)" = "$ino" ]; then
      tail -c +$((off + 1)) -- "$f"
      break
    fi
  done
  off=0
elif [ -n "$cur" ] && [ "$(stat -L -c %s -- "$p")" -lt "$off" ]; then
  off=0
fi
exec timeout --foreground ` + strconv.Itoa(backstopSec) + ` tail -s 0.1 -c +$((off + 1)) -F --pid=$$ -- "$p"
`
}
