package mysqldb

import (
	"strings"
	"testing"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

// dbPrivCols are mysql.db's privilege columns (MySQL 5.7; enough for the plan).
var dbPrivCols = []string{"Select_priv", "Insert_priv", "Update_priv", "Delete_priv", "Create_priv", "Drop_priv", "Grant_priv",
	"References_priv", "Index_priv", "Alter_priv", "Create_tmp_table_priv", "Lock_tables_priv", "Create_view_priv",
	"Show_view_priv", "Create_routine_priv", "Alter_routine_priv", "Execute_priv", "Event_priv", "Trigger_priv"}

// TestPlanPerVersion plans the same task against the state each server version would report
// for an existing account: the statements and what can be known before apply differ.
func TestPlanPerVersion(t *testing.T) {
	tests := []struct {
		version string
		plugin  string
		hash    string
		want    []string
		unknown string
	}{
		{"5.6.40", "mysql_native_password", nativeHash("old"), []string{
			"CREATE DATABASE `userdb` CHARACTER SET latin1;",
			"CREATE USER 'wso2'@'10.0.0.12' IDENTIFIED BY '(sensitive)';",
			"GRANT ALL PRIVILEGES ON `userdb`.* TO 'wso2'@'10.0.0.12';",
			"SET PASSWORD FOR 'wso2'@'10.0.0.11' = PASSWORD('(sensitive)');",
			"GRANT ALL PRIVILEGES ON `userdb`.* TO 'wso2'@'10.0.0.11';",
		}, ""},
		{"5.7.22-log", "mysql_native_password", nativeHash("old"), []string{
			"CREATE DATABASE `userdb` CHARACTER SET latin1;",
			"CREATE USER 'wso2'@'10.0.0.12' IDENTIFIED BY '(sensitive)';",
			"GRANT ALL PRIVILEGES ON `userdb`.* TO 'wso2'@'10.0.0.12';",
			"ALTER USER 'wso2'@'10.0.0.11' IDENTIFIED BY '(sensitive)';",
			"GRANT ALL PRIVILEGES ON `userdb`.* TO 'wso2'@'10.0.0.11';",
		}, ""},
		{"8.0.13", "caching_sha2_password", "$A$005$opaque", []string{
			"CREATE DATABASE `userdb` CHARACTER SET latin1;",
			"CREATE USER 'wso2'@'10.0.0.12' IDENTIFIED BY '(sensitive)';",
			"GRANT ALL PRIVILEGES ON `userdb`.* TO 'wso2'@'10.0.0.12';",
			"ALTER USER 'wso2'@'10.0.0.11' IDENTIFIED BY '(sensitive)';",
			"GRANT ALL PRIVILEGES ON `userdb`.* TO 'wso2'@'10.0.0.11';",
		}, "password of wso2@10.0.0.11: known after apply (the server keeps a caching_sha2_password hash"},
		{"10.11.6-MariaDB-0+deb12u1", "mysql_native_password", nativeHash("old"), []string{
			"CREATE DATABASE `userdb` CHARACTER SET latin1;",
			"CREATE USER 'wso2'@'10.0.0.12' IDENTIFIED BY '(sensitive)';",
			"GRANT ALL PRIVILEGES ON `userdb`.* TO 'wso2'@'10.0.0.12';",
			"ALTER USER 'wso2'@'10.0.0.11' IDENTIFIED BY '(sensitive)';",
			"GRANT ALL PRIVILEGES ON `userdb`.* TO 'wso2'@'10.0.0.11';",
		}, ""},
	}
	const pw = "N3w-Secret"
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			h := engine.NewHost("db1", local.New(), "run1", t.TempDir(), nil)
			args := engine.NewArgs(Name, map[string]cty.Value{"login_password": cty.StringVal("adminpw")},
				engine.NewArgs("database", map[string]cty.Value{"name": cty.StringVal("userdb"), "charset": cty.StringVal("latin1")}),
				engine.NewArgs("user", map[string]cty.Value{
					"name": cty.StringVal("wso2"), "hosts": cty.ListVal([]cty.Value{cty.StringVal("10.0.0.12"), cty.StringVal("10.0.0.11")}),
					"password": cty.StringVal(pw), "update_password": cty.StringVal("always"),
					"grants": cty.ListVal([]cty.Value{cty.StringVal("ALL ON userdb.*")}),
				}))
			s, err := parse(h, args)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := ParseVersion(tt.version)
			if err != nil {
				t.Fatal(err)
			}
			st := &state{server: srv, dbs: map[string]dbState{}, tables: map[string]map[string]bool{},
				users:    map[accountRef]userRow{{"wso2", "10.0.0.11"}: {plugin: tt.plugin, hash: tt.hash, privs: map[string]bool{}}},
				userCols: []string{"Select_priv", "Grant_priv"}, dbCols: dbPrivCols, dbPrivs: map[dbGrantKey]map[string]bool{}}
			c, err := s.plan(h, st)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(c.Details, "\n"); got != strings.Join(tt.want, "\n") {
				t.Errorf("details:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			if tt.unknown == "" && c.Unknown != "" || !strings.Contains(c.Unknown, tt.unknown) {
				t.Errorf("unknown %q, want %q", c.Unknown, tt.unknown)
			}
			p := c.Private.(*private)
			if !strings.Contains(p.steps[3].SQL, "'"+pw+"'") {
				t.Errorf("the statement sent lacks the password: %s", p.steps[3].Shown)
			}
			for _, out := range append([]string{c.Summary, c.Unknown, string(c.Undo.Data)}, c.Details...) {
				if strings.Contains(out, pw) || strings.Contains(out, "adminpw") {
					t.Errorf("password in %q", out)
				}
			}
			// Same password: nothing to change where the hash can be compared.
			st.users[accountRef{"wso2", "10.0.0.11"}] = userRow{plugin: tt.plugin, hash: nativeHash(pw), privs: map[string]bool{}}
			if tt.plugin == "mysql_native_password" {
				c, err := s.plan(h, st)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(strings.Join(c.Details, "\n"), "'wso2'@'10.0.0.11' IDENTIFIED") || strings.Contains(strings.Join(c.Details, "\n"), "SET PASSWORD") {
					t.Errorf("same password planned a change:\n%s", strings.Join(c.Details, "\n"))
				}
			}
		})
	}
}
