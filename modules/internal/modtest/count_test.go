package modtest

import (
	"context"
	"testing"
)

func TestCountingCountsThroughHost(t *testing.T) {
	h := Host(t)
	p := h.Planning()
	if _, err := p.Stat(context.Background(), []string{"/", "/tmp"}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.ReadFile(context.Background(), "/etc/hostname"); err != nil {
		t.Fatal(err)
	}
	if n := h.Conn().(*Counting).Trips(); n != 2 {
		t.Fatalf("trips %d, want 2", n)
	}
}
