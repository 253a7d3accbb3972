package unarchive

import (
	"testing"

	"github.com/isaplay/isaplay/modules/internal/modtest"
)

func TestSchemaExample(t *testing.T) {
	s := Module{}.Schema()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := (Module{}).Validate(modtest.ExampleArgs(t, Name, s)); d.HasErrors() {
		t.Fatalf("example does not validate: %v", d)
	}
}
