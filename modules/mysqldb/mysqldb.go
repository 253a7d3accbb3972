// Package mysqldb is the mysql_db task type: databases with a charset, users per host with
// grants, and schema scripts loaded exactly once, on MySQL 5.6/5.7/8.0 or MariaDB 10.x.
//
// Connection: the driver dials through the task host's connection (dbconn), so a server bound
// to the host's loopback is reached over SSH; connect = "direct" dials from the controller. To
// load a script that lives on another machine (dbscripts in an analytics node's product home),
// run the task on that machine with host = the database address: the script is read and the
// server reached through the same connection.
//
// Check reads the server in one batch (plus one for ledger rows), never writes, and lists the
// SQL Apply will run, passwords masked. Existing databases with another charset or collation
// are an error, never altered. Grants are added, never revoked. A password is compared with the
// server's mysql_native_password hash; other plugins (caching_sha2_password) make a change
// "known after apply" under update_password = "always".
//
// Schema scripts are split by sqlscript and run statement by statement, stopping at the first
// error with its script line. The guard is the tables the script creates: all present is in
// sync, none loads it, some is a "half-loaded schema" error. With ledger = true the script's
// path and sha256 go into table isaplay_ledger of the database.
//
// Undo drops only what the run created: tables it loaded, grants it added to existing accounts,
// accounts and databases it created. A password change is not undone. Before a rollback the
// engine calls CheckRevert, which returns an *engine.DriftError when a database (or loaded
// tables) the run created has since gained tables or rows the run did not write; the engine
// then refuses unless `isaplay rollback --force`. The undo record holds no password: a rollback
// in the process that applied finds the login password in memory; a later one must pass it with
// WithLoginPassword.
package mysqldb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/mysqldb/dbconn"
	"github.com/isaplay/isaplay/modules/mysqldb/sqlscript"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "mysql_db"

// LedgerTable is the table of isaplay's own that `ledger = true` keeps in a database.
const LedgerTable = "isaplay_ledger"

// Module is the mysql_db task type.
type Module struct{}

type dbSpec struct {
	Name, Charset, Collation string
}

type userSpec struct {
	Name     string
	Hosts    []string
	Password string
	Always   bool
	Grants   []grantSpec
}

type schemaSpec struct {
	DB     string
	Path   string // as written, the ledger's key
	OnHost bool
	Guard  []string
	Ledger bool
	// Filled by loadScripts.
	SHA    string
	Stmts  []sqlscript.Statement
	Tables []string // created by the script
	Writes bool     // the script writes rows
	// Absent is set while planning when the script is not on the host yet.
	Absent bool
}

type spec struct {
	conn    dbconn.Params
	dbs     []dbSpec
	users   []userSpec
	schemas []schemaSpec
}

var wordRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// parse decodes and checks the arguments; with h, every password becomes one of its secrets.
func parse(h *engine.Host, args *engine.Args) (*spec, error) {
	secret := func(string) {}
	if h != nil {
		secret = h.AddSecret
	}
	p, err := dbconn.FromArgs(args)
	if err != nil {
		return nil, err
	}
	secret(p.Password)
	s := &spec{conn: p}
	seenDB := map[string]bool{}
	for _, b := range args.BlocksOf("database") {
		d := dbSpec{Name: b.String("name"), Charset: strings.ToLower(b.String("charset")), Collation: strings.ToLower(b.String("collation"))}
		if err := checkName("database name", d.Name); err != nil {
			return nil, b.Errorf("name", "%v", err)
		}
		if seenDB[d.Name] {
			return nil, b.Errorf("name", "database %q is declared twice", d.Name)
		}
		seenDB[d.Name] = true
		if d.Charset != "" && !wordRE.MatchString(d.Charset) {
			return nil, b.Errorf("charset", "charset %q is not a character set name", d.Charset)
		}
		if d.Collation != "" && !wordRE.MatchString(d.Collation) {
			return nil, b.Errorf("collation", "collation %q is not a collation name", d.Collation)
		}
		s.dbs = append(s.dbs, d)
	}
	seenAcct := map[string]bool{}
	for _, b := range args.BlocksOf("user") {
		u := userSpec{Name: b.String("name"), Hosts: b.Strings("hosts"), Password: b.String("password")}
		secret(u.Password)
		if err := checkName("user name", u.Name); err != nil {
			return nil, b.Errorf("name", "%v", err)
		}
		if len(u.Hosts) == 0 {
			return nil, b.Errorf("hosts", "user %s: hosts is empty", u.Name)
		}
		for _, host := range u.Hosts {
			if err := checkName("host", host); err != nil {
				return nil, b.Errorf("hosts", "user %s: %v", u.Name, err)
			}
			if seenAcct[u.Name+"@"+host] {
				return nil, b.Errorf("hosts", "account %s@%s is declared twice", u.Name, host)
			}
			seenAcct[u.Name+"@"+host] = true
		}
		switch up := b.String("update_password"); up {
		case "", "on_create":
		case "always":
			u.Always = true
		default:
			return nil, b.Errorf("update_password", "update_password must be \"on_create\" or \"always\", not %q", up)
		}
		for _, g := range b.Strings("grants") {
			gs, err := parseGrant(g)
			if err != nil {
				return nil, b.Errorf("grants", "user %s: %v", u.Name, err)
			}
			u.Grants = append(u.Grants, gs)
		}
		s.users = append(s.users, u)
	}
	for _, b := range args.BlocksOf("schema") {
		sc := schemaSpec{DB: b.String("database"), Guard: b.Strings("guard_tables"), Ledger: b.Bool("ledger")}
		if err := checkName("database name", sc.DB); err != nil {
			return nil, b.Errorf("database", "%v", err)
		}
		ctrl, onHost := b.String("script"), b.String("script_host_path")
		switch {
		case ctrl != "" && onHost != "":
			return nil, b.Errorf("script", "set script or script_host_path, not both")
		case ctrl != "":
			sc.Path = ctrl
		case onHost != "":
			sc.Path, sc.OnHost = onHost, true
		default:
			return nil, b.Errorf("", "schema for %s: set script (a path on the controller) or script_host_path (a path on the task's host)", sc.DB)
		}
		s.schemas = append(s.schemas, sc)
	}
	if len(s.dbs)+len(s.users)+len(s.schemas) == 0 {
		return nil, args.Errorf("", "mysql_db: nothing to ensure: add database, user or schema blocks")
	}
	return s, nil
}

// loadScripts reads and splits every schema script (controller files directly, host files
// through the host's connection).
func (s *spec) loadScripts(ctx context.Context, h *engine.Host) error {
	for i := range s.schemas {
		sc := &s.schemas[i]
		var data []byte
		if sc.OnHost {
			fi, b, err := h.ReadFile(ctx, sc.Path)
			if err != nil {
				return fmt.Errorf("schema script %s: %w", sc.Path, err)
			}
			if !fi.Exists {
				if h.IsPlanning() {
					// An earlier task (unarchiving the product) may put it there.
					sc.Absent = true
					continue
				}
				return fmt.Errorf("schema script %s: no such file on %s", sc.Path, h.Name)
			}
			data = b
		} else {
			b, err := os.ReadFile(sc.Path)
			if err != nil {
				return fmt.Errorf("schema script: %w", err)
			}
			data = b
		}
		sc.SHA = engine.SHA256(data)
		stmts, err := sqlscript.Split(string(data))
		if err != nil {
			return fmt.Errorf("schema script %s: %w", sc.Path, err)
		}
		sc.Stmts = stmts
		sc.Tables = sqlscript.CreatedTables(stmts)
		for _, st := range stmts {
			if sqlscript.Modifies(st) {
				sc.Writes = true
			}
		}
		if len(sc.Guard) == 0 {
			sc.Guard = sc.Tables
		}
		if len(sc.Guard) == 0 {
			return fmt.Errorf("schema script %s creates no table: name guard_tables that show it was loaded", sc.Path)
		}
	}
	return nil
}

// step is one thing Apply does, in order.
type step struct {
	SQL   string // sent
	Shown string // printed
	Load  *schemaSpec
}

// private is what Check hands to Apply.
type private struct {
	spec   *spec
	server Server
	steps  []step
}

// account identifies 'user'@'host'.
type accountRef struct {
	User string `json:"user"`
	Host string `json:"host"`
}

func (a accountRef) String() string { return a.User + "@" + a.Host }

// Validate checks the arguments without a server: names, charsets, grants, script sources.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	if _, err := parse(nil, args); err != nil {
		var ae *engine.ArgError
		if errors.As(err, &ae) {
			r := ae.Range
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid mysql_db argument", Detail: ae.Msg, Subject: &r}}
		}
		return hcl.Diagnostics{args.Diag("", "Invalid mysql_db argument", err.Error())}
	}
	return nil
}

// Check reads the server and returns the SQL Apply would run.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	s, err := parse(h, args)
	if err != nil {
		return nil, err
	}
	if err := s.loadScripts(ctx, h); err != nil {
		return nil, err
	}
	remember(h, s.conn)
	sess, err := dbconn.Open(ctx, h, s.conn)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	st, err := observe(ctx, sess, s)
	if err != nil {
		return nil, err
	}
	return s.plan(h, st)
}

// ChangesOnlyServices says that Apply changes the database server, reached through the host,
// and none of the host's files (engine.ServiceOnly).
func (Module) ChangesOnlyServices() {}

// Apply runs the statements Check planned, stopping at the first error.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	p, ok := c.Private.(*private)
	if !ok {
		return fmt.Errorf("mysql_db: apply without a check")
	}
	if len(p.steps) == 0 {
		return nil
	}
	sess, err := dbconn.Open(ctx, h, p.spec.conn)
	if err != nil {
		return err
	}
	defer sess.Close()
	for _, st := range p.steps {
		if st.Load != nil {
			if err := load(ctx, sess, st.Load); err != nil {
				return err
			}
			continue
		}
		if err := sess.Exec(ctx, st.SQL); err != nil {
			return fmt.Errorf("mysql_db: %s: %w", st.Shown, err)
		}
	}
	return nil
}

// load runs a schema script in its database, in order and in as few round trips as the server
// takes (dbconn.Session.ExecAll), stopping at the first error, which names the script line the
// statement starts on.
func load(ctx context.Context, sess *dbconn.Session, sc *schemaSpec) error {
	if err := sess.Exec(ctx, "USE "+quoteIdent(sc.DB)); err != nil {
		return fmt.Errorf("load %s into %s: %w", sc.Path, sc.DB, err)
	}
	texts := make([]string, len(sc.Stmts))
	for i, st := range sc.Stmts {
		texts[i] = st.Text
	}
	n, err := sess.ExecAll(ctx, texts)
	if err != nil && n < len(sc.Stmts) {
		st := sc.Stmts[n]
		return fmt.Errorf("load %s into %s: statement %d of %d at line %d (%s): %w (statements before it were applied; the schema is now half-loaded)",
			sc.Path, sc.DB, n+1, len(sc.Stmts), st.Line, firstLine(st.Text), err)
	}
	if err != nil {
		return fmt.Errorf("load %s into %s: %w", sc.Path, sc.DB, err)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " ..."
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// plan compares the wanted state with what the server holds.
func (s *spec) plan(h *engine.Host, st *state) (*engine.Change, error) {
	srv := st.server
	rec := record{Conn: s.conn, Server: srv.Version}
	// A password travels escaped inside SQL; an echo of a statement must be masked too.
	for _, u := range s.users {
		if q := srv.quoteString(u.Password); len(q) > 2 {
			h.AddSecret(q[1 : len(q)-1])
		}
	}
	var (
		steps    []step
		details  []string
		risks    []string
		unknown  []string
		made     []string // summary parts
		anyNew   bool
		dbsNew   []string
		usersNew []string
		grants   int
		loads    []string
		pwChange []string
		inSync   []string
	)
	add := func(sql, shown string) {
		steps = append(steps, step{SQL: sql, Shown: shown})
		details = append(details, shown+";")
	}
	creating := map[string]int{} // database -> index in rec.Databases
	// Databases.
	for _, d := range s.dbs {
		cur, ok := st.dbs[d.Name]
		if ok {
			if d.Charset != "" && !strings.EqualFold(cur.charset, d.Charset) {
				return nil, fmt.Errorf("database %s exists with character set %s, not %s; isaplay does not ALTER an existing database (convert it by hand or change charset)",
					d.Name, cur.charset, d.Charset)
			}
			if d.Collation != "" && !strings.EqualFold(cur.collation, d.Collation) {
				return nil, fmt.Errorf("database %s exists with collation %s, not %s; isaplay does not ALTER an existing database", d.Name, cur.collation, d.Collation)
			}
			continue
		}
		add(createDatabase(d.Name, d.Charset, d.Collation), createDatabase(d.Name, d.Charset, d.Collation))
		rec.Databases = append(rec.Databases, createdDB{Name: d.Name})
		creating[d.Name] = len(rec.Databases) - 1
		dbsNew = append(dbsNew, d.Name)
		anyNew = true
	}
	if len(dbsNew) > 0 {
		risks = append(risks, "creates a database")
	}
	// Users and grants.
	for _, u := range s.users {
		for _, host := range u.Hosts {
			acct := accountRef{u.Name, host}
			row, exists := st.users[acct]
			if !exists {
				if u.Password == "" {
					return nil, fmt.Errorf("user %s: account %s does not exist and has no password to be created with", u.Name, acct)
				}
				q := srv.createUser(u.Name, host, u.Password)
				add(q.SQL, q.Shown)
				rec.Users = append(rec.Users, acct)
				usersNew = append(usersNew, acct.String())
				anyNew = true
			} else if u.Always && u.Password != "" {
				same, comparable := row.passwordIs(u.Password)
				if !same {
					q := srv.setPassword(u.Name, host, u.Password)
					add(q.SQL, q.Shown)
					if comparable {
						pwChange = append(pwChange, acct.String())
					} else {
						unknown = append(unknown, fmt.Sprintf("password of %s: known after apply (the server keeps a %s hash, which cannot be compared)", acct, row.plugin))
					}
				}
			}
			for _, g := range u.Grants {
				cols := st.dbCols
				var have map[string]bool
				if g.DB == "" {
					cols = st.userCols
					if exists {
						have = row.privs
					}
				} else if exists {
					have = st.dbPrivs[dbGrantKey{acct, g.DB}]
				}
				want, err := g.wanted(cols)
				if err != nil {
					return nil, fmt.Errorf("user %s: grant on %s: %w", acct, g.target(), err)
				}
				var missing []string
				for _, c := range want {
					if !have[c] {
						missing = append(missing, c)
					}
				}
				if len(missing) == 0 {
					continue
				}
				var names []string
				if g.All && len(without(missing, "Grant_priv")) == len(without(want, "Grant_priv")) {
					names = []string{"ALL PRIVILEGES"}
					if contains(missing, "Grant_priv") {
						names = append(names, "GRANT OPTION")
					}
				} else {
					// In the order written, then any ALL brought in.
					for _, p := range g.Privs {
						if contains(missing, privColumnFor(cols, p)) {
							names = append(names, p)
						}
					}
					for _, c := range missing {
						if !containsFold(g.Privs, privName(c)) {
							names = append(names, privName(c))
						}
					}
				}
				q := grantSQL(names, g.target(), u.Name, host)
				add(q, q)
				grants++
				if exists {
					rec.Grants = append(rec.Grants, grantUndo{Account: acct, Target: g.target(), Privileges: names})
				}
			}
		}
	}
	if len(pwChange) > 0 || len(unknown) > 0 {
		risks = append(risks, "changes a password (not undone: the old one is not kept)")
	}
	// Schema scripts.
	for i := range s.schemas {
		sc := &s.schemas[i]
		_, dbExists := st.dbs[sc.DB]
		if _, ok := creating[sc.DB]; !dbExists && !ok {
			if !h.IsPlanning() {
				return nil, fmt.Errorf("schema %s: database %s does not exist and no database block creates it", sc.Path, sc.DB)
			}
			// While planning, an earlier task (on another host) may create it: the load is only
			// known after apply, where this check runs again on the live server.
			unknown = append(unknown, fmt.Sprintf("schema %s into %s: database %s does not exist yet (an earlier task may create it); known after apply", sc.Path, sc.DB, sc.DB))
			details = append(details, fmt.Sprintf("-- load %s into %s once it exists", sc.Path, quoteIdent(sc.DB)))
			loads = append(loads, path.Base(sc.Path)+" into "+sc.DB)
			anyNew = true
			steps = append(steps, step{Load: sc, Shown: "load " + sc.Path})
			continue
		}
		if sc.Absent {
			unknown = append(unknown, fmt.Sprintf("schema %s into %s: the script is not on %s yet; what it loads is known after apply", sc.Path, sc.DB, h.Name))
			details = append(details, fmt.Sprintf("-- load %s (not on %s yet) into %s", sc.Path, h.Name, quoteIdent(sc.DB)))
			loads = append(loads, path.Base(sc.Path)+" into "+sc.DB)
			anyNew = true
			steps = append(steps, step{Load: sc, Shown: "load " + sc.Path})
			continue
		}
		var present, missing []string
		for _, t := range sc.Guard {
			if st.hasTable(sc.DB, t) {
				present = append(present, t)
			} else {
				missing = append(missing, t)
			}
		}
		led, hasLedger := st.ledger[ledgerKey{sc.DB, sc.Path}]
		switch {
		case sc.Ledger && hasLedger && led.sha != sc.SHA:
			return nil, fmt.Errorf("schema %s in database %s: script changed since it was loaded on %s (ledger sha256 %s, script now %s); it is not re-runnable: apply the difference by hand, then update its %s row",
				sc.Path, sc.DB, led.at, short(led.sha), short(sc.SHA), LedgerTable)
		case len(present) > 0 && len(missing) > 0:
			return nil, fmt.Errorf("schema %s in database %s: half-loaded schema: present %s; missing %s (finish or drop it by hand)",
				sc.Path, sc.DB, nameList(present), nameList(missing))
		case len(missing) == 0:
			if sc.Ledger && hasLedger {
				inSync = append(inSync, fmt.Sprintf("-- %s in %s: already loaded on %s (sha256 %s)", sc.Path, sc.DB, led.at, short(sc.SHA)))
			} else {
				inSync = append(inSync, fmt.Sprintf("-- %s in %s: in sync (all %d guard tables present)", sc.Path, sc.DB, len(sc.Guard)))
			}
			continue
		case sc.Ledger && hasLedger:
			return nil, fmt.Errorf("schema %s in database %s: the ledger says it was loaded on %s, but none of its tables (%s) exist", sc.Path, sc.DB, led.at, nameList(missing))
		}
		for _, t := range sc.Tables {
			if st.hasTable(sc.DB, t) {
				return nil, fmt.Errorf("schema %s in database %s: table %s exists although the guard tables do not; the script would fail on it", sc.Path, sc.DB, t)
			}
		}
		steps = append(steps, step{Load: sc, Shown: "load " + sc.Path})
		where := "controller"
		if sc.OnHost {
			where = h.Name
		}
		details = append(details, fmt.Sprintf("-- load %s (from %s, sha256 %s, %d statements) into %s: creates %d tables", sc.Path, where, short(sc.SHA), len(sc.Stmts), quoteIdent(sc.DB), len(sc.Tables)))
		loads = append(loads, path.Base(sc.Path)+" into "+sc.DB)
		anyNew = true
		tables := append([]string(nil), sc.Tables...)
		ledgerNew := false
		if sc.Ledger {
			if !st.hasTable(sc.DB, LedgerTable) && !ledgerPlanned(rec, sc.DB) {
				q := "CREATE TABLE IF NOT EXISTS " + quoteIdent(sc.DB) + "." + quoteIdent(LedgerTable) +
					" (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, script VARCHAR(1024) NOT NULL, sha256 CHAR(64) NOT NULL, loaded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
				add(q, q)
				tables = append(tables, LedgerTable)
				ledgerNew = true
			}
			q := "INSERT INTO " + quoteIdent(sc.DB) + "." + quoteIdent(LedgerTable) + " (script, sha256) VALUES (" + srv.quoteString(sc.Path) + ", '" + sc.SHA + "')"
			add(q, q)
		}
		if i, ok := creating[sc.DB]; ok {
			d := &rec.Databases[i]
			d.Tables = append(d.Tables, tables...)
			d.Writes = d.Writes || sc.Writes || sc.Ledger
		} else {
			rec.Loads = append(rec.Loads, loadUndo{DB: sc.DB, Script: sc.Path, SHA: sc.SHA, Tables: tables, Writes: sc.Writes, Ledger: sc.Ledger, LedgerCreated: ledgerNew})
		}
	}
	if len(dbsNew) > 0 {
		made = append(made, "create database "+nameList(dbsNew))
	}
	if len(usersNew) > 0 {
		made = append(made, "create user "+nameList(usersNew))
	}
	if len(pwChange)+len(unknown) > 0 {
		made = append(made, fmt.Sprintf("change %d password(s)", len(pwChange)+len(unknown)))
	}
	if grants > 0 {
		made = append(made, fmt.Sprintf("%d grant(s)", grants))
	}
	if len(loads) > 0 {
		made = append(made, "load "+strings.Join(loads, ", "))
	}
	c := &engine.Change{Action: engine.ActionNone, Fingerprint: st.fingerprint(s), Risks: risks}
	c.Result = cty.ObjectVal(map[string]cty.Value{"server_version": cty.StringVal(srv.Version)})
	if len(steps) == 0 {
		c.Summary = fmt.Sprintf("in sync (%s)", srv)
		c.Details = inSync
		c.Undo = engine.NewUndo(Name, rec)
		c.Private = &private{spec: s, server: srv}
		return c, nil
	}
	c.Action = engine.ActionUpdate
	if anyNew {
		c.Action = engine.ActionCreate
	}
	c.Summary = h.Redact(strings.Join(made, "; ") + " (" + srv.String() + ")")
	c.Details = append(details, inSync...)
	for i := range c.Details {
		c.Details[i] = h.Redact(c.Details[i])
	}
	c.Unknown = strings.Join(unknown, "; ")
	c.Undo = engine.NewUndo(Name, rec)
	c.Private = &private{spec: s, server: srv, steps: steps}
	return c, nil
}

func ledgerPlanned(rec record, db string) bool {
	for _, l := range rec.Loads {
		if l.DB == db && l.LedgerCreated {
			return true
		}
	}
	for _, d := range rec.Databases {
		if d.Name == db && contains(d.Tables, LedgerTable) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// privColumnFor returns the server's spelling of a privilege's column.
func privColumnFor(cols []string, priv string) string {
	want := privColumn(priv)
	for _, c := range cols {
		if strings.EqualFold(c, want) {
			return c
		}
	}
	return want
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// nameList joins names, eliding after ten.
func nameList(names []string) string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	if len(sorted) > 10 {
		return strings.Join(sorted[:10], ", ") + fmt.Sprintf(" and %d more", len(sorted)-10)
	}
	return strings.Join(sorted, ", ")
}
