// Package dbconn is how mysql_db and sql_check reach a MySQL or MariaDB server: the connection
// arguments both modules take, and a Session on one server connection that dials through the
// task host's connection (so a server bound to the host's loopback is reached over SSH) or,
// with connect = "direct", from the controller. Passwords travel only inside the MySQL protocol.
package dbconn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/isaplay/isaplay/engine"
	"github.com/zclconf/go-cty/cty"
)

// Attrs are the connection arguments of every task that talks to MySQL.
var Attrs = []engine.Attr{
	{Name: "host", Type: cty.String, Default: cty.StringVal("127.0.0.1"),
		Description: "Address of the MySQL server, as seen from the task's host (or from the controller with connect = \"direct\")."},
	{Name: "port", Type: cty.Number, Default: cty.NumberIntVal(3306), Description: "TCP port of the MySQL server."},
	{Name: "login_user", Type: cty.String, Default: cty.StringVal("root"), Description: "Administrative user to log in as."},
	{Name: "login_password", Type: cty.String,
		Description: "Password of login_user; pass a sensitive variable. It is sent only inside the MySQL protocol and masked in every output."},
	{Name: "connect", Type: cty.String, Default: cty.StringVal("host"),
		Description: "\"host\" dials the server through the task host's connection (an SSH tunnel for remote hosts); \"direct\" dials from the controller."},
}

// Params are the decoded connection arguments.
type Params struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"login_user"`
	Password string `json:"-"`
	// Direct dials from the controller instead of through the task host.
	Direct bool `json:"direct,omitempty"`
}

// FromArgs decodes the connection arguments.
func FromArgs(a *engine.Args) (Params, error) {
	p := Params{Host: a.String("host"), Port: a.Int("port", 3306), User: a.String("login_user"), Password: a.String("login_password")}
	if p.Host == "" {
		p.Host = "127.0.0.1"
	}
	if p.User == "" {
		p.User = "root"
	}
	if p.Port < 1 || p.Port > 65535 {
		return p, a.Errorf("port", "port %d is out of range", p.Port)
	}
	switch c := a.String("connect"); c {
	case "", "host":
	case "direct":
		p.Direct = true
	default:
		return p, a.Errorf("connect", "connect must be \"host\" or \"direct\", not %q", c)
	}
	return p, nil
}

// Addr returns host:port.
func (p Params) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// String names the server and user for messages ("root@127.0.0.1:3306 via n1").
func (p Params) String() string {
	return p.User + "@" + p.Addr()
}

type observerKey struct{}

// WithObserver returns a context under which every statement a Session sends is first passed to
// fn (already redacted). Tests count statements with it; a verbose log can print them.
func WithObserver(ctx context.Context, fn func(stmt string)) context.Context {
	return context.WithValue(ctx, observerKey{}, fn)
}

// Session is one connection to the server (one server session, so USE and session variables
// persist between statements). It is not safe for concurrent use.
type Session struct {
	db   *sql.DB
	conn *sql.Conn
	h    *engine.Host
	p    Params
}

// Open connects to the server described by p: through h's connection unless p.Direct. The
// password is added to h's secrets. Errors name the server and are redacted.
func Open(ctx context.Context, h *engine.Host, p Params) (*Session, error) {
	h.AddSecret(p.Password)
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = p.User, p.Password, "tcp", p.Addr()
	cfg.MultiStatements = true
	cfg.Timeout = 30 * time.Second
	cfg.Logger = &mysql.NopLogger{}
	if !p.Direct {
		cfg.DialFunc = h.Dial
	}
	where := p.String()
	if !p.Direct {
		where += " via " + h.Name
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql %s: %w", where, redact(h, err))
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	c, err := db.Conn(ctx)
	if err == nil {
		err = c.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql %s: cannot connect: %w", where, redact(h, err))
	}
	return &Session{db: db, conn: c, h: h, p: p}, nil
}

// Close ends the session.
func (s *Session) Close() error {
	s.conn.Close()
	return s.db.Close()
}

func (s *Session) observe(ctx context.Context, stmts ...string) {
	if fn, ok := ctx.Value(observerKey{}).(func(string)); ok {
		for _, q := range stmts {
			fn(s.h.Redact(q))
		}
	}
}

// Err returns err redacted of every secret the host knows. The MySQL error number survives
// (ErrorNumber); the original error is reachable with errors.Unwrap only when it held no secret.
func (s *Session) Err(err error) error { return redact(s.h, err) }

func redact(h *engine.Host, err error) error {
	if err == nil {
		return nil
	}
	msg := h.Redact(err.Error())
	e := &redactedError{msg: msg}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		e.number = int(me.Number)
	}
	if msg == err.Error() {
		e.cause = err
	}
	return e
}

// Exec runs one statement.
func (s *Session) Exec(ctx context.Context, stmt string) error {
	s.observe(ctx, stmt)
	_, err := s.conn.ExecContext(ctx, stmt)
	return s.Err(err)
}

// execBatch is the most script text ExecAll sends in one round trip: well under the smallest
// max_allowed_packet a supported server starts with (4 MB on MySQL 5.6 and 5.7).
var execBatch = 1 << 20

// markColumn names the column of the SELECT that ExecAll puts after each statement.
const markColumn = "isaplay_statement_done"

// ExecAll runs statements in order, stopping at the first that fails, in multi-statement batches
// of up to execBatch bytes: one round trip per batch instead of one per statement. It returns
// how many ran; the error is then that of stmts[n]. Each statement is followed in its batch by
// "SELECT <its index> AS isaplay_statement_done", whose result set says that it ran (statements
// that return no rows return no result set to the driver).
func (s *Session) ExecAll(ctx context.Context, stmts []string) (int, error) {
	s.observe(ctx, stmts...)
	done := 0
	for done < len(stmts) {
		var b strings.Builder
		end := done
		for end < len(stmts) && (end == done || b.Len()+len(stmts[end]) <= execBatch) {
			// The statement ends on a line of its own, after any comment on its last line.
			fmt.Fprintf(&b, "%s\n;\nSELECT %d AS %s;\n", stmts[end], end, markColumn)
			end++
		}
		res, err := s.results(ctx, b.String())
		for _, r := range res {
			if len(r.Columns) != 1 || r.Columns[0] != markColumn || len(r.Rows) != 1 {
				continue // a statement's own rows
			}
			if k, _ := strconv.Atoi(r.Rows[0][0].String); k != done {
				return done, fmt.Errorf("statement %d: out of order mark %q", done+1, r.Rows[0][0].String)
			}
			done++
		}
		if err != nil {
			return done, s.Err(err)
		}
		if done != end {
			return done, fmt.Errorf("the server ended the batch without running the statement or an error")
		}
	}
	return done, nil
}

// Result is the rows of one query as text (NULL is Valid false).
type Result struct {
	Columns []string
	Rows    [][]sql.NullString
}

// Col returns the index of a column by name (case-insensitive), or -1.
func (r Result) Col(name string) int {
	for i, c := range r.Columns {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// Get returns row i's value of the named column ("" for NULL or a missing column).
func (r Result) Get(i int, name string) string {
	c := r.Col(name)
	if c < 0 || i >= len(r.Rows) {
		return ""
	}
	return r.Rows[i][c].String
}

// Query runs the queries in one round trip (a multi-statement batch) and returns one Result
// per query, in order. Every query must return rows.
func (s *Session) Query(ctx context.Context, queries ...string) ([]Result, error) {
	out, err := s.Batch(ctx, queries...)
	if err != nil {
		return nil, err
	}
	if len(out) != len(queries) {
		return nil, fmt.Errorf("batch of %d queries returned %d results", len(queries), len(out))
	}
	return out, nil
}

// Batch runs statements in one round trip and returns the results of those that return rows
// (statements such as SET or START TRANSACTION return none).
func (s *Session) Batch(ctx context.Context, queries ...string) ([]Result, error) {
	if len(queries) == 0 {
		return nil, nil
	}
	s.observe(ctx, queries...)
	out, err := s.results(ctx, strings.Join(queries, ";\n"))
	if err != nil {
		return nil, s.Err(err)
	}
	return out, nil
}

// results runs a multi-statement query and returns the result sets it got, in order, with the
// error that ended it (not redacted).
func (s *Session) results(ctx context.Context, query string) ([]Result, error) {
	rows, err := s.conn.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Result
	for {
		cols, err := rows.Columns()
		if err != nil {
			return out, err
		}
		r := Result{Columns: cols}
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return out, err
			}
			r.Rows = append(r.Rows, vals)
		}
		if err := rows.Err(); err != nil {
			return out, err
		}
		out = append(out, r)
		if !rows.NextResultSet() {
			return out, rows.Err()
		}
	}
}

// ErrorNumber returns the MySQL error number of err (1045 access denied, 1050 table exists...),
// or 0.
func ErrorNumber(err error) int {
	var re *redactedError
	if errors.As(err, &re) && re.number != 0 {
		return re.number
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return int(me.Number)
	}
	return 0
}

type redactedError struct {
	msg    string
	number int
	cause  error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }
