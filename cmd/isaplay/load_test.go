package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
)

// Loading for a run opens the connections to the hosts its plays name literally, within --limit
// and not with --tags; the other hosts are left to the run.
func TestLoadOpensEarly(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "hosts.hcl")
	pb := filepath.Join(dir, "pb.hcl")
	for path, text := range map[string]string{
		inv: "host \"a\" {\n  connection = \"local\"\n  groups     = [\"app\"]\n}\nhost \"b\" {\n  connection = \"local\"\n  groups     = [\"other\"]\n}\n",
		pb:  "play \"p\" {\n  hosts = \"app\"\n}\nplay \"q\" {\n  hosts = var.none ? [\"other\"] : []\n}\nvariable \"none\" {\n  type    = bool\n  default = false\n}\n",
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name        string
		limit, tags []string
		want        int64
	}{
		{"literal play hosts", nil, nil, 1},
		{"limit leaves them out", []string{"b"}, nil, 0},
		{"tags", nil, []string{"x"}, 0},
	} {
		g := &globals{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, parser: hclparse.NewParser(),
			redactor: engine.NewRedactor(), inventory: inv, limit: tc.limit, tags: tc.tags}
		conns := g.conns()
		if _, err := g.load(context.Background(), pb, false, conns); err != nil {
			t.Fatalf("%s: load: %v", tc.name, err)
		}
		conns.Close() // waits for the connections being opened
		if got := conns.Dials.Load(); got != tc.want {
			t.Errorf("%s: %d connections opened while loading, want %d", tc.name, got, tc.want)
		}
	}
}
