// Command isaplay applies HCL playbooks to hosts over SSH, with an exact dry run and rollback.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
)

func main() {
	// A soft heap limit: the collector works harder as the heap nears it, so a run on hundreds
	// of hosts stays under about 100 MB, while a smaller run collects at Go's default pace
	// (GOGC=50 cost a fifth of a plan's CPU). GOMEMLIMIT overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(80 << 20)
	}
	os.Exit(run())
}

// run is main without os.Exit, so that a CPU profile asked for by ISAPLAY_CPUPROFILE (a file
// name; for benchmarks) is written before the process ends, and a heap profile asked for by
// ISAPLAY_MEMPROFILE after the command.
func run() int {
	if f := os.Getenv("ISAPLAY_MEMPROFILE"); f != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			out, err := os.Create(f)
			if err != nil {
				fmt.Fprintf(os.Stderr, "isaplay: heap profile: %v\n", err)
				return
			}
			defer out.Close()
			pprof.Lookup("allocs").WriteTo(out, 0)
		}()
	}
	if f := os.Getenv("ISAPLAY_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "isaplay: cpu profile: %v\n", err)
			return 1
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			fmt.Fprintf(os.Stderr, "isaplay: cpu profile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	return Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}
