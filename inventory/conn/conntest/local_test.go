package conntest_test

import (
	"os"
	"testing"

	"github.com/isaplay/isaplay/inventory/conn/conntest"
	"github.com/isaplay/isaplay/inventory/local"
)

func TestLocal(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	conntest.Run(t, conntest.Harness{Conn: local.New(), Dir: t.TempDir(), Home: home})
}
