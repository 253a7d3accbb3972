package command

import (
	"context"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/testcluster"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/zclconf/go-cty/cty"
)

// TestThroughSSH runs a command on a real sshd node: hostile arguments stay single words,
// stdin carries a secret that never appears in the script, and output is redacted.
func TestThroughSSH(t *testing.T) {
	cl := testcluster.New(t, testcluster.Options{N: 1, Prefix: "cmd"})
	node := cl.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h := engine.NewHost(node.Name, modtest.DialSSH(ctx, t, cl, 0), "run1", ".isaplay", nil)
	h.AddSecret("Svn-Pa55")
	a := engine.NewArgs(Name, map[string]cty.Value{
		"argv":  strs("sh", "-c", `read pw; printf '%s|%s\n' "$1" "$pw"`, "x", "it's $(not) `run`; *"),
		"stdin": cty.StringVal("Svn-Pa55\n"),
	})
	ch, err := Module{}.Check(ctx, h, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Module{}).Apply(ctx, h, ch); err != nil {
		t.Fatal(err)
	}
	if got := ch.Result.GetAttr("stdout").AsString(); got != "it's $(not) `run`; *|(sensitive)\n" {
		t.Fatalf("stdout = %q", got)
	}
}
