package mysqldb

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Server is what the module knows of the server it talks to: its flavour and version (from
// SELECT VERSION()) and whether backslashes are plain characters in string literals.
type Server struct {
	Version string
	MariaDB bool
	Major   int
	Minor   int
	Patch   int
	// NoBackslashEscapes is true when sql_mode has NO_BACKSLASH_ESCAPES.
	NoBackslashEscapes bool
}

// ParseVersion reads a VERSION() string such as "5.7.22-log", "8.0.13" or
// "10.11.6-MariaDB-0+deb12u1".
func ParseVersion(v string) (Server, error) {
	s := Server{Version: v, MariaDB: strings.Contains(strings.ToLower(v), "mariadb")}
	num := v
	if s.MariaDB {
		num = strings.TrimPrefix(num, "5.5.5-") // the replication prefix old MariaDB sent
	}
	if i := strings.IndexAny(num, "-+ "); i >= 0 {
		num = num[:i]
	}
	parts := strings.Split(num, ".")
	if len(parts) < 2 {
		return s, fmt.Errorf("cannot read server version %q", v)
	}
	var nums [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return s, fmt.Errorf("cannot read server version %q", v)
		}
		nums[i] = n
	}
	s.Major, s.Minor, s.Patch = nums[0], nums[1], nums[2]
	return s, nil
}

func (s Server) atLeast(major, minor, patch int) bool {
	if s.Major != major {
		return s.Major > major
	}
	if s.Minor != minor {
		return s.Minor > minor
	}
	return s.Patch >= patch
}

// hasAlterUserPassword reports whether ALTER USER ... IDENTIFIED BY exists (MySQL 5.7.6,
// MariaDB 10.2); older servers use SET PASSWORD ... = PASSWORD().
func (s Server) hasAlterUserPassword() bool {
	if s.MariaDB {
		return s.atLeast(10, 2, 0)
	}
	return s.atLeast(5, 7, 6)
}

// hasIfExistsUser reports whether CREATE USER IF NOT EXISTS / DROP USER IF EXISTS exist (MySQL
// 5.7.6 and 5.7.8, MariaDB 10.1.3).
func (s Server) hasIfExistsUser() bool {
	if s.MariaDB {
		return s.atLeast(10, 1, 3)
	}
	return s.atLeast(5, 7, 8)
}

// defaultPlugin is the authentication plugin CREATE USER ... IDENTIFIED BY gives on this server.
func (s Server) defaultPlugin() string {
	if !s.MariaDB && s.atLeast(8, 0, 4) {
		return "caching_sha2_password"
	}
	return "mysql_native_password"
}

// String is how plans name the server.
func (s Server) String() string {
	flavour := "MySQL"
	if s.MariaDB {
		flavour = "MariaDB"
	}
	return fmt.Sprintf("%s %d.%d.%d", flavour, s.Major, s.Minor, s.Patch)
}

// quoteIdent quotes an identifier (database, table) with backquotes.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteName quotes a user name, host or other name as a string literal. Names are checked
// (checkName) to hold no backslash or NUL, so doubling quotes is right in every sql_mode.
func quoteName(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// checkName refuses names that cannot be quoted the same way in every sql_mode.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if strings.ContainsAny(s, "\\\x00") {
		return fmt.Errorf("%s %q contains a backslash or NUL", what, s)
	}
	return nil
}

// quoteString quotes any string (a password) as a literal for this server's sql_mode.
func (s Server) quoteString(v string) string {
	if s.NoBackslashEscapes {
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// account is 'user'@'host'.
func account(user, host string) string { return quoteName(user) + "@" + quoteName(host) }

// secretSQL is a statement that carries a password: SQL is sent, Shown is printed.
type secretSQL struct {
	SQL   string
	Shown string
}

// createDatabase creates a database; it fails if it exists (Check saw it missing, so a database
// that appeared since then is not this run's to drop).
func createDatabase(name, charset, collation string) string {
	q := "CREATE DATABASE " + quoteIdent(name)
	if charset != "" {
		q += " CHARACTER SET " + charset
	}
	if collation != "" {
		q += " COLLATE " + collation
	}
	return q
}

// createUser creates an account with a password. Plain CREATE USER (not IF NOT EXISTS) on
// every version: an account that appeared since Check is an error, not silently adopted, so
// undo never drops an account this run did not create. MySQL 5.6 has CREATE USER ... IDENTIFIED
// BY too, so the deprecated GRANT ... IDENTIFIED BY (refused by 8.0) is never needed.
func (s Server) createUser(user, host, password string) secretSQL {
	q := "CREATE USER " + account(user, host) + " IDENTIFIED BY "
	return secretSQL{SQL: q + s.quoteString(password), Shown: q + "'" + maskLiteral + "'"}
}

// maskLiteral stands for a password in printed SQL.
const maskLiteral = "(sensitive)"

// setPassword changes an account's password: ALTER USER on MySQL ≥ 5.7.6 and MariaDB ≥ 10.2,
// SET PASSWORD ... = PASSWORD() before (MySQL 8.0 has no PASSWORD()).
func (s Server) setPassword(user, host, password string) secretSQL {
	if s.hasAlterUserPassword() {
		q := "ALTER USER " + account(user, host) + " IDENTIFIED BY "
		return secretSQL{SQL: q + s.quoteString(password), Shown: q + "'" + maskLiteral + "'"}
	}
	q := "SET PASSWORD FOR " + account(user, host) + " = PASSWORD("
	return secretSQL{SQL: q + s.quoteString(password) + ")", Shown: q + "'" + maskLiteral + "')"}
}

// dropUser drops an account; on servers without DROP USER IF EXISTS the caller checks first.
func (s Server) dropUser(user, host string) string {
	if s.hasIfExistsUser() {
		return "DROP USER IF EXISTS " + account(user, host)
	}
	return "DROP USER " + account(user, host)
}

// grantSQL grants privileges on a target ("`db`.*" or "*.*").
func grantSQL(privs []string, target, user, host string) string {
	return "GRANT " + strings.Join(privs, ", ") + " ON " + target + " TO " + account(user, host)
}

// revokeSQL revokes privileges granted by grantSQL.
func revokeSQL(privs []string, target, user, host string) string {
	return "REVOKE " + strings.Join(privs, ", ") + " ON " + target + " FROM " + account(user, host)
}

// nativeHash is the mysql_native_password hash of a password: "*" and the upper-case hex of
// SHA1(SHA1(password)).
func nativeHash(password string) string {
	a := sha1.Sum([]byte(password))
	b := sha1.Sum(a[:])
	return "*" + strings.ToUpper(hex.EncodeToString(b[:]))
}
