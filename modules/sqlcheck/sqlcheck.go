// Package sqlcheck is the sql_check task type: a read-only query on a MySQL/MariaDB server with
// an optional expected value, e.g. that userdb has 40 tables. It connects like mysql_db (same
// arguments, through the task host's connection by default) and runs the query inside a
// read-only transaction, so it cannot change data.
package sqlcheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/mysqldb/dbconn"
	"github.com/isaplay/isaplay/modules/mysqldb/sqlscript"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type.
const Name = "sql_check"

// Module is the sql_check task type.
type Module struct{}

// Schema declares the connection arguments, query, expect and database.
func (Module) Schema() engine.Schema {
	attrs := append([]engine.Attr(nil), dbconn.Attrs...)
	attrs = append(attrs,
		engine.Attr{Name: "query", Type: cty.String, Required: true, Description: "A read-only query; the first column of its first row is the task's value."},
		engine.Attr{Name: "expect", Type: cty.String, Description: "Expected value (compared as text). A different value fails the task when applying; a plan shows it as checked at apply, since earlier tasks may change it."},
		engine.Attr{Name: "database", Type: cty.String, Description: "Default database of the query."},
	)
	return engine.Schema{
		Description: "Runs a read-only SQL query and asserts the first column of its first row; result.NAME.value holds it.",
		Attrs:       attrs,
		Example: `task "sql_check" "userdb has the carbon schema" {
  login_password = var.db_root_pass
  query          = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'userdb'"
  expect         = "40"
}`,
	}
}

type private struct {
	conn   dbconn.Params
	query  string
	expect string
	hasExp bool
	db     string
	stmt   string // the query without its delimiter
}

// run opens a session, runs the query in a read-only transaction and returns the first column
// of the first row ("" and false when the query returns no row; NULL is "").
func run(ctx context.Context, h *engine.Host, p *private) (string, bool, error) {
	sess, err := dbconn.Open(ctx, h, p.conn)
	if err != nil {
		return "", false, err
	}
	defer sess.Close()
	queries := []string{"SET TRANSACTION READ ONLY", "START TRANSACTION"}
	if p.db != "" {
		queries = append([]string{"USE `" + strings.ReplaceAll(p.db, "`", "``") + "`"}, queries...)
	}
	queries = append(queries, p.stmt, "ROLLBACK")
	res, err := sess.Batch(ctx, queries...)
	if err != nil {
		return "", false, fmt.Errorf("sql_check %q: %w", h.Redact(p.query), err)
	}
	if len(res) != 1 {
		return "", false, fmt.Errorf("sql_check %q: got %d result sets, want 1", h.Redact(p.query), len(res))
	}
	r := res[0]
	if len(r.Rows) == 0 || len(r.Columns) == 0 {
		return "", false, nil
	}
	return r.Rows[0][0].String, true, nil
}

func result(v string, row bool) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"value": cty.StringVal(v), "found": cty.BoolVal(row)})
}

// Validate refuses a query that is not one reading statement, or bad connection arguments.
func (Module) Validate(args *engine.Args) hcl.Diagnostics {
	if _, err := dbconn.FromArgs(args); err != nil {
		return hcl.Diagnostics{args.Diag("", "Invalid sql_check argument", err.Error())}
	}
	if _, err := readOnly(args.String("query")); err != nil {
		return hcl.Diagnostics{args.Diag("query", "Invalid sql_check query", err.Error())}
	}
	return nil
}

// Check runs the query (one round trip). In sync when the value is as expected or no value is
// expected. A different value is an error when applying; while planning it is a change checked
// again at apply, since earlier tasks (a schema load) may not have run yet.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	p, err := dbconn.FromArgs(args)
	if err != nil {
		return nil, err
	}
	pr := &private{conn: p, query: args.String("query"), expect: args.String("expect"), hasExp: args.Has("expect"), db: args.String("database")}
	stmt, err := readOnly(pr.query)
	if err != nil {
		return nil, args.Errorf("query", "%v", err)
	}
	pr.stmt = stmt
	v, row, err := run(ctx, h, pr)
	if err != nil {
		return nil, err
	}
	shown := h.Redact(v)
	c := &engine.Change{Action: engine.ActionNone, Fingerprint: engine.SHA256([]byte(v)), Result: result(v, row), Private: pr,
		Details: []string{h.Redact(pr.query) + ";"}}
	switch {
	case !pr.hasExp:
		c.Summary = fmt.Sprintf("value %q", shown)
	case row && v == pr.expect:
		c.Summary = fmt.Sprintf("%q as expected", shown)
	case !h.IsPlanning():
		return nil, fmt.Errorf("sql_check: %q returned %s, expected %q", h.Redact(pr.query), describe(shown, row), h.Redact(pr.expect))
	default:
		c.Action = engine.ActionRun
		c.Summary = fmt.Sprintf("expect %q (now %s); checked again at apply", h.Redact(pr.expect), describe(shown, row))
		c.Unknown = "the value after earlier tasks have run"
		c.Result = cty.UnknownVal(c.Result.Type())
	}
	return c, nil
}

// readOnly accepts one statement that reads: SELECT, SHOW, WITH, DESCRIBE, DESC, EXPLAIN, VALUES
// or TABLE. (A read-only transaction alone would not stop DDL, which commits implicitly.)
func readOnly(q string) (string, error) {
	stmts, err := sqlscript.Split(q)
	if err != nil {
		return "", fmt.Errorf("query: %w", err)
	}
	if len(stmts) != 1 {
		return "", fmt.Errorf("query must be exactly one statement, not %d", len(stmts))
	}
	w := strings.Fields(strings.TrimLeft(stmts[0].Text, "( \t\r\n"))
	if len(w) > 0 {
		switch strings.ToUpper(w[0]) {
		case "SELECT", "SHOW", "WITH", "DESCRIBE", "DESC", "EXPLAIN", "VALUES", "TABLE":
			if !strings.Contains(strings.ToUpper(stmts[0].Text), " INTO ") {
				return stmts[0].Text, nil
			}
			return "", fmt.Errorf("query must not write (SELECT ... INTO)")
		}
	}
	return "", fmt.Errorf("query must be a SELECT, SHOW, WITH, DESCRIBE or EXPLAIN statement")
}

func describe(v string, row bool) string {
	if !row {
		return "no row"
	}
	return fmt.Sprintf("%q", v)
}

// Apply runs the query again and fails when the value is not the expected one.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	pr, ok := c.Private.(*private)
	if !ok {
		return fmt.Errorf("sql_check: apply without a check")
	}
	v, row, err := run(ctx, h, pr)
	if err != nil {
		return err
	}
	c.Result = result(v, row)
	if pr.hasExp && (!row || v != pr.expect) {
		return fmt.Errorf("sql_check: %q returned %s, expected %q", h.Redact(pr.query), describe(h.Redact(v), row), h.Redact(pr.expect))
	}
	return nil
}

// Revert does nothing: sql_check changes nothing.
func (Module) Revert(context.Context, *engine.Host, engine.Undo) error { return nil }
