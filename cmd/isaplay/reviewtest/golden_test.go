package reviewtest

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// normalise replaces what differs between runs: the test's directories, node and service
// addresses and ports, the MariaDB version, and the plan hash, change digests and fingerprints
// (digests of bytes holding all of them).
func (e *env) normalise(s string) string {
	r := []string{e.Dir, "<DIR>", e.SvnURL, "<SVN_URL>", e.Repo, "<REPO>"}
	for _, n := range e.Cluster.Nodes {
		r = append(r, n.Address, "<"+n.Name+"-addr>")
	}
	s = strings.NewReplacer(r...).Replace(s)
	s = strings.ReplaceAll(s, e.DB.AdminUser, "<DB_ADMIN>")
	s = regexp.MustCompile(regexp.QuoteMeta(e.DB.Host)+`([:"/ ,]|\\")`).ReplaceAllString(s, "<DB_HOST>$1")
	s = regexp.MustCompile(`\b`+strconv.Itoa(e.DB.Port)+`\b`).ReplaceAllString(s, "<DB_PORT>")
	s = regexp.MustCompile(`MariaDB \d+\.\d+\.\d+`).ReplaceAllString(s, "MariaDB <VERSION>")
	// Digests and fingerprints hash bytes that hold the addresses, ports and secrets above.
	s = regexp.MustCompile(`"(digest|fingerprint)": "[0-9a-f]{64}"`).ReplaceAllString(s, `"$1": "<SHA256>"`)
	hash := regexp.MustCompile(`(?i)(plan[ _-]?hash[^0-9a-f]{0,40})[0-9a-f]{64}`)
	return hash.ReplaceAllString(s, "${1}<PLAN_HASH>")
}

// TestGoldenPlan plans playbooks/pattern2.hcl on five real nodes with the real WSO2 files in
// text, markdown and json and compares each, normalised, with testdata/pattern2-plan.*.
// No format may show the canary secret.
func TestGoldenPlan(t *testing.T) {
	e := setup(t, t.TempDir(), "")
	for _, f := range []struct{ format, file string }{
		{"text", "pattern2-plan.txt"},
		{"markdown", "pattern2-plan.md"},
		{"json", "pattern2-plan.json"},
	} {
		t.Run(f.format, func(t *testing.T) {
			r := e.must(t, "plan", "--format", f.format)
			for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
				if strings.Contains(out, canary) {
					t.Errorf("%s plan %s shows the canary", f.format, name)
				}
			}
			got := e.normalise(r.stdout)
			golden := filepath.Join("testdata", f.file)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s plan differs from %s (run with -update after checking):\n%s", f.format, golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + c + "\n")
			if shown++; shown == 10 {
				break
			}
		}
	}
	return b.String()
}
