// Command mkpacks writes the WSO2 packs (from the real reference files, with the stand-in
// server) and stand-in jars that `make demo` installs with playbooks/pattern2.hcl:
//
//	mkpacks -ref ../shared/wso2-reference -repo . -out DIR
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/isaplay/isaplay/cmd/isaplay/pattern2test"
)

func main() {
	ref := flag.String("ref", os.Getenv("ISAPLAY_WSO2_REFERENCE"), "the WSO2 reference files")
	repo := flag.String("repo", ".", "the isaplay checkout")
	out := flag.String("out", "", "output directory (required)")
	flag.Parse()
	if *ref == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mkpacks -ref DIR -repo DIR -out DIR")
		os.Exit(2)
	}
	if err := pattern2test.BuildFiles(*ref, *repo, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkpacks:", err)
		os.Exit(1)
	}
}
