package mariadbtest

import (
	"os"
	"strings"
	"testing"
)

func TestStartStop(t *testing.T) {
	s := Start(t)
	if !strings.Contains(s.Version, "MariaDB") {
		t.Errorf("version %q", s.Version)
	}
	db := s.Admin(t)
	var host string
	if err := db.QueryRow("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', -1)").Scan(&host); err != nil {
		t.Fatal(err)
	}
	if host != "127.0.0.1" {
		t.Errorf("admin logged in as @%s, want @127.0.0.1", host)
	}
	db.Close()
	s.Stop()
	if err := s.Ping(); err != ErrNotRunning {
		t.Errorf("after Stop: %v", err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Stop", s.Dir)
	}
}
