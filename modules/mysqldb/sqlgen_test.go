package mysqldb

import (
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/zclconf/go-cty/cty"
)

// TestGeneratedSQL shows the statements per server version: the password-change statement, the
// DROP USER form and the default plugin differ; CREATE USER is the same everywhere.
func TestGeneratedSQL(t *testing.T) {
	tests := []struct {
		version             string
		want                string // Server.String()
		create, setPW, drop string
		plugin              string
		noBackslash         bool
		quoted              string // quoteString(`it's \ x`)
	}{
		{
			version: "5.6.40", want: "MySQL 5.6.40",
			create: "CREATE USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\\\1'",
			setPW:  "SET PASSWORD FOR 'wso2'@'10.0.0.11' = PASSWORD('pa''ss\\\\1')",
			drop:   "DROP USER 'wso2'@'10.0.0.11'",
			plugin: "mysql_native_password",
			quoted: `'it''s \\ x'`,
		},
		{
			version: "5.7.22-log", want: "MySQL 5.7.22",
			create: "CREATE USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\\\1'",
			setPW:  "ALTER USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\\\1'",
			drop:   "DROP USER IF EXISTS 'wso2'@'10.0.0.11'",
			plugin: "mysql_native_password",
			quoted: `'it''s \\ x'`,
		},
		{
			version: "8.0.13", want: "MySQL 8.0.13",
			create: "CREATE USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\\\1'",
			setPW:  "ALTER USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\\\1'",
			drop:   "DROP USER IF EXISTS 'wso2'@'10.0.0.11'",
			plugin: "caching_sha2_password",
			quoted: `'it''s \\ x'`,
		},
		{
			version: "10.11.6-MariaDB-0+deb12u1", want: "MariaDB 10.11.6",
			create: "CREATE USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\\\1'",
			setPW:  "ALTER USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\\\1'",
			drop:   "DROP USER IF EXISTS 'wso2'@'10.0.0.11'",
			plugin: "mysql_native_password",
			quoted: `'it''s \\ x'`,
		},
		{
			version: "10.1.2-MariaDB", want: "MariaDB 10.1.2",
			create: "CREATE USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\\\1'",
			setPW:  "SET PASSWORD FOR 'wso2'@'10.0.0.11' = PASSWORD('pa''ss\\\\1')",
			drop:   "DROP USER 'wso2'@'10.0.0.11'",
			plugin: "mysql_native_password",
			quoted: `'it''s \\ x'`,
		},
		{
			version: "8.0.13", want: "MySQL 8.0.13", noBackslash: true,
			create: "CREATE USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\1'",
			setPW:  "ALTER USER 'wso2'@'10.0.0.11' IDENTIFIED BY 'pa''ss\\1'",
			drop:   "DROP USER IF EXISTS 'wso2'@'10.0.0.11'",
			plugin: "caching_sha2_password",
			quoted: `'it''s \ x'`,
		},
	}
	const pw = `pa'ss\1`
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			s, err := ParseVersion(tt.version)
			if err != nil {
				t.Fatal(err)
			}
			s.NoBackslashEscapes = tt.noBackslash
			if s.String() != tt.want {
				t.Errorf("String() = %q, want %q", s.String(), tt.want)
			}
			c := s.createUser("wso2", "10.0.0.11", pw)
			if c.SQL != tt.create {
				t.Errorf("createUser:\n got %s\nwant %s", c.SQL, tt.create)
			}
			p := s.setPassword("wso2", "10.0.0.11", pw)
			if p.SQL != tt.setPW {
				t.Errorf("setPassword:\n got %s\nwant %s", p.SQL, tt.setPW)
			}
			for _, shown := range []string{c.Shown, p.Shown} {
				if strings.Contains(shown, "pa") || !strings.Contains(shown, "'(sensitive)'") {
					t.Errorf("shown SQL not masked: %s", shown)
				}
			}
			if d := s.dropUser("wso2", "10.0.0.11"); d != tt.drop {
				t.Errorf("dropUser = %s, want %s", d, tt.drop)
			}
			if s.defaultPlugin() != tt.plugin {
				t.Errorf("defaultPlugin = %s, want %s", s.defaultPlugin(), tt.plugin)
			}
			if q := s.quoteString(`it's \ x`); q != tt.quoted {
				t.Errorf("quoteString = %s, want %s", q, tt.quoted)
			}
		})
	}
}

func TestStatementsSameOnEveryVersion(t *testing.T) {
	if got, want := createDatabase("userdb", "latin1", ""), "CREATE DATABASE `userdb` CHARACTER SET latin1"; got != want {
		t.Errorf("createDatabase = %s", got)
	}
	if got := createDatabase("we`ird", "utf8mb4", "utf8mb4_bin"); got != "CREATE DATABASE `we``ird` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" {
		t.Errorf("createDatabase = %s", got)
	}
	g, err := parseGrant("all privileges on `WSO2_UM_DB`.*")
	if err != nil {
		t.Fatal(err)
	}
	if got := grantSQL([]string{"ALL PRIVILEGES"}, g.target(), "o'brien", "%"); got != "GRANT ALL PRIVILEGES ON `WSO2_UM_DB`.* TO 'o''brien'@'%'" {
		t.Errorf("grantSQL = %s", got)
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, v := range []string{"", "x.y", "8"} {
		if _, err := ParseVersion(v); err == nil {
			t.Errorf("ParseVersion(%q): no error", v)
		}
	}
	s, err := ParseVersion("5.5.5-10.3.39-MariaDB-0+deb10u1")
	if err != nil || !s.MariaDB || s.Major != 10 || s.Minor != 3 {
		t.Errorf("replication prefix: %+v %v", s, err)
	}
}

func TestParseGrant(t *testing.T) {
	tests := []struct {
		in      string
		all     bool
		privs   []string
		db, err string
	}{
		{in: "ALL ON userdb.*", all: true, db: "userdb"},
		{in: "  select ,  insert on regdb.*", privs: []string{"SELECT", "INSERT"}, db: "regdb"},
		{in: "ALL PRIVILEGES ON *.* WITH GRANT OPTION", all: true, privs: []string{"GRANT OPTION"}},
		{in: "SELECT ON `we``ird db`.*", privs: []string{"SELECT"}, db: "we`ird db"},
		{in: "SELECT ON db.t1", err: "only grants on db.* or *.*"},
		{in: "SELECT (a) ON db.*", err: "column or quoted"},
		{in: "SELECT", err: "want"},
		{in: "SELECT ON db\\x.*", err: "backslash"},
	}
	for _, tt := range tests {
		g, err := parseGrant(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseGrant(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseGrant(%q): %v", tt.in, err)
			continue
		}
		if g.All != tt.all || g.DB != tt.db || strings.Join(g.Privs, ",") != strings.Join(tt.privs, ",") {
			t.Errorf("parseGrant(%q) = %+v", tt.in, g)
		}
	}
}

func TestPrivColumns(t *testing.T) {
	for priv, col := range map[string]string{
		"SELECT": "Select_priv", "CREATE TEMPORARY TABLES": "Create_tmp_table_priv", "LOCK TABLES": "Lock_tables_priv",
		"GRANT OPTION": "Grant_priv", "SHOW VIEW": "Show_view_priv", "REPLICATION CLIENT": "Repl_client_priv",
		"DELETE HISTORY": "Delete_history_priv",
	} {
		if got := privColumn(priv); got != col {
			t.Errorf("privColumn(%s) = %s, want %s", priv, got, col)
		}
		if got := privName(col); got != priv {
			t.Errorf("privName(%s) = %s, want %s", col, got, priv)
		}
	}
}

func TestNativeHash(t *testing.T) {
	// The well-known hash of "password" (SELECT PASSWORD('password')).
	if got := nativeHash("password"); got != "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19" {
		t.Errorf("nativeHash = %s", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		block *engine.Args
		want  string
	}{
		{engine.NewArgs("database", map[string]cty.Value{"name": cty.StringVal("d"), "charset": cty.StringVal("latin1; DROP")}), "not a character set name"},
		{engine.NewArgs("user", map[string]cty.Value{"name": cty.StringVal("u"), "hosts": cty.ListVal([]cty.Value{cty.StringVal("h")}),
			"grants": cty.ListVal([]cty.Value{cty.StringVal("ALL ON db.t")})}), "only grants on db.* or *.*"},
		{engine.NewArgs("user", map[string]cty.Value{"name": cty.StringVal("u"), "hosts": cty.ListVal([]cty.Value{cty.StringVal("h")}),
			"update_password": cty.StringVal("sometimes")}), "update_password must be"},
		{engine.NewArgs("schema", map[string]cty.Value{"database": cty.StringVal("d")}), "set script"},
		{engine.NewArgs("database", map[string]cty.Value{"name": cty.StringVal(`a\b`)}), "backslash"},
	}
	for _, tt := range tests {
		diags := Module{}.Validate(engine.NewArgs(Name, nil, tt.block))
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) {
			t.Errorf("Validate: %v, want %q", diags, tt.want)
		}
	}
	ok := engine.NewArgs(Name, nil, engine.NewArgs("database", map[string]cty.Value{"name": cty.StringVal("userdb")}))
	if diags := (Module{}).Validate(ok); diags.HasErrors() {
		t.Errorf("valid arguments: %v", diags)
	}
}

func FuzzParseGrant(f *testing.F) {
	for _, s := range []string{"ALL ON userdb.*", "select, insert on `a``b`.* with grant option", "ı ON *.*", "x ON"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseGrant(s)
		if err != nil {
			return
		}
		if !g.All && len(g.Privs) == 0 {
			t.Fatalf("grant %q parsed without privileges", s)
		}
		_ = grantSQL(g.Privs, g.target(), "u", "h")
	})
}
