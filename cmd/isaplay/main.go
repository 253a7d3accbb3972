// Command isaplay applies HCL playbooks to hosts over SSH, with an exact dry run and rollback.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	// A run on hundreds of hosts holds many small live objects: collecting at 50% growth instead
	// of 100% keeps the process small for a few percent of CPU (GOGC overrides it).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	// A soft heap limit: the collector works harder as the heap nears it, so a run on hundreds
	// of hosts stays under about 100 MB (GOMEMLIMIT overrides it).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(80 << 20)
	}
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
