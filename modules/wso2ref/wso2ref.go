// Package wso2ref finds the real, unmodified WSO2 product files that module tests run on, and
// copies them into a test's temporary directory.
package wso2ref

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the reference folder: $ISAPLAY_WSO2_REFERENCE, else the first
// shared/wso2-reference found walking up from the working directory (the repository's sibling
// folder). The test fails when there is none: tests that need the files never skip.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("ISAPLAY_WSO2_REFERENCE"); d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Fatalf("ISAPLAY_WSO2_REFERENCE=%s is not a directory", d)
		}
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "wso2-reference")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Fatalf("WSO2 reference files not found: set ISAPLAY_WSO2_REFERENCE or put them in <repo>/../shared/wso2-reference")
	return ""
}

// Copy copies the reference file rel (relative to Dir) to a new temporary directory, keeping
// its mode, and returns the copy's path and its bytes.
func Copy(t testing.TB, rel string) (string, []byte) {
	t.Helper()
	src := filepath.Join(Dir(t), rel)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(rel))
	if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	return dst, data
}
