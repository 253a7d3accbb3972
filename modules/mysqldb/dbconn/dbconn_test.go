package dbconn

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/modules/mysqldb/mariadbtest"
	"github.com/zclconf/go-cty/cty"
)

var server *mariadbtest.Server

func TestMain(m *testing.M) { mariadbtest.Main(m, &server) }

// dialCounter is the local connection with its Dial counted: the SSH connection's Dial is what
// reaches a server on a remote host's loopback.
type dialCounter struct {
	*local.Conn
	dials atomic.Int64
	addrs []string
}

func (d *dialCounter) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.dials.Add(1)
	d.addrs = append(d.addrs, network+" "+addr)
	return d.Conn.Dial(ctx, network, addr)
}

func params(t *testing.T, extra map[string]cty.Value) Params {
	v := map[string]cty.Value{
		"host": cty.StringVal(server.Host), "port": cty.NumberIntVal(int64(server.Port)),
		"login_user": cty.StringVal(server.AdminUser), "login_password": cty.StringVal(server.AdminPassword),
	}
	for k, x := range extra {
		v[k] = x
	}
	p, err := FromArgs(engine.NewArgs("mysql_db", v))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDialsThroughTheHost(t *testing.T) {
	for _, tt := range []struct {
		connect string
		dials   int64
	}{{"host", 1}, {"direct", 0}} {
		t.Run(tt.connect, func(t *testing.T) {
			dc := &dialCounter{Conn: local.New()}
			h := engine.NewHost("db1", dc, "run1", t.TempDir(), nil)
			s, err := Open(context.Background(), h, params(t, map[string]cty.Value{"connect": cty.StringVal(tt.connect)}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			res, err := s.Query(context.Background(), "SELECT 1 AS one", "SELECT 2 AS two")
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 2 || res[0].Get(0, "one") != "1" || res[1].Get(0, "two") != "2" {
				t.Errorf("batch results %+v", res)
			}
			if got := dc.dials.Load(); got != tt.dials {
				t.Errorf("connect = %s: %d dials through the host (%v), want %d", tt.connect, got, dc.addrs, tt.dials)
			}
			if tt.dials == 1 && dc.addrs[0] != "tcp "+server.Addr() {
				t.Errorf("dialled %v", dc.addrs)
			}
		})
	}
}

func TestErrorsAreRedacted(t *testing.T) {
	h := engine.NewHost("db1", local.New(), "run1", t.TempDir(), nil)
	s, err := Open(context.Background(), h, params(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h.AddSecret("Sekr3t-Value")
	err = s.Exec(context.Background(), "SELEC 'Sekr3t-Value'")
	if err == nil || strings.Contains(err.Error(), "Sekr3t-Value") || !strings.Contains(err.Error(), engine.Mask) {
		t.Errorf("error %v", err)
	}
	if ErrorNumber(err) != 1064 {
		t.Errorf("error number %d, want 1064", ErrorNumber(err))
	}
	if errors.Unwrap(err) != nil {
		t.Errorf("the unredacted cause is reachable")
	}
}

func TestFromArgsErrors(t *testing.T) {
	for _, v := range []map[string]cty.Value{
		{"port": cty.NumberIntVal(0)},
		{"connect": cty.StringVal("ssh")},
	} {
		if _, err := FromArgs(engine.NewArgs("mysql_db", v)); err == nil {
			t.Errorf("FromArgs(%v): no error", v)
		}
	}
	p, err := FromArgs(engine.NewArgs("mysql_db", nil))
	if err != nil || p.Host != "127.0.0.1" || p.Port != 3306 || p.User != "root" || p.Direct {
		t.Errorf("defaults %+v %v", p, err)
	}
}
