// Package httpcheck implements the http_check task: an HTTP(S) request with assertions on the
// status, the body and a JSON path, retried until it passes or a timeout. By default it is
// sent through the task host's connection (a node behind a jump host, a service bound to the
// node's loopback); from = "controller" sends it from the controller.
package httpcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type name.
const Name = "http_check"

// Module is the http_check task type.
type Module struct{}

var _ engine.Module = Module{}

// ResultType is the type of an http_check result: the last response's status and body
// (redacted, at most 1 MiB) and the text at json_path.
var ResultType = cty.Object(map[string]cty.Type{
	"status": cty.Number,
	"body":   cty.String,
	"value":  cty.String,
})

const maxBody = 1 << 20

// Schema declares http_check's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Send an HTTP(S) request and assert on the status, a body regex and a JSON path, retrying until it passes or wait_timeout. " +
			"Sent through the task host's connection unless from = \"controller\". Registers result.status, result.body and result.value (the JSON path's value).",
		Attrs: []engine.Attr{
			{Name: "url", Type: cty.String, Required: true, Description: "The URL, http or https."},
			{Name: "method", Type: cty.String, Default: cty.StringVal("GET"), Description: "The HTTP method."},
			{Name: "body", Type: cty.String, Description: "The request body."},
			{Name: "headers", Type: cty.Map(cty.String), Description: "Request headers."},
			{Name: "user", Type: cty.String, Description: "HTTP Basic user name."},
			{Name: "password", Type: cty.String, Description: "HTTP Basic password (keep it in a sensitive variable)."},
			{Name: "status", Type: cty.Number, Default: cty.NumberIntVal(200), Description: "The expected status code."},
			{Name: "body_regex", Type: cty.String, Description: "A regular expression (Go RE2) the body must match."},
			{Name: "body_not_regex", Type: cty.String, Description: "A regular expression (Go RE2) the body must not match (a SOAP Fault, an error page); the check retries while it matches."},
			{Name: "json_path", Type: cty.String, Description: "A path into the JSON body: dotted keys, [n] indexes, # for a length (\".status\", \"workers[0].state\", \"activeapps.#\"). It must exist."},
			{Name: "json_value", Type: cty.String, Description: "The text the json_path value must equal (strings as they are, other values as JSON)."},
			{Name: "fail_status", Type: cty.List(cty.Number), Description: "Statuses that fail the check at once, without further attempts: what waiting cannot cure, such as 401 for wrong credentials."},
			{Name: "retries", Type: cty.Number, Description: "Retry at most this many times after the first attempt (within wait_timeout)."},
			{Name: "interval", Type: cty.String, Default: cty.StringVal("2s"), Description: "Pause between attempts, as a Go duration."},
			{Name: "wait_timeout", Type: cty.String, Default: cty.StringVal("60s"), Description: "Longest time for all attempts, as a Go duration."},
			{Name: "request_timeout", Type: cty.String, Default: cty.StringVal("10s"), Description: "Longest time for one attempt."},
			{Name: "delay", Type: cty.String, Default: cty.StringVal("0s"), Description: "Wait this long before the first attempt, as a Go duration (to look again at something after a while); it does not count in wait_timeout."},
			{Name: "insecure", Type: cty.Bool, Description: "Do not verify the server's certificate (Carbon's self-signed default)."},
			{Name: "ca_file", Type: cty.String, Description: "PEM CA certificates to verify the server with; read on the task host (on the controller with from = \"controller\")."},
			{Name: "from", Type: cty.String, Default: cty.StringVal("host"), Description: "Where the request starts: \"host\" (through the task host's connection) or \"controller\"."},
		},
		Example: `task "http_check" "spark_master" {
  url        = "http://${host.address}:8082/json/"
  json_path  = "status"
  body_regex = "\"status\"\\s*:\\s*\"(ALIVE|STANDBY)\""
  retries    = 30
  interval   = "5s"
  register   = "spark_master"
}`,
	}
}

// spec is a decoded http_check task.
type spec struct {
	url, method, body string
	headers           map[string]string
	user, password    string
	hasAuth           bool
	status            int
	bodyRe            *regexp.Regexp
	bodyNotRe         *regexp.Regexp
	failStatus        map[int]bool
	path              []step
	pathText          string
	value             string
	hasValue          bool
	retries           int // -1: until the timeout
	interval, timeout time.Duration
	reqTimeout        time.Duration
	delay             time.Duration
	insecure          bool
	caFile            string
	caPEM             []byte
	fromController    bool
}

func duration(args *engine.Args, name, def string) (time.Duration, error) {
	s := args.String(name)
	if s == "" {
		s = def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, args.Errorf(name, "%s %q is not a duration", name, s)
	}
	return d, nil
}

// optRegexp compiles the regular expression argument name, or returns nil when it is absent.
func optRegexp(args *engine.Args, name string) (*regexp.Regexp, error) {
	if !args.Has(name) {
		return nil, nil
	}
	re, err := regexp.Compile(args.String(name))
	if err != nil {
		return nil, args.Errorf(name, "%s %q does not compile: %v", name, args.String(name), err)
	}
	return re, nil
}

func decode(args *engine.Args) (*spec, error) {
	s := &spec{url: args.String("url"), method: strings.ToUpper(args.String("method")), body: args.String("body"), headers: args.StringMap("headers"),
		user: args.String("user"), password: args.String("password"), hasAuth: args.Has("user"), status: args.Int("status", 200),
		value: args.String("json_value"), hasValue: args.Has("json_value"), retries: args.Int("retries", -1),
		insecure: args.Bool("insecure"), caFile: args.String("ca_file")}
	if s.method == "" {
		s.method = http.MethodGet
	}
	if !strings.HasPrefix(s.url, "http://") && !strings.HasPrefix(s.url, "https://") {
		return nil, args.Errorf("url", "url %q is not http:// or https://", s.url)
	}
	switch args.String("from") {
	case "", "host":
	case "controller":
		s.fromController = true
	default:
		return nil, args.Errorf("from", "from must be \"host\" or \"controller\", not %q", args.String("from"))
	}
	var err error
	if s.bodyRe, err = optRegexp(args, "body_regex"); err != nil {
		return nil, err
	}
	if s.bodyNotRe, err = optRegexp(args, "body_not_regex"); err != nil {
		return nil, err
	}
	if v := args.Value("fail_status"); args.Has("fail_status") && v.IsWhollyKnown() && v.CanIterateElements() {
		s.failStatus = map[int]bool{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() || e.Type() != cty.Number {
				return nil, args.Errorf("fail_status", "fail_status holds a null or non-number element")
			}
			f := e.AsBigFloat()
			c, acc := f.Int64()
			if acc != big.Exact || c < 100 || c > 599 {
				return nil, args.Errorf("fail_status", "fail_status holds %s, not an HTTP status (100 to 599)", f.Text('f', -1))
			}
			if int(c) == s.status {
				return nil, args.Errorf("fail_status", "fail_status holds %d, the status the check expects", c)
			}
			s.failStatus[int(c)] = true
		}
	}
	if args.Has("json_path") {
		s.pathText = args.String("json_path")
		if s.path, err = parsePath(s.pathText); err != nil {
			return nil, args.Errorf("json_path", "%v", err)
		}
	} else if s.hasValue {
		return nil, args.Errorf("json_value", "json_value needs json_path")
	}
	if s.interval, err = duration(args, "interval", "2s"); err != nil {
		return nil, err
	}
	if s.timeout, err = duration(args, "wait_timeout", "60s"); err != nil {
		return nil, err
	}
	if s.reqTimeout, err = duration(args, "request_timeout", "10s"); err != nil {
		return nil, err
	}
	if s.delay, err = duration(args, "delay", "0s"); err != nil {
		return nil, err
	}
	return s, nil
}

// describe is the one-line summary of what is checked.
func (s *spec) describe() string {
	d := fmt.Sprintf("%s %s, expecting status %d", s.method, s.url, s.status)
	if s.delay > 0 {
		d = fmt.Sprintf("after %s, %s", s.delay, d)
	}
	if s.bodyRe != nil {
		d += fmt.Sprintf(", body ~ /%s/", s.bodyRe)
	}
	if s.bodyNotRe != nil {
		d += fmt.Sprintf(", body !~ /%s/", s.bodyNotRe)
	}
	if s.pathText != "" {
		if s.hasValue {
			d += fmt.Sprintf(", %s = %q", s.pathText, s.value)
		} else {
			d += ", " + s.pathText + " present"
		}
	}
	if s.fromController {
		d += " (from the controller)"
	}
	return d
}

// Check decodes and validates the task and reads the CA file; the request itself is sent by
// Apply, since it asserts on a running service that a plan may be about to start.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	s, err := decode(args)
	if err != nil {
		return nil, err
	}
	if s.caFile != "" {
		if s.fromController {
			s.caPEM, err = os.ReadFile(s.caFile)
			if err != nil {
				return nil, args.Errorf("ca_file", "read %s on the controller: %v", s.caFile, err)
			}
		} else {
			fi, data, err := h.ReadFile(ctx, s.caFile)
			if err != nil {
				return nil, fmt.Errorf("ca_file %s: %w", s.caFile, err)
			}
			if !fi.Exists {
				return nil, args.Errorf("ca_file", "ca_file %s does not exist on %s", s.caFile, h.Name)
			}
			s.caPEM = data
		}
		if !x509.NewCertPool().AppendCertsFromPEM(s.caPEM) {
			return nil, args.Errorf("ca_file", "ca_file %s holds no PEM certificate", s.caFile)
		}
	}
	if !h.IsPlanning() {
		// Applying: the check is made here, as log_compare does, so a passing check is in sync
		// (a check changes nothing) and a second apply still reports zero changes.
		res, err := s.run(ctx, h)
		if err != nil {
			return nil, err
		}
		return &engine.Change{Action: engine.ActionNone, Summary: "checked " + h.Redact(s.describe()), Result: res}, nil
	}
	return &engine.Change{
		Action:  engine.ActionRun,
		Summary: "will check " + h.Redact(s.describe()),
		Unknown: "the response is known after apply",
		Result:  cty.UnknownVal(ResultType),
		Private: s,
	}, nil
}

// client builds the HTTP client: dialing through the host's connection unless from the
// controller, with the TLS settings asked for, no proxy and no keep-alive.
func (s *spec) client(h *engine.Host) (*http.Client, error) {
	tlsConf := &tls.Config{InsecureSkipVerify: s.insecure} //nolint:gosec // asked for explicitly by insecure = true
	if len(s.caPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.caPEM)
		tlsConf.RootCAs = pool
	}
	tr := &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true, Proxy: nil, ResponseHeaderTimeout: s.reqTimeout}
	if s.fromController {
		d := &net.Dialer{}
		tr.DialContext = d.DialContext
	} else {
		tr.DialContext = h.Dial
	}
	return &http.Client{Transport: tr, Timeout: s.reqTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// attempt is the outcome of one request.
type attempt struct {
	status int
	body   []byte
	value  string
	fail   string // why it did not pass; "" when it passed
	final  bool   // the failure is final: no further attempt (a fail_status)
}

func (s *spec) try(ctx context.Context, c *http.Client) attempt {
	rctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(rctx, s.method, s.url, body)
	if err != nil {
		return attempt{fail: err.Error()}
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	if s.hasAuth {
		req.SetBasicAuth(s.user, s.password)
	}
	resp, err := c.Do(req)
	if err != nil {
		return attempt{fail: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	a := attempt{status: resp.StatusCode, body: data}
	if err != nil {
		a.fail = "reading the body: " + err.Error()
		return a
	}
	if resp.StatusCode != s.status {
		a.fail = fmt.Sprintf("status %d, want %d", resp.StatusCode, s.status)
		if s.failStatus[resp.StatusCode] {
			a.fail += " (a fail_status: not retried)"
			a.final = true
		}
		return a
	}
	if s.bodyRe != nil && !s.bodyRe.Match(data) {
		a.fail = fmt.Sprintf("body does not match /%s/", s.bodyRe)
		return a
	}
	if s.bodyNotRe != nil {
		if m := s.bodyNotRe.Find(data); m != nil {
			a.fail = fmt.Sprintf("body matches /%s/ (%q)", s.bodyNotRe, excerpt(m, 80))
			return a
		}
	}
	if s.pathText != "" {
		v, err := lookup(data, s.path)
		if err != nil {
			a.fail = fmt.Sprintf("json path %s: %v", s.pathText, err)
			return a
		}
		a.value = v
		if s.hasValue && v != s.value {
			a.fail = fmt.Sprintf("json path %s is %q, want %q", s.pathText, v, s.value)
			return a
		}
	}
	return a
}

// Apply makes the check of a planned change (Check makes it itself when applying).
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	s, ok := c.Private.(*spec)
	if !ok {
		return fmt.Errorf("http_check: apply without a checked change")
	}
	res, err := s.run(ctx, h)
	if err != nil {
		return err
	}
	c.Result = res
	return nil
}

// run sends the request until it passes, the retries are spent or wait_timeout passes, and
// returns the result of the passing response.
func (s *spec) run(ctx context.Context, h *engine.Host) (cty.Value, error) {
	if s.password != "" {
		h.AddSecret(s.password)
	}
	client, err := s.client(h)
	if err != nil {
		return cty.NilVal, err
	}
	if s.delay > 0 {
		t := time.NewTimer(s.delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return cty.NilVal, fmt.Errorf("http_check %s: %w", h.Redact(s.url), ctx.Err())
		case <-t.C:
		}
	}
	wctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var last attempt
	n := 0
	for {
		n++
		last = s.try(wctx, client)
		if last.fail == "" {
			return cty.ObjectVal(map[string]cty.Value{
				"status": cty.NumberIntVal(int64(last.status)),
				"body":   cty.StringVal(h.Redact(strings.ToValidUTF8(string(last.body), "\uFFFD"))),
				"value":  cty.StringVal(h.Redact(last.value)),
			}), nil
		}
		if last.final || (s.retries >= 0 && n > s.retries) {
			break
		}
		t := time.NewTimer(s.interval)
		select {
		case <-wctx.Done():
			t.Stop()
		case <-t.C:
		}
		if wctx.Err() != nil {
			break
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return cty.NilVal, fmt.Errorf("http_check %s: %w", h.Redact(s.url), ctx.Err())
	}
	msg := fmt.Sprintf("http_check %s: failed after %d attempt%s: %s", h.Redact(s.method+" "+s.url), n, plural(n), h.Redact(last.fail))
	if len(last.body) > 0 {
		msg += "\nbody: " + h.Redact(excerpt(last.body, 500))
	}
	return cty.NilVal, errors.New(msg)
}

// Revert does nothing: a check changes nothing.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error { return nil }

func excerpt(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.TrimSpace(s)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
