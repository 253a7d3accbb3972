package mysqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/modules/internal/modtest"
	"github.com/isaplay/isaplay/modules/mysqldb/dbconn"
	"github.com/isaplay/isaplay/modules/mysqldb/mariadbtest"
	"github.com/isaplay/isaplay/modules/wso2ref"
	"github.com/zclconf/go-cty/cty"
)

// server is the private MariaDB every test of this package uses.
var server *mariadbtest.Server

func TestMain(m *testing.M) { mariadbtest.Main(m, &server) }

func newHost(t *testing.T) *engine.Host {
	return engine.NewHost("db1", local.New(), "run1", t.TempDir(), nil)
}

// conn returns the connection arguments plus extra values.
func conn(extra map[string]cty.Value) map[string]cty.Value {
	v := map[string]cty.Value{
		"host":           cty.StringVal(server.Host),
		"port":           cty.NumberIntVal(int64(server.Port)),
		"login_user":     cty.StringVal(server.AdminUser),
		"login_password": cty.StringVal(server.AdminPassword),
	}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

func database(name, charset string) *engine.Args {
	v := map[string]cty.Value{"name": cty.StringVal(name)}
	if charset != "" {
		v["charset"] = cty.StringVal(charset)
	}
	return engine.NewArgs("database", v)
}

func strs(list ...string) cty.Value {
	vals := make([]cty.Value, len(list))
	for i, s := range list {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

func user(name, password string, hosts []string, grants ...string) *engine.Args {
	v := map[string]cty.Value{"name": cty.StringVal(name), "hosts": strs(hosts...)}
	if password != "" {
		v["password"] = cty.StringVal(password)
	}
	if len(grants) > 0 {
		v["grants"] = strs(grants...)
	}
	return engine.NewArgs("user", v)
}

func schema(db, script string, extra map[string]cty.Value) *engine.Args {
	v := map[string]cty.Value{"database": cty.StringVal(db), "script": cty.StringVal(script)}
	for k, x := range extra {
		v[k] = x
	}
	return engine.NewArgs("schema", v)
}

// recorder counts the statements sent through dbconn and keeps every output for the leak check.
type recorder struct {
	mu    sync.Mutex
	stmts []string
	out   []string
}

func (r *recorder) ctx() context.Context {
	return dbconn.WithObserver(context.Background(), func(s string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.stmts = append(r.stmts, s)
		r.out = append(r.out, s)
	})
}

func (r *recorder) reset() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stmts
	r.stmts = nil
	return s
}

func (r *recorder) change(c *engine.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, c.Summary, c.Diff, c.Unknown, string(c.Undo.Data))
	r.out = append(r.out, c.Details...)
	r.out = append(r.out, c.Risks...)
}

func (r *recorder) err(err error) {
	if err != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.out = append(r.out, err.Error())
	}
}

// leaks fails when any secret appears in anything recorded.
func (r *recorder) leaks(t *testing.T, secrets ...string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.out {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("secret %q appears in output %q", s, o)
			}
		}
	}
}

func query(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	return out
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func schemaExists(t *testing.T, db *sql.DB, name string) bool {
	return len(query(t, db, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name)) == 1
}

func userExists(t *testing.T, db *sql.DB, name, host string) bool {
	return len(query(t, db, "SELECT User FROM mysql.user WHERE User = ? AND Host = ?", name, host)) == 1
}

// TestWSO2PatternDatabases runs Phase A of pattern 2 on a real server: four databases, users
// per node IP with grants, and the real WSO2 scripts loaded into userdb and regdb.
func TestWSO2PatternDatabases(t *testing.T) {
	ref := wso2ref.Dir(t)
	admin := server.Admin(t)
	const anPass = `s3cr'et\pa"ss;--`
	const isPass = "Is-Pass-4242"
	// Something that exists before the run and must survive its undo.
	exec(t, admin, "CREATE DATABASE keepme CHARACTER SET latin1", "CREATE USER 'keeper'@'10.0.0.11' IDENTIFIED BY 'x'")
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS keepme", "DROP USER IF EXISTS 'keeper'@'10.0.0.11'") })

	dbs := []string{"userdb", "regdb", "WSO2_ANALYTICS_EVENT_STORE_DB", "WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB"}
	var grants []string
	for _, d := range dbs {
		grants = append(grants, "ALL ON "+d+".*")
	}
	args := engine.NewArgs(Name, conn(nil),
		database("userdb", "latin1"), database("regdb", "latin1"),
		database("WSO2_ANALYTICS_EVENT_STORE_DB", ""), database("WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB", ""),
		database("keepme", "latin1"),
		user("wso2an", anPass, []string{"10.0.0.11", "10.0.0.12"}, grants...),
		user("wso2is", isPass, []string{"127.0.0.1"}, "SELECT, INSERT ON userdb.*"),
		user("keeper", "", []string{"10.0.0.11"}, "SELECT ON regdb.*"),
		schema("userdb", filepath.Join(ref, "dbscripts", "mysql.sql"), nil),
		engine.NewArgs("schema", map[string]cty.Value{"database": cty.StringVal("regdb"), "script_host_path": cty.StringVal(filepath.Join(ref, "dbscripts", "mysql5.7.sql"))}),
	)
	rec := &recorder{}
	ctx := rec.ctx()
	h := newHost(t)
	m := Module{}

	// Plan: read-only, shows the SQL.
	plan, err := m.Check(ctx, h.Planning(), args)
	rec.err(err)
	if err != nil {
		t.Fatal(err)
	}
	rec.change(plan)
	for _, s := range rec.reset() {
		if !strings.HasPrefix(s, "SELECT") {
			t.Errorf("plan sent a statement that is not a SELECT: %s", s)
		}
	}
	if plan.Action != engine.ActionCreate {
		t.Errorf("plan action %s", plan.Action)
	}
	t.Logf("plan: %s %s; risks %v", plan.Action, plan.Summary, plan.Risks)
	details := strings.Join(plan.Details, "\n")
	for _, want := range []string{
		"CREATE DATABASE `userdb` CHARACTER SET latin1;",
		"CREATE DATABASE `WSO2_ANALYTICS_EVENT_STORE_DB`;",
		"CREATE USER 'wso2an'@'10.0.0.11' IDENTIFIED BY '(sensitive)';",
		"GRANT ALL PRIVILEGES ON `WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB`.* TO 'wso2an'@'10.0.0.12';",
		"GRANT SELECT, INSERT ON `userdb`.* TO 'wso2is'@'127.0.0.1';",
		"GRANT SELECT ON `regdb`.* TO 'keeper'@'10.0.0.11';",
		"into `userdb`: creates 40 tables",
		"into `regdb`: creates 40 tables",
	} {
		if !strings.Contains(details, want) {
			t.Errorf("plan details lack %q:\n%s", want, details)
		}
	}
	if strings.Contains(details, "CREATE DATABASE `keepme`") {
		t.Errorf("plan creates a database that exists:\n%s", details)
	}
	if schemaExists(t, admin, "userdb") || userExists(t, admin, "wso2an", "10.0.0.11") {
		t.Fatal("planning created something")
	}

	// Apply.
	c, err := m.Check(ctx, h, args)
	rec.err(err)
	if err != nil {
		t.Fatal(err)
	}
	rec.change(c)
	if c.Fingerprint != plan.Fingerprint {
		t.Errorf("fingerprint changed between plan and apply with no change on the server")
	}
	err = m.Apply(ctx, h, c)
	rec.err(err)
	if err != nil {
		t.Fatal(err)
	}
	applied := rec.reset()
	t.Logf("first run sent %d statements", len(applied))

	// 40 tables, 17 REG_* and 23 UM_*, latin1, in both databases.
	for _, db := range []string{"userdb", "regdb"} {
		tables := query(t, admin, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", db)
		reg, um := 0, 0
		for _, tb := range tables {
			if strings.HasPrefix(tb, "REG_") {
				reg++
			}
			if strings.HasPrefix(tb, "UM_") {
				um++
			}
		}
		if len(tables) != 40 || reg != 17 || um != 23 {
			t.Errorf("%s: %d tables (%d REG_, %d UM_), want 40 (17, 23)", db, len(tables), reg, um)
		}
		cs := query(t, admin, "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db)
		if len(cs) != 1 || cs[0] != "latin1" {
			t.Errorf("%s charset %v, want latin1", db, cs)
		}
		tcs := query(t, admin, "SELECT DISTINCT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", db)
		if len(tcs) != 1 || !strings.HasPrefix(tcs[0], "latin1_") {
			t.Errorf("%s table collations %v, want latin1_*", db, tcs)
		}
	}
	// Grants as SHOW GRANTS reports them, for each node IP.
	for _, ip := range []string{"10.0.0.11", "10.0.0.12"} {
		got := strings.Join(query(t, admin, fmt.Sprintf("SHOW GRANTS FOR 'wso2an'@'%s'", ip)), "\n")
		for _, d := range dbs {
			want := fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s`.* TO `wso2an`@`%s`", d, ip)
			if !strings.Contains(got, want) {
				t.Errorf("SHOW GRANTS for %s lacks %q:\n%s", ip, want, got)
			}
		}
	}
	// The created user logs in with its password and sees the schema.
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName = "wso2is", isPass, server.Addr(), "userdb"
	cn, _ := mysql.NewConnector(cfg)
	asIS := sql.OpenDB(cn)
	defer asIS.Close()
	if n := query(t, asIS, "SELECT COUNT(*) FROM UM_TENANT"); len(n) != 1 || n[0] != "0" {
		t.Errorf("wso2is reading userdb.UM_TENANT: %v", n)
	}

	// Idempotency: in sync, only SELECTs, and Apply sends nothing.
	again, err := m.Check(ctx, h, args)
	rec.err(err)
	if err != nil {
		t.Fatal(err)
	}
	rec.change(again)
	if again.Action != engine.ActionNone {
		t.Errorf("second check: %s %q\n%s", again.Action, again.Summary, strings.Join(again.Details, "\n"))
	}
	reads := rec.reset()
	for _, s := range reads {
		if !strings.HasPrefix(s, "SELECT") {
			t.Errorf("second check sent %s", s)
		}
	}
	if err := m.Apply(ctx, h, again); err != nil {
		t.Fatal(err)
	}
	if sent := rec.reset(); len(sent) != 0 {
		t.Errorf("second apply sent %d statements: %v", len(sent), sent)
	}
	t.Logf("second check: %s %q, %d SELECTs in one batch\n%s", again.Action, again.Summary, len(reads), strings.Join(again.Details, "\n"))

	// Undo: drops exactly what was created.
	if err := m.CheckRevert(ctx, h, c.Undo); err != nil {
		var d *engine.DriftError
		errors.As(err, &d)
		t.Errorf("CheckRevert right after the run: %v %+v", err, d)
	}
	for i := 0; i < 2; i++ { // idempotent
		err := m.Revert(ctx, h, c.Undo)
		rec.err(err)
		if err != nil {
			t.Fatalf("revert %d: %v", i+1, err)
		}
	}
	for _, d := range dbs {
		if schemaExists(t, admin, d) {
			t.Errorf("database %s survived the revert", d)
		}
	}
	for _, a := range [][2]string{{"wso2an", "10.0.0.11"}, {"wso2an", "10.0.0.12"}, {"wso2is", "127.0.0.1"}} {
		if userExists(t, admin, a[0], a[1]) {
			t.Errorf("user %s@%s survived the revert", a[0], a[1])
		}
	}
	if !schemaExists(t, admin, "keepme") || !userExists(t, admin, "keeper", "10.0.0.11") {
		t.Errorf("revert removed something that existed before the run")
	}
	if g := strings.Join(query(t, admin, "SHOW GRANTS FOR 'keeper'@'10.0.0.11'"), "\n"); strings.Contains(g, "regdb") {
		t.Errorf("grant added to a pre-existing user survived the revert: %s", g)
	}
	// The escaped form sent inside SQL must not leak either: its tail is the same in both.
	rec.leaks(t, anPass, `s3cr''et\\pa"ss`, `pa"ss;--`, isPass, server.AdminPassword)
}

func TestHalfLoadedSchema(t *testing.T) {
	admin := server.Admin(t)
	exec(t, admin, "CREATE DATABASE half", "CREATE TABLE half.UM_TENANT (a INT)", "CREATE TABLE half.REG_LOG (a INT)")
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS half") })
	args := engine.NewArgs(Name, conn(nil), schema("half", filepath.Join(wso2ref.Dir(t), "dbscripts", "mysql.sql"), nil))
	_, err := Module{}.Check(context.Background(), newHost(t).Planning(), args)
	if err == nil {
		t.Fatal("no error for a half-loaded schema")
	}
	for _, want := range []string{"half-loaded schema", "present REG_LOG, UM_TENANT", "missing REG_ASSOCIATION", "and 28 more"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestWrongAdminPassword(t *testing.T) {
	admin := server.Admin(t)
	const wrong = "Wrong-Password-777"
	rec := &recorder{}
	args := engine.NewArgs(Name, conn(map[string]cty.Value{"login_password": cty.StringVal(wrong)}),
		database("never", "latin1"), user("nobody", "Nobody-Pass-1", []string{"10.0.0.9"}))
	for _, h := range []*engine.Host{newHost(t).Planning(), newHost(t)} {
		_, err := Module{}.Check(rec.ctx(), h, args)
		rec.err(err)
		if err == nil || !strings.Contains(err.Error(), "Access denied for user '"+server.AdminUser+"'") || !strings.Contains(err.Error(), server.Addr()) {
			t.Errorf("error %v: want access denied naming the server", err)
		}
		if dbconn.ErrorNumber(err) != 1045 {
			t.Errorf("error number %d, want 1045", dbconn.ErrorNumber(err))
		}
	}
	if schemaExists(t, admin, "never") || userExists(t, admin, "nobody", "10.0.0.9") {
		t.Error("something was created with a wrong admin password")
	}
	rec.leaks(t, wrong, "Nobody-Pass-1")
}

func TestCharsetMismatchIsAnError(t *testing.T) {
	admin := server.Admin(t)
	exec(t, admin, "CREATE DATABASE utf CHARACTER SET utf8mb4")
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS utf") })
	_, err := Module{}.Check(context.Background(), newHost(t), engine.NewArgs(Name, conn(nil), database("utf", "latin1")))
	if err == nil || !strings.Contains(err.Error(), "exists with character set utf8mb4, not latin1") {
		t.Errorf("error %v", err)
	}
}

func TestPasswordChange(t *testing.T) {
	admin := server.Admin(t)
	exec(t, admin, "CREATE USER 'pwuser'@'127.0.0.1' IDENTIFIED BY 'Old-Pass-1'")
	t.Cleanup(func() { exec(t, admin, "DROP USER IF EXISTS 'pwuser'@'127.0.0.1'") })
	rec := &recorder{}
	ctx := rec.ctx()
	h := newHost(t)
	onCreate := engine.NewArgs(Name, conn(nil), user("pwuser", "New-Pass-2", []string{"127.0.0.1"}))
	c, err := Module{}.Check(ctx, h, onCreate)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionNone {
		t.Errorf("update_password = on_create: %s %q", c.Action, c.Summary)
	}
	ub := user("pwuser", "New-Pass-2", []string{"127.0.0.1"})
	always := engine.NewArgs(Name, conn(nil), engine.NewArgs("user", map[string]cty.Value{
		"name": cty.StringVal("pwuser"), "hosts": strs("127.0.0.1"), "password": cty.StringVal("New-Pass-2"), "update_password": cty.StringVal("always"),
	}))
	_ = ub
	c, err = Module{}.Check(ctx, h, always)
	if err != nil {
		t.Fatal(err)
	}
	rec.change(c)
	if c.Action != engine.ActionUpdate || !strings.Contains(c.Summary, "change 1 password") || c.Unknown != "" {
		t.Errorf("change: %s %q unknown %q", c.Action, c.Summary, c.Unknown)
	}
	if want := "ALTER USER 'pwuser'@'127.0.0.1' IDENTIFIED BY '(sensitive)';"; len(c.Details) == 0 || c.Details[0] != want {
		t.Errorf("details %q, want %q", c.Details, want)
	}
	if err := (Module{}).Apply(ctx, h, c); err != nil {
		t.Fatal(err)
	}
	got := query(t, admin, "SELECT authentication_string FROM mysql.user WHERE User = 'pwuser'")
	if len(got) != 1 || got[0] != nativeHash("New-Pass-2") {
		t.Errorf("hash after apply %v", got)
	}
	c, err = Module{}.Check(ctx, h, always)
	if err != nil || c.Action != engine.ActionNone {
		t.Errorf("after the change: %v %v", c, err)
	}
	rec.leaks(t, "New-Pass-2", "Old-Pass-1")
}

func TestLedger(t *testing.T) {
	admin := server.Admin(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "app.sql")
	body := "-- app schema\nCREATE TABLE a (id INT PRIMARY KEY);\nCREATE TABLE b (id INT);\nINSERT INTO a VALUES (1);\n"
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS ledgered") })
	args := engine.NewArgs(Name, conn(nil), database("ledgered", ""), schema("ledgered", script, map[string]cty.Value{"ledger": cty.True}))
	h := newHost(t)
	m := Module{}
	c := modtest.Apply(t, h, m, args)
	rows := query(t, admin, "SELECT CONCAT(script, ' ', sha256) FROM ledgered.isaplay_ledger")
	if len(rows) != 1 || rows[0] != script+" "+engine.SHA256([]byte(body)) {
		t.Errorf("ledger rows %v", rows)
	}
	again, err := m.Check(context.Background(), h, args)
	if err != nil {
		t.Fatal(err)
	}
	if again.Action != engine.ActionNone || !strings.Contains(strings.Join(again.Details, "\n"), "already loaded on") {
		t.Errorf("second check: %s %q %q", again.Action, again.Summary, again.Details)
	}
	if err := os.WriteFile(script, []byte(body+"CREATE TABLE c (id INT);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = m.Check(context.Background(), h, args)
	if err == nil || !strings.Contains(err.Error(), "script changed since it was loaded") {
		t.Errorf("changed script: %v", err)
	}
	// The script and the ledger wrote rows: that is not drift.
	if err := m.CheckRevert(context.Background(), h, c.Undo); err != nil {
		t.Errorf("CheckRevert: %v", err)
	}
}

func TestRevertRefusesAUsedDatabase(t *testing.T) {
	admin := server.Admin(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "s.sql")
	if err := os.WriteFile(script, []byte("CREATE TABLE t1 (id INT);\nCREATE TABLE t2 (id INT);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS used") })
	args := engine.NewArgs(Name, conn(nil), database("used", "latin1"), schema("used", script, nil))
	h := newHost(t)
	m := Module{}
	c := modtest.Apply(t, h, m, args)
	exec(t, admin, "INSERT INTO used.t1 VALUES (1)", "CREATE TABLE used.extra (x INT)")
	err := m.CheckRevert(context.Background(), h, c.Undo)
	var drift *engine.DriftError
	if !errors.As(err, &drift) {
		t.Fatalf("CheckRevert: %v, want a DriftError", err)
	}
	if !strings.Contains(drift.Diff, "gained tables extra") || !strings.Contains(drift.Diff, "has rows in t1") {
		t.Errorf("drift %q", drift.Diff)
	}
	// Forced (the engine calls Revert after --force): dropped.
	if err := m.Revert(context.Background(), h, c.Undo); err != nil {
		t.Fatal(err)
	}
	if schemaExists(t, admin, "used") {
		t.Error("forced revert left the database")
	}
}

func TestLoadStopsAtFirstErrorWithLine(t *testing.T) {
	admin := server.Admin(t)
	script := filepath.Join(t.TempDir(), "bad.sql")
	body := "CREATE TABLE ok1 (id INT);\n\n-- next one is wrong\nCREATE TABLE bad (\n  id INTEGR\n);\nCREATE TABLE never (id INT);\n"
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS broken") })
	args := engine.NewArgs(Name, conn(nil), database("broken", ""), schema("broken", script, nil))
	h := newHost(t)
	c, err := Module{}.Check(context.Background(), h, args)
	if err != nil {
		t.Fatal(err)
	}
	err = Module{}.Apply(context.Background(), h, c)
	if err == nil || !strings.Contains(err.Error(), "statement 2 of 3 at line 4") {
		t.Fatalf("error %v", err)
	}
	tables := query(t, admin, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'broken'")
	if strings.Join(tables, ",") != "ok1" {
		t.Errorf("tables after the failed load: %v", tables)
	}
	// Reverting a half-done apply drops what it made.
	if err := (Module{}).Revert(context.Background(), h, c.Undo); err != nil {
		t.Fatal(err)
	}
	if schemaExists(t, admin, "broken") {
		t.Error("revert left the database")
	}
}

func TestGrantAddsOnlyWhatIsMissing(t *testing.T) {
	admin := server.Admin(t)
	exec(t, admin, "CREATE DATABASE gdb", "CREATE USER 'guser'@'10.1.1.1' IDENTIFIED BY 'x'", "GRANT SELECT ON gdb.* TO 'guser'@'10.1.1.1'")
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS gdb", "DROP USER IF EXISTS 'guser'@'10.1.1.1'") })
	args := engine.NewArgs(Name, conn(nil), user("guser", "", []string{"10.1.1.1"}, "ALL ON gdb.*"))
	h := newHost(t)
	m := Module{}
	c, err := m.Check(context.Background(), h, args)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Details) != 1 || strings.Contains(c.Details[0], "SELECT,") || !strings.HasPrefix(c.Details[0], "GRANT ALTER, ") {
		t.Errorf("details %q", c.Details)
	}
	if err := m.Apply(context.Background(), h, c); err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(query(t, admin, "SHOW GRANTS FOR 'guser'@'10.1.1.1'"), "\n"); !strings.Contains(g, "GRANT ALL PRIVILEGES ON `gdb`.*") {
		t.Errorf("grants after apply: %s", g)
	}
	if again, _ := m.Check(context.Background(), h, args); again == nil || again.Action != engine.ActionNone {
		t.Errorf("second check not in sync: %+v", again)
	}
	if err := m.Revert(context.Background(), h, c.Undo); err != nil {
		t.Fatal(err)
	}
	g := strings.Join(query(t, admin, "SHOW GRANTS FOR 'guser'@'10.1.1.1'"), "\n")
	if !strings.Contains(g, "GRANT SELECT ON `gdb`.* TO `guser`@`10.1.1.1`") {
		t.Errorf("revert removed the pre-existing SELECT: %s", g)
	}
	var rec record
	if err := json.Unmarshal(c.Undo.Data, &rec); err != nil || len(rec.Grants) != 1 || len(rec.Users) != 0 {
		t.Errorf("undo record %s", c.Undo.Data)
	}
}

func TestSchemaIsValid(t *testing.T) {
	if err := (Module{}).Schema().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestScriptNotOnHostYet(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "dbscripts", "mysql.sql")
	args := engine.NewArgs(Name, conn(nil), database("later", "latin1"),
		engine.NewArgs("schema", map[string]cty.Value{"database": cty.StringVal("later"), "script_host_path": cty.StringVal(missing)}))
	h := newHost(t)
	c, err := Module{}.Check(context.Background(), h.Planning(), args)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionCreate || !strings.Contains(c.Unknown, "not on db1 yet") {
		t.Errorf("plan: %s %q unknown %q", c.Action, c.Summary, c.Unknown)
	}
	if _, err := (Module{}).Check(context.Background(), h, args); err == nil || !strings.Contains(err.Error(), "no such file on db1") {
		t.Errorf("apply-time check: %v", err)
	}
}

// TestRevertInALaterProcess: the undo record holds no password; a rollback in a new process
// gets it from the context, and says so when it is missing.
func TestRevertInALaterProcess(t *testing.T) {
	admin := server.Admin(t)
	args := engine.NewArgs(Name, conn(nil), database("laterdb", ""))
	h := newHost(t)
	c := modtest.Apply(t, h, Module{}, args)
	if strings.Contains(string(c.Undo.Data), server.AdminPassword) {
		t.Fatalf("undo record holds the password: %s", c.Undo.Data)
	}
	passwords.Clear() // as in a new process
	err := Module{}.Revert(context.Background(), h, c.Undo)
	if err == nil || !strings.Contains(err.Error(), "WithLoginPassword") {
		t.Errorf("revert without a password: %v", err)
	}
	if err := (Module{}).Revert(WithLoginPassword(context.Background(), server.AdminPassword), h, c.Undo); err != nil {
		t.Fatal(err)
	}
	if schemaExists(t, admin, "laterdb") {
		t.Error("laterdb survived the revert")
	}
}

// A schema into a database that an earlier task (on another host) creates plans as known after
// apply; at apply time, with the database still missing, it is an error.
func TestSchemaIntoADatabaseCreatedElsewhere(t *testing.T) {
	args := engine.NewArgs(Name, conn(nil), schema("created_elsewhere", filepath.Join(wso2ref.Dir(t), "dbscripts", "mysql.sql"), nil))
	h := newHost(t)
	c, err := Module{}.Check(context.Background(), h.Planning(), args)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Unknown, "does not exist yet") {
		t.Errorf("plan: %s %q unknown %q", c.Action, c.Summary, c.Unknown)
	}
	if _, err := (Module{}).Check(context.Background(), h, args); err == nil || !strings.Contains(err.Error(), "no database block creates it") {
		t.Errorf("apply-time check: %v", err)
	}
}

// TestHostScriptReadOnce: a schema script on the host is read once per task; Apply loads the
// statements Check read and split (it must not read the file again: the bytes it loads are the
// ones whose digest the plan showed).
func TestHostScriptReadOnce(t *testing.T) {
	admin := server.Admin(t)
	script := filepath.Join(t.TempDir(), "once.sql")
	if err := os.WriteFile(script, []byte("CREATE TABLE t1 (id INT);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS readonce") })
	args := engine.NewArgs(Name, conn(nil), database("readonce", ""),
		engine.NewArgs("schema", map[string]cty.Value{"database": cty.StringVal("readonce"), "script_host_path": cty.StringVal(script)}))
	h := modtest.Host(t)
	c, err := Module{}.Check(context.Background(), h, args)
	if err != nil {
		t.Fatal(err)
	}
	trips := h.Conn().(*modtest.Counting).Trips
	if n := trips(); n != 1 {
		t.Fatalf("check made %d round trips to the host, want 1 (the script)", n)
	}
	if err := (Module{}).Apply(context.Background(), h, c); err != nil {
		t.Fatal(err)
	}
	if n := trips(); n != 1 {
		t.Errorf("apply made %d more round trips to the host, want none", n-1)
	}
	if !schemaExists(t, admin, "readonce") || len(query(t, admin, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'readonce'")) != 1 {
		t.Error("apply did not load the script")
	}
}
