package mysqldb

import (
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/mysqldb/dbconn"
	"github.com/zclconf/go-cty/cty"
)

// Schema declares mysql_db's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Ensures MySQL/MariaDB databases (with charset), users per host with grants, and schema scripts loaded exactly once, " +
			"dialing the server through the task host's connection. Undo drops only what the run created.",
		Attrs: append([]engine.Attr(nil), dbconn.Attrs...),
		Blocks: []engine.BlockSchema{
			{Type: "database", Description: "A database that must exist. An existing database with another charset or collation is an error, never altered.", Attrs: []engine.Attr{
				{Name: "name", Type: cty.String, Required: true, Description: "Database name."},
				{Name: "charset", Type: cty.String, Description: "Character set (e.g. \"latin1\"); unset takes the server default and accepts any existing charset."},
				{Name: "collation", Type: cty.String, Description: "Collation; unset takes the charset's default."},
			}},
			{Type: "user", Description: "An account per host with a password and grants. Grants are only added, never revoked.", Attrs: []engine.Attr{
				{Name: "name", Type: cty.String, Required: true, Description: "User name."},
				{Name: "hosts", Type: cty.List(cty.String), Required: true, Description: "Hosts or IPs the user connects from; one account 'name'@'host' each."},
				{Name: "password", Type: cty.String, Description: "Password; pass a sensitive variable. Required when an account is created."},
				{Name: "update_password", Type: cty.String, Default: cty.StringVal("on_create"),
					Description: "\"on_create\" sets the password only when creating the account; \"always\" also changes it when it differs (\"known after apply\" when the server's hash cannot be compared)."},
				{Name: "grants", Type: cty.List(cty.String), Description: "Privileges, each \"PRIVS ON db.*\" or \"PRIVS ON *.*\", e.g. \"ALL ON userdb.*\", \"SELECT, INSERT ON regdb.*\"; \"... WITH GRANT OPTION\" is allowed."},
			}},
			{Type: "schema", Description: "A script loaded once into a database, guarded by the tables it creates: all present is in sync, none loads it, some is a \"half-loaded schema\" error.", Attrs: []engine.Attr{
				{Name: "database", Type: cty.String, Required: true, Description: "Database the script is loaded into."},
				{Name: "script", Type: cty.String, ControllerPath: true, Description: "Path of the script on the controller; a relative path is relative to the playbook file that names it."},
				{Name: "script_host_path", Type: cty.String, HostFile: true, Description: "Path of the script on the task's host, read through its connection (instead of script)."},
				{Name: "guard_tables", Type: cty.List(cty.String), Description: "Tables that show the script was loaded; by default every table its CREATE TABLE statements create."},
				{Name: "ledger", Type: cty.Bool, Description: "Record the script's name and sha256 in table isaplay_ledger of the database, so later plans say \"already loaded\" or fail with \"script changed since it was loaded\"."},
			}},
		},
		Example: `task "mysql_db" "analytics databases" {
  host           = "127.0.0.1"
  login_user     = "root"
  login_password = var.db_root_pass

  database {
    name    = "userdb"
    charset = "latin1"
  }
  user {
    name     = var.an_db_user
    hosts    = [var.an1, var.an2]
    password = var.an_db_pass
    grants   = ["ALL ON userdb.*"]
  }
  schema {
    database         = "userdb"
    script_host_path = "/opt/wso2/wso2is-analytics-5.6.0/dbscripts/mysql.sql"
    ledger           = true
  }
}`,
	}
}
