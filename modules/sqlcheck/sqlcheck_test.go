package sqlcheck

import (
	"context"
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/modules/mysqldb/mariadbtest"
	"github.com/zclconf/go-cty/cty"
)

var server *mariadbtest.Server

func TestMain(m *testing.M) { mariadbtest.Main(m, &server) }

func args(query string, extra map[string]cty.Value) *engine.Args {
	v := map[string]cty.Value{
		"host":           cty.StringVal(server.Host),
		"port":           cty.NumberIntVal(int64(server.Port)),
		"login_user":     cty.StringVal(server.AdminUser),
		"login_password": cty.StringVal(server.AdminPassword),
		"query":          cty.StringVal(query),
	}
	for k, x := range extra {
		v[k] = x
	}
	return engine.NewArgs(Name, v)
}

func newHost(t *testing.T) *engine.Host {
	return engine.NewHost("db1", local.New(), "run1", t.TempDir(), nil)
}

func TestSQLCheck(t *testing.T) {
	admin := server.Admin(t)
	for _, q := range []string{"CREATE DATABASE chk", "CREATE TABLE chk.a (x INT)", "CREATE TABLE chk.b (x INT)"} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	count := "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'chk';"
	ctx := context.Background()
	m := Module{}
	var outputs []string
	keep := func(c *engine.Change, err error) {
		if c != nil {
			outputs = append(outputs, c.Summary, c.Unknown)
			outputs = append(outputs, c.Details...)
		}
		if err != nil {
			outputs = append(outputs, err.Error())
		}
	}

	// As expected: in sync, with the value as the result.
	c, err := m.Check(ctx, newHost(t).Planning(), args(count, map[string]cty.Value{"expect": cty.StringVal("2")}))
	keep(c, err)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionNone || c.Result.GetAttr("value").AsString() != "2" {
		t.Errorf("check: %s %q result %#v", c.Action, c.Summary, c.Result)
	}

	// Not yet as expected while planning: checked again at apply, value unknown.
	c, err = m.Check(ctx, newHost(t).Planning(), args(count, map[string]cty.Value{"expect": cty.StringVal("3")}))
	keep(c, err)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionRun || c.Unknown == "" || c.Result.IsKnown() || !strings.Contains(c.Summary, `now "2"`) {
		t.Errorf("plan with a different value: %s %q %q %#v", c.Action, c.Summary, c.Unknown, c.Result)
	}
	// An earlier task makes it true; Apply checks again and passes.
	if _, err := admin.Exec("CREATE TABLE chk.c (x INT)"); err != nil {
		t.Fatal(err)
	}
	h := newHost(t)
	if err := m.Apply(ctx, h, c); err != nil {
		t.Errorf("apply after the value became right: %v", err)
	}
	if c.Result.GetAttr("value").AsString() != "3" {
		t.Errorf("result after apply %#v", c.Result)
	}

	// Applying with a wrong value fails with both values named.
	_, err = m.Check(ctx, h, args(count, map[string]cty.Value{"expect": cty.StringVal("40")}))
	keep(nil, err)
	if err == nil || !strings.Contains(err.Error(), `returned "3", expected "40"`) {
		t.Errorf("wrong value: %v", err)
	}
	// No row.
	_, err = m.Check(ctx, h, args("SELECT 1 FROM DUAL WHERE 1 = 0", map[string]cty.Value{"expect": cty.StringVal("1")}))
	if err == nil || !strings.Contains(err.Error(), "returned no row") {
		t.Errorf("no row: %v", err)
	}
	// A default database, no expectation.
	c, err = m.Check(ctx, h, args("SELECT COUNT(*) FROM a", map[string]cty.Value{"database": cty.StringVal("chk")}))
	keep(c, err)
	if err != nil || c.Action != engine.ActionNone || c.Result.GetAttr("value").AsString() != "0" {
		t.Errorf("database: %v %+v", err, c)
	}
	for _, o := range outputs {
		if strings.Contains(o, server.AdminPassword) {
			t.Errorf("password in output %q", o)
		}
	}
}

func TestSQLCheckRefusesWrites(t *testing.T) {
	admin := server.Admin(t)
	if _, err := admin.Exec("CREATE DATABASE keep"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DROP DATABASE keep",
		"SELECT 1; DROP DATABASE keep",
		"SELECT 1 INTO @x",
		"select 1 -- ; drop database keep\n; DROP DATABASE keep",
	} {
		_, err := Module{}.Check(context.Background(), newHost(t), args(q, nil))
		if err == nil {
			t.Errorf("query %q was accepted", q)
		}
	}
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'keep'").Scan(&n); err != nil || n != 1 {
		t.Errorf("database keep: %d %v", n, err)
	}
}

func TestSchemaIsValid(t *testing.T) {
	if err := (Module{}).Schema().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	for q, ok := range map[string]bool{
		"SELECT COUNT(*) FROM t": true, "show tables;": true, "(SELECT 1)": true,
		"DELETE FROM t": false, "SELECT 1; SELECT 2": false, "": false, "SELECT 'open": false,
	} {
		diags := Module{}.Validate(engine.NewArgs(Name, map[string]cty.Value{"query": cty.StringVal(q)}))
		if diags.HasErrors() == ok {
			t.Errorf("Validate(%q): %v", q, diags)
		}
	}
}
