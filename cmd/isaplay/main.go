// Command isaplay applies HCL playbooks to hosts over SSH, with an exact dry run and rollback.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
