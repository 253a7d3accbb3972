package journal

import (
	"os"
	"strconv"
	"syscall"
)

// killHook returns the test hook that SIGKILLs this process right after the k-th journal line
// when ISAPLAY_TEST_KILL_AFTER_RECORD=k, so tests can prove rollback after a crash at every point.
func killHook() func(int) {
	k, err := strconv.Atoi(os.Getenv("ISAPLAY_TEST_KILL_AFTER_RECORD"))
	if err != nil || k <= 0 {
		return nil
	}
	return func(n int) {
		if n == k {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
