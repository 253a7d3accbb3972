package mysqldb

import (
	"fmt"
	"sort"
	"strings"
)

// grantSpec is one entry of a user's grants: privileges on a database ("db.*") or on every
// database ("*.*"). Grants on single tables, columns or routines are not supported.
type grantSpec struct {
	// Privs are upper-case privilege names; All means ALL [PRIVILEGES].
	Privs []string
	All   bool
	// DB is the database, or "" for *.*.
	DB string
}

// target is the ON clause.
func (g grantSpec) target() string {
	if g.DB == "" {
		return "*.*"
	}
	return quoteIdent(g.DB) + ".*"
}

// parseGrant reads "ALL ON userdb.*", "SELECT, INSERT ON `my db`.*", "ALL PRIVILEGES ON *.*
// WITH GRANT OPTION".
func parseGrant(s string) (grantSpec, error) {
	var g grantSpec
	text := strings.Join(strings.Fields(s), " ")
	upper := asciiUpper(text) // same length as text, so indexes carry over
	withGrant := false
	if strings.HasSuffix(upper, " WITH GRANT OPTION") {
		withGrant = true
		text = text[:len(text)-len(" WITH GRANT OPTION")]
		upper = upper[:len(text)]
	}
	i := strings.LastIndex(upper, " ON ")
	if i < 0 {
		return g, fmt.Errorf("grant %q: want \"PRIVILEGES ON db.*\"", s)
	}
	privText, target := text[:i], strings.TrimSpace(text[i+4:])
	switch {
	case target == "*.*" || target == "*":
	case strings.HasSuffix(target, ".*"):
		db := strings.TrimSuffix(target, ".*")
		if strings.HasPrefix(db, "`") && strings.HasSuffix(db, "`") && len(db) >= 2 {
			db = strings.ReplaceAll(db[1:len(db)-1], "``", "`")
		} else if strings.ContainsAny(db, "`. ") {
			return g, fmt.Errorf("grant %q: cannot read database name %q", s, db)
		}
		if err := checkName("database name", db); err != nil {
			return g, fmt.Errorf("grant %q: %w", s, err)
		}
		g.DB = db
	default:
		return g, fmt.Errorf("grant %q: only grants on db.* or *.* are supported, not %q", s, target)
	}
	for _, p := range strings.Split(privText, ",") {
		p = strings.ToUpper(strings.TrimSpace(p))
		switch p {
		case "":
			return g, fmt.Errorf("grant %q: empty privilege", s)
		case "ALL", "ALL PRIVILEGES":
			g.All = true
		default:
			if strings.ContainsAny(p, "()`'\";") {
				return g, fmt.Errorf("grant %q: column or quoted privileges are not supported: %q", s, p)
			}
			if strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ ") != "" {
				return g, fmt.Errorf("grant %q: %q is not a privilege name", s, p)
			}
			g.Privs = append(g.Privs, p)
		}
	}
	if withGrant {
		g.Privs = append(g.Privs, "GRANT OPTION")
	}
	return g, nil
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// privColumns maps privilege names whose mysql.user / mysql.db column is not simply the name
// with "_priv".
var privColumns = map[string]string{
	"GRANT OPTION":            "Grant_priv",
	"SHOW DATABASES":          "Show_db_priv",
	"CREATE TEMPORARY TABLES": "Create_tmp_table_priv",
	"REPLICATION SLAVE":       "Repl_slave_priv",
	"REPLICATION CLIENT":      "Repl_client_priv",
}

// privColumn returns the column of mysql.db (or mysql.user) that holds a privilege.
func privColumn(priv string) string {
	if c, ok := privColumns[priv]; ok {
		return c
	}
	w := strings.ToLower(strings.ReplaceAll(priv, " ", "_"))
	return strings.ToUpper(w[:1]) + w[1:] + "_priv"
}

// privName returns the privilege a column holds, the inverse of privColumn.
func privName(col string) string {
	for p, c := range privColumns {
		if strings.EqualFold(c, col) {
			return p
		}
	}
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSuffix(strings.TrimSuffix(col, "_priv"), "_Priv"), "_", " "))
}

// privColumnsOf returns the privilege columns of a mysql.db or mysql.user result.
func privColumnsOf(cols []string) []string {
	var out []string
	for _, c := range cols {
		if strings.HasSuffix(strings.ToLower(c), "_priv") {
			out = append(out, c)
		}
	}
	return out
}

// wanted returns the privilege columns a grant asks for, given the columns the server has at
// that level. ALL is every column except Grant_priv (as on the server).
func (g grantSpec) wanted(cols []string) ([]string, error) {
	have := map[string]string{}
	for _, c := range cols {
		have[strings.ToLower(c)] = c
	}
	set := map[string]bool{}
	if g.All {
		for _, c := range cols {
			if !strings.EqualFold(c, "Grant_priv") {
				set[c] = true
			}
		}
	}
	for _, p := range g.Privs {
		c, ok := have[strings.ToLower(privColumn(p))]
		if !ok {
			level := "a database"
			if g.DB == "" {
				level = "*.*"
			}
			return nil, fmt.Errorf("privilege %s cannot be granted on %s on this server", p, level)
		}
		set[c] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}
