package mysqldb

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/mysqldb/dbconn"
)

// record is mysql_db's undo record: what this run creates, never what existed before, and no
// secret (the login password is not in it; see WithLoginPassword).
type record struct {
	Conn   dbconn.Params `json:"conn"`
	Server string        `json:"server,omitempty"`
	// Databases are created by the run, with the tables the run creates in them.
	Databases []createdDB `json:"databases,omitempty"`
	// Users are accounts created by the run (dropping one drops its grants).
	Users []accountRef `json:"users,omitempty"`
	// Grants are privileges the run added to accounts that existed before.
	Grants []grantUndo `json:"grants,omitempty"`
	// Loads are scripts loaded into databases that existed before.
	Loads []loadUndo `json:"loads,omitempty"`
}

type createdDB struct {
	Name string `json:"name"`
	// Tables are the tables the run creates in it (a script's CREATE TABLEs, the ledger); it had
	// none when it was created.
	Tables []string `json:"tables,omitempty"`
	// Writes says the run itself writes rows into it (a script with INSERTs, the ledger), so rows
	// do not show that someone else used it.
	Writes bool `json:"writes,omitempty"`
}

type grantUndo struct {
	Account    accountRef `json:"account"`
	Target     string     `json:"on"`
	Privileges []string   `json:"privileges"`
}

type loadUndo struct {
	DB            string   `json:"database"`
	Script        string   `json:"script"`
	SHA           string   `json:"sha256"`
	Tables        []string `json:"tables"`
	Writes        bool     `json:"writes,omitempty"`
	Ledger        bool     `json:"ledger,omitempty"`
	LedgerCreated bool     `json:"ledger_created,omitempty"`
}

func (r record) empty() bool {
	return len(r.Databases)+len(r.Users)+len(r.Grants)+len(r.Loads) == 0
}

// The login password is not in the undo record. A rollback in the process that planned the
// change finds it in memory; a later `isaplay rollback` must pass it with WithLoginPassword.
var passwords sync.Map // credKey -> string

type loginKey struct{}

// WithLoginPassword returns a context that gives Revert and CheckRevert the login password of
// the undo records they handle (the engine re-evaluates the task's login_password for this).
func WithLoginPassword(ctx context.Context, password string) context.Context {
	return context.WithValue(ctx, loginKey{}, password)
}

func credKey(h *engine.Host, p dbconn.Params) string {
	return fmt.Sprintf("%s|%s|%v", h.Name, p.String(), p.Direct)
}

func remember(h *engine.Host, p dbconn.Params) { passwords.Store(credKey(h, p), p.Password) }

// open connects for a revert with the login password from ctx or from this process's memory.
func (r *record) open(ctx context.Context, h *engine.Host) (*dbconn.Session, error) {
	p := r.Conn
	known := true
	if pw, ok := ctx.Value(loginKey{}).(string); ok {
		p.Password = pw
	} else if pw, ok := engine.RevertSecret(ctx, "login_password"); ok {
		p.Password = pw
	} else if pw, ok := passwords.Load(credKey(h, p)); ok {
		p.Password = pw.(string)
	} else {
		known = false
	}
	sess, err := dbconn.Open(ctx, h, p)
	if err != nil && !known {
		return nil, fmt.Errorf("%w (the undo record holds no password and none was given: the rollback must pass the task's login_password, see mysqldb.WithLoginPassword)", err)
	}
	return sess, err
}

func decode(u engine.Undo) (*record, error) {
	var r record
	if len(u.Data) == 0 {
		return &r, nil
	}
	if err := u.Decode(&r); err != nil {
		return nil, fmt.Errorf("mysql_db: undo record: %w", err)
	}
	return &r, nil
}

// contents is what a database or a set of tables holds now.
type contents struct {
	tables map[string]bool // lower-case
	rows   map[string]bool // lower-case table -> has rows
}

// inspect reads the tables of the databases named and which of them hold rows, in two round
// trips.
func inspect(ctx context.Context, sess *dbconn.Session, dbs []string) (map[string]*contents, error) {
	out := map[string]*contents{}
	for _, d := range dbs {
		out[d] = &contents{tables: map[string]bool{}, rows: map[string]bool{}}
	}
	if len(dbs) == 0 {
		return out, nil
	}
	res, err := sess.Query(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN "+inList(dbs))
	if err != nil {
		return nil, err
	}
	var probes []string
	type ref struct{ db, table string }
	var refs []ref
	for i := range res[0].Rows {
		db, t := res[0].Get(i, "TABLE_SCHEMA"), res[0].Get(i, "TABLE_NAME")
		c := out[db]
		if c == nil {
			continue
		}
		c.tables[strings.ToLower(t)] = true
		probes = append(probes, fmt.Sprintf("SELECT %d AS i, EXISTS(SELECT 1 FROM %s.%s) AS n", len(refs), quoteIdent(db), quoteIdent(t)))
		refs = append(refs, ref{db, t})
	}
	if len(probes) == 0 {
		return out, nil
	}
	rows, err := sess.Query(ctx, strings.Join(probes, " UNION ALL "))
	if err != nil {
		return nil, err
	}
	for i := range rows[0].Rows {
		var idx int
		fmt.Sscan(rows[0].Get(i, "i"), &idx)
		if rows[0].Get(i, "n") == "1" && idx < len(refs) {
			out[refs[idx].db].rows[strings.ToLower(refs[idx].table)] = true
		}
	}
	return out, nil
}

// drift describes how a database moved on since the run: tables the run did not create, and
// rows the run did not write.
func drift(c *contents, ours []string, writes bool) []string {
	mine := map[string]bool{}
	for _, t := range ours {
		mine[strings.ToLower(t)] = true
	}
	var extra, rows []string
	for t := range c.tables {
		if !mine[t] {
			extra = append(extra, t)
		}
		if c.rows[t] && (!writes || !mine[t]) {
			rows = append(rows, t)
		}
	}
	var out []string
	if len(extra) > 0 {
		sort.Strings(extra)
		out = append(out, "gained tables "+nameList(extra))
	}
	if len(rows) > 0 {
		sort.Strings(rows)
		out = append(out, "has rows in "+nameList(rows))
	}
	return out
}

// CheckRevert tells whether reverting is safe: a database the run created, or the tables it
// loaded into an existing one, must hold no other tables and no rows the run did not write.
// Otherwise it returns an *engine.DriftError; `isaplay rollback --force` reverts anyway.
func (Module) CheckRevert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	r, err := decode(u)
	if err != nil || len(r.Databases)+len(r.Loads) == 0 {
		return err
	}
	sess, err := r.open(ctx, h)
	if err != nil {
		return err
	}
	defer sess.Close()
	var dbs []string
	for _, d := range r.Databases {
		dbs = append(dbs, d.Name)
	}
	for _, l := range r.Loads {
		dbs = append(dbs, l.DB)
	}
	got, err := inspect(ctx, sess, dbs)
	if err != nil {
		return fmt.Errorf("mysql_db: check before revert: %w", err)
	}
	var problems []string
	for _, d := range r.Databases {
		if p := drift(got[d.Name], d.Tables, d.Writes); len(p) > 0 {
			problems = append(problems, fmt.Sprintf("database %s (created by this run) %s", d.Name, strings.Join(p, " and ")))
		}
	}
	for _, l := range r.Loads {
		c := got[l.DB]
		sub := &contents{tables: map[string]bool{}, rows: map[string]bool{}}
		for _, t := range l.Tables {
			lt := strings.ToLower(t)
			if c.tables[lt] {
				sub.tables[lt] = true
				sub.rows[lt] = c.rows[lt]
			}
		}
		if p := drift(sub, l.Tables, l.Writes || l.Ledger); len(p) > 0 {
			problems = append(problems, fmt.Sprintf("tables of %s in database %s %s", l.Script, l.DB, strings.Join(p, " and ")))
		}
	}
	if len(problems) > 0 {
		return &engine.DriftError{Path: "mysql " + r.Conn.Addr(), Diff: strings.Join(problems, "\n") + "\n"}
	}
	return nil
}

// ignorable are errors of a revert step whose work is already done: no such grant (1141,
// 1147), cannot revoke (1269), unknown database (1008), unknown table (1051), no such user
// (1396 on DROP USER).
var ignorable = map[int]bool{1141: true, 1147: true, 1269: true, 1008: true, 1051: true, 1396: true}

// Revert drops what the run created, newest first: tables loaded into existing databases and
// their ledger rows, grants added to existing accounts, created accounts, created databases.
// It does not check for drift (CheckRevert does, before a rollback); it is idempotent.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	r, err := decode(u)
	if err != nil || r.empty() {
		return err
	}
	sess, err := r.open(ctx, h)
	if err != nil {
		return fmt.Errorf("mysql_db revert: %w", err)
	}
	defer sess.Close()
	res, err := sess.Query(ctx, "SELECT VERSION() AS version")
	if err != nil {
		return err
	}
	srv, err := ParseVersion(res[0].Get(0, "version"))
	if err != nil {
		return err
	}
	var stmts []string
	for i := len(r.Loads) - 1; i >= 0; i-- {
		l := r.Loads[i]
		var names []string
		for _, t := range l.Tables {
			if t == LedgerTable && !l.LedgerCreated {
				continue
			}
			names = append(names, quoteIdent(l.DB)+"."+quoteIdent(t))
		}
		if len(names) > 0 {
			stmts = append(stmts, "SET FOREIGN_KEY_CHECKS = 0", "DROP TABLE IF EXISTS "+strings.Join(names, ", "), "SET FOREIGN_KEY_CHECKS = 1")
		}
		if l.Ledger && !l.LedgerCreated {
			stmts = append(stmts, "DELETE FROM "+quoteIdent(l.DB)+"."+quoteIdent(LedgerTable)+" WHERE script = "+srv.quoteString(l.Script)+" AND sha256 = '"+l.SHA+"'")
		}
	}
	for i := len(r.Grants) - 1; i >= 0; i-- {
		g := r.Grants[i]
		stmts = append(stmts, revokeSQL(g.Privileges, g.Target, g.Account.User, g.Account.Host))
	}
	for i := len(r.Users) - 1; i >= 0; i-- {
		stmts = append(stmts, srv.dropUser(r.Users[i].User, r.Users[i].Host))
	}
	for i := len(r.Databases) - 1; i >= 0; i-- {
		stmts = append(stmts, "DROP DATABASE IF EXISTS "+quoteIdent(r.Databases[i].Name))
	}
	for _, q := range stmts {
		if err := sess.Exec(ctx, q); err != nil && !ignorable[dbconn.ErrorNumber(err)] {
			return fmt.Errorf("mysql_db revert: %s: %w", q, err)
		}
	}
	return nil
}
