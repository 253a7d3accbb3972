package mysqldb

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/mysqldb/dbconn"
)

// state is what Check read from the server.
type state struct {
	server   Server
	dbs      map[string]dbState
	tables   map[string]map[string]bool // db -> lower-case table name
	users    map[accountRef]userRow
	userCols []string // privilege columns of mysql.user
	dbCols   []string // privilege columns of mysql.db
	dbPrivs  map[dbGrantKey]map[string]bool
	ledger   map[ledgerKey]ledgerRow
}

type dbState struct{ charset, collation string }

type dbGrantKey struct {
	acct accountRef
	db   string
}

type ledgerKey struct{ db, script string }

type ledgerRow struct{ sha, at string }

type userRow struct {
	plugin string
	hash   string
	privs  map[string]bool // global privilege columns that are 'Y'
}

// passwordIs compares a password with the account's stored hash: same, and whether the
// comparison was possible at all (only mysql_native_password hashes can be computed here).
func (u userRow) passwordIs(password string) (same, comparable bool) {
	if (u.plugin == "" || u.plugin == "mysql_native_password") && len(u.hash) == 41 && u.hash[0] == '*' {
		return strings.EqualFold(u.hash, nativeHash(password)), true
	}
	return false, false
}

func (st *state) hasTable(db, table string) bool {
	return st.tables[db][strings.ToLower(table)]
}

// inList renders names as a SQL IN list.
func inList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteName(n)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// observe reads everything Check needs: one batch, plus one more for ledger rows when a ledger
// table exists.
func observe(ctx context.Context, sess *dbconn.Session, s *spec) (*state, error) {
	var dbNames, userNames []string
	seen := map[string]bool{}
	addDB := func(n string) {
		if !seen[n] {
			seen[n] = true
			dbNames = append(dbNames, n)
		}
	}
	for _, d := range s.dbs {
		addDB(d.Name)
	}
	for _, sc := range s.schemas {
		addDB(sc.DB)
	}
	seenUser := map[string]bool{}
	for _, u := range s.users {
		if !seenUser[u.Name] {
			seenUser[u.Name] = true
			userNames = append(userNames, u.Name)
		}
	}
	queries := []string{"SELECT VERSION() AS version, @@SESSION.sql_mode AS sql_mode"}
	iSchemata, iTables, iUsers, iDB := -1, -1, -1, -1
	if len(dbNames) > 0 {
		iSchemata = len(queries)
		queries = append(queries, "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN "+inList(dbNames))
		iTables = len(queries)
		queries = append(queries, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN "+inList(dbNames))
	}
	// mysql.user and mysql.db are read whole-row: their columns differ between versions.
	iUsers = len(queries)
	users := "SELECT * FROM mysql.user WHERE 1 = 0"
	dbq := "SELECT * FROM mysql.db WHERE 1 = 0"
	if len(userNames) > 0 {
		users = "SELECT * FROM mysql.user WHERE User IN " + inList(userNames)
		dbq = "SELECT * FROM mysql.db WHERE User IN " + inList(userNames)
	}
	queries = append(queries, users)
	iDB = len(queries)
	queries = append(queries, dbq)
	res, err := sess.Query(ctx, queries...)
	if err != nil {
		return nil, fmt.Errorf("mysql_db: read server state: %w", err)
	}
	st := &state{dbs: map[string]dbState{}, tables: map[string]map[string]bool{}, users: map[accountRef]userRow{},
		dbPrivs: map[dbGrantKey]map[string]bool{}, ledger: map[ledgerKey]ledgerRow{}}
	if len(res[0].Rows) != 1 {
		return nil, fmt.Errorf("mysql_db: SELECT VERSION() returned no row")
	}
	st.server, err = ParseVersion(res[0].Get(0, "version"))
	if err != nil {
		return nil, err
	}
	st.server.NoBackslashEscapes = strings.Contains(strings.ToUpper(res[0].Get(0, "sql_mode")), "NO_BACKSLASH_ESCAPES")
	if iSchemata >= 0 {
		for i := range res[iSchemata].Rows {
			r := res[iSchemata]
			name := r.Get(i, "SCHEMA_NAME")
			if seen[name] { // information_schema may compare case-insensitively
				st.dbs[name] = dbState{charset: r.Get(i, "DEFAULT_CHARACTER_SET_NAME"), collation: r.Get(i, "DEFAULT_COLLATION_NAME")}
			}
		}
		r := res[iTables]
		for i := range r.Rows {
			db := r.Get(i, "TABLE_SCHEMA")
			if st.tables[db] == nil {
				st.tables[db] = map[string]bool{}
			}
			st.tables[db][strings.ToLower(r.Get(i, "TABLE_NAME"))] = true
		}
	}
	ur := res[iUsers]
	st.userCols = privColumnsOf(ur.Columns)
	for i := range ur.Rows {
		row := userRow{plugin: ur.Get(i, "plugin"), privs: map[string]bool{}}
		for _, col := range []string{"authentication_string", "Password"} {
			if v := ur.Get(i, col); strings.HasPrefix(v, "*") {
				row.hash = v
				break
			}
		}
		if row.hash == "" {
			row.hash = ur.Get(i, "authentication_string")
		}
		for _, c := range st.userCols {
			if strings.EqualFold(ur.Get(i, c), "Y") {
				row.privs[c] = true
			}
		}
		st.users[accountRef{ur.Get(i, "User"), ur.Get(i, "Host")}] = row
	}
	dr := res[iDB]
	st.dbCols = privColumnsOf(dr.Columns)
	for i := range dr.Rows {
		k := dbGrantKey{accountRef{dr.Get(i, "User"), dr.Get(i, "Host")}, dr.Get(i, "Db")}
		m := map[string]bool{}
		for _, c := range st.dbCols {
			if strings.EqualFold(dr.Get(i, c), "Y") {
				m[c] = true
			}
		}
		st.dbPrivs[k] = m
	}
	// Ledger rows, where a ledger table exists.
	var lq []string
	var lk []ledgerKey
	for _, sc := range s.schemas {
		if sc.Ledger && st.hasTable(sc.DB, LedgerTable) {
			lq = append(lq, "SELECT sha256, loaded_at FROM "+quoteIdent(sc.DB)+"."+quoteIdent(LedgerTable)+
				" WHERE script = "+st.server.quoteString(sc.Path)+" ORDER BY id DESC LIMIT 1")
			lk = append(lk, ledgerKey{sc.DB, sc.Path})
		}
	}
	if len(lq) > 0 {
		lres, err := sess.Query(ctx, lq...)
		if err != nil {
			return nil, fmt.Errorf("mysql_db: read %s: %w", LedgerTable, err)
		}
		for i, r := range lres {
			if len(r.Rows) > 0 {
				st.ledger[lk[i]] = ledgerRow{sha: r.Get(0, "sha256"), at: r.Get(0, "loaded_at")}
			}
		}
	}
	return st, nil
}

// fingerprint digests what Check read that the plan depends on.
func (st *state) fingerprint(s *spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server %s\n", st.server.Version)
	var keys []string
	for n, d := range st.dbs {
		keys = append(keys, fmt.Sprintf("db %s %s %s", n, d.charset, d.collation))
	}
	for db, ts := range st.tables {
		for t := range ts {
			keys = append(keys, "table "+db+"."+t)
		}
	}
	for a, u := range st.users {
		var privs []string
		for p := range u.privs {
			privs = append(privs, p)
		}
		sort.Strings(privs)
		// The hash itself stays out: only its digest enters the fingerprint.
		keys = append(keys, fmt.Sprintf("user %s %s %s %s", a, u.plugin, engine.SHA256([]byte(u.hash)), strings.Join(privs, ",")))
	}
	for k, m := range st.dbPrivs {
		var privs []string
		for p := range m {
			privs = append(privs, p)
		}
		sort.Strings(privs)
		keys = append(keys, fmt.Sprintf("grant %s %s %s", k.acct, k.db, strings.Join(privs, ",")))
	}
	for k, l := range st.ledger {
		keys = append(keys, fmt.Sprintf("ledger %s %s %s", k.db, k.script, l.sha))
	}
	for _, sc := range s.schemas {
		keys = append(keys, "script "+sc.Path+" "+sc.SHA)
	}
	sort.Strings(keys)
	b.WriteString(strings.Join(keys, "\n"))
	return engine.SHA256([]byte(b.String()))
}
