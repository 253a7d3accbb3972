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

func TestExecAll(t *testing.T) {
	proc := "CREATE PROCEDURE p1()\nBEGIN\n  INSERT INTO t1 VALUES (1);\n  INSERT INTO t1 VALUES (2);\nEND"
	good := []string{
		"CREATE TABLE t1 (id INT) -- a comment on the last line",
		"SELECT 'rows of its own' AS other",
		proc,
		"CALL p1()",
		"/* a block comment */ CREATE TABLE t2 (id INT)",
	}
	bad := []string{"CREATE TABLE t1 (id INT)", "CREATE TABLE t2 (id INT)", "CREATE TABLE t1 (id INT)", "CREATE TABLE t4 (id INT)"}
	for _, tt := range []struct {
		name   string
		batch  int
		stmts  []string
		done   int
		errNum int
		tables string
	}{
		{"one batch", 1 << 20, good, len(good), 0, "t1,t2"},
		{"a batch per statement", 1, good, len(good), 0, "t1,t2"},
		{"failure in one batch", 1 << 20, bad, 2, 1050, "t1,t2"},
		{"failure in a later batch", 1, bad, 2, 1050, "t1,t2"},
		{"failure first", 1 << 20, []string{"CREATE TABLE t1 (", "CREATE TABLE t2 (id INT)"}, 0, 1064, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old := execBatch
			execBatch = tt.batch
			defer func() { execBatch = old }()
			ctx := context.Background()
			h := engine.NewHost("db1", local.New(), "run1", t.TempDir(), nil)
			s, err := Open(ctx, h, params(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			db := "execall_" + strings.ReplaceAll(tt.name, " ", "_")
			for _, q := range []string{"DROP DATABASE IF EXISTS " + db, "CREATE DATABASE " + db, "USE " + db} {
				if err := s.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			defer s.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
			n, err := s.ExecAll(ctx, tt.stmts)
			if n != tt.done || ErrorNumber(err) != tt.errNum {
				t.Fatalf("ExecAll: %d done, %v; want %d done, error number %d", n, err, tt.done, tt.errNum)
			}
			res, err := s.Query(ctx, "SELECT COALESCE(GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME), '') AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = '"+db+"'")
			if err != nil {
				t.Fatal(err)
			}
			if got := res[0].Get(0, "t"); got != tt.tables {
				t.Errorf("tables %q, want %q", got, tt.tables)
			}
			if tt.errNum == 0 {
				res, err := s.Query(ctx, "SELECT COUNT(*) AS n FROM t1")
				if err != nil || res[0].Get(0, "n") != "2" {
					t.Errorf("the procedure's rows: %+v, %v", res, err)
				}
			}
		})
	}
}
