package httpcheck

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/zclconf/go-cty/cty"
)

// dialCounter counts TCP connections opened through the host connection.
type dialCounter struct {
	conn.Conn
	dials atomic.Int32
}

func (d *dialCounter) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.dials.Add(1)
	return d.Conn.Dial(ctx, network, addr)
}

// sparkMaster serves Spark's /json/ master state; the first `failures` requests get 503.
func sparkMaster(status string, failures int32) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= failures {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"url":"spark://10.0.0.11:7078","workers":[{"id":"w1","state":"ALIVE"},{"id":"w2","state":"ALIVE"}],`+
			`"activeapps":[{"name":"CarbonAnalytics"}],"status":%q,"cores":2}`, status)
	}))
	return srv, &n
}

func check(t *testing.T, h *engine.Host, vals map[string]cty.Value) (*engine.Change, error) {
	t.Helper()
	c, err := Module{}.Check(context.Background(), h, engine.NewArgs(Name, vals))
	if err != nil {
		return nil, err
	}
	// Applying, Check makes the request itself: a passing check is in sync.
	if c.Action != engine.ActionNone || !c.Result.IsWhollyKnown() {
		t.Fatalf("check while applying = %+v, want in sync with a known result", c)
	}
	return c, nil
}

func TestHTTPCheck(t *testing.T) {
	alive, _ := sparkMaster("ALIVE", 0)
	defer alive.Close()
	tests := []struct {
		name      string
		vals      map[string]cty.Value
		wantValue string
		wantErr   string
	}{
		{name: "json value", vals: map[string]cty.Value{"url": cty.StringVal(alive.URL + "/json/"), "json_path": cty.StringVal(".status"), "json_value": cty.StringVal("ALIVE")}, wantValue: "ALIVE"},
		{name: "json count", vals: map[string]cty.Value{"url": cty.StringVal(alive.URL + "/json/"), "json_path": cty.StringVal("workers.#"), "json_value": cty.StringVal("2")}, wantValue: "2"},
		{name: "json index", vals: map[string]cty.Value{"url": cty.StringVal(alive.URL), "json_path": cty.StringVal("activeapps[0].name")}, wantValue: "CarbonAnalytics"},
		{name: "body regex", vals: map[string]cty.Value{"url": cty.StringVal(alive.URL), "body_regex": cty.StringVal(`"status":"(ALIVE|STANDBY)"`)}},
		{name: "wrong value fails after retries", vals: map[string]cty.Value{"url": cty.StringVal(alive.URL), "json_path": cty.StringVal("status"), "json_value": cty.StringVal("STANDBY"),
			"retries": cty.NumberIntVal(1), "interval": cty.StringVal("1ms")}, wantErr: `failed after 2 attempts: json path status is "ALIVE", want "STANDBY"`},
		{name: "missing key", vals: map[string]cty.Value{"url": cty.StringVal(alive.URL), "json_path": cty.StringVal("workers[5].state"), "retries": cty.NumberIntVal(0)}, wantErr: "$.workers has 2 elements, no [5]"},
		{name: "wrong status", vals: map[string]cty.Value{"url": cty.StringVal(alive.URL), "status": cty.NumberIntVal(204), "retries": cty.NumberIntVal(0)}, wantErr: "status 200, want 204"},
		{name: "bad url", vals: map[string]cty.Value{"url": cty.StringVal("ftp://x")}, wantErr: "is not http:// or https://"},
		{name: "bad path", vals: map[string]cty.Value{"url": cty.StringVal(alive.URL), "json_path": cty.StringVal("a[x]")}, wantErr: "is not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
			c, err := check(t, h, tt.vals)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Result.GetAttr("value").AsString(); got != tt.wantValue {
				t.Fatalf("value = %q, want %q", got, tt.wantValue)
			}
			if c.Result.GetAttr("status").AsBigFloat().String() != "200" {
				t.Fatalf("status = %v", c.Result.GetAttr("status"))
			}
		})
	}
}

func TestHTTPCheckRetriesThroughHostConnection(t *testing.T) {
	srv, n := sparkMaster("STANDBY", 2)
	defer srv.Close()
	dc := &dialCounter{Conn: local.New()}
	h := engine.NewHost("an2", dc, "run1", t.TempDir(), nil)
	vals := map[string]cty.Value{"url": cty.StringVal(srv.URL + "/json/"), "json_path": cty.StringVal("status"), "json_value": cty.StringVal("STANDBY"), "interval": cty.StringVal("5ms")}
	c, err := check(t, h, vals)
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 || dc.dials.Load() != 3 {
		t.Fatalf("requests = %d, dials through the host = %d; want 3 and 3", n.Load(), dc.dials.Load())
	}
	if c.Result.GetAttr("value").AsString() != "STANDBY" {
		t.Fatalf("result = %v", c.Result)
	}
	// from = "controller" does not use the host's connection.
	vals["from"] = cty.StringVal("controller")
	if _, err := check(t, h, vals); err != nil {
		t.Fatal(err)
	}
	if dc.dials.Load() != 3 {
		t.Fatalf("from = controller dialled through the host")
	}
}

func TestHTTPCheckTLSAndSecrets(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		if u != "admin" || p != "Adm1n!pw" {
			http.Error(w, "denied for "+u+":"+p, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `[{"tableName":"ORG_WSO2_IS_ANALYTICS_STREAM_AUTHSTATDATA"}]`)
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	base := func(extra map[string]cty.Value) map[string]cty.Value {
		m := map[string]cty.Value{"url": cty.StringVal(srv.URL + "/analytics/tables"), "user": cty.StringVal("admin"), "password": cty.StringVal("Adm1n!pw"),
			"json_path": cty.StringVal("[0].tableName"), "retries": cty.NumberIntVal(0)}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if _, err := check(t, h, base(nil)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an unverified self-signed certificate was accepted: %v", err)
	}
	if _, err := check(t, h, base(map[string]cty.Value{"insecure": cty.True})); err != nil {
		t.Fatal(err)
	}
	c, err := check(t, h, base(map[string]cty.Value{"ca_file": cty.StringVal(caFile)}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Result.GetAttr("value").AsString() != "ORG_WSO2_IS_ANALYTICS_STREAM_AUTHSTATDATA" {
		t.Fatalf("result = %v", c.Result)
	}
	// A wrong password echoed back by the server stays masked; the right one is a secret too.
	h.AddSecret("wrong-pw")
	_, err = check(t, h, base(map[string]cty.Value{"insecure": cty.True, "password": cty.StringVal("wrong-pw")}))
	if err == nil || strings.Contains(err.Error(), "wrong-pw") || !strings.Contains(err.Error(), "denied for admin:(sensitive)") {
		t.Fatalf("error = %v", err)
	}
}

// TestHTTPCheckPlanDoesNotNeedTheServer: a plan made before the service starts does not fail.
func TestHTTPCheckPlanDoesNotNeedTheServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/json/"
	l.Close()
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	vals := map[string]cty.Value{"url": cty.StringVal(url), "json_path": cty.StringVal("status"), "json_value": cty.StringVal("ALIVE"),
		"wait_timeout": cty.StringVal("300ms"), "interval": cty.StringVal("50ms")}
	c, err := Module{}.Check(context.Background(), h.Planning(), engine.NewArgs(Name, vals))
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != engine.ActionRun || c.Result.IsKnown() || c.Summary != `will check GET `+url+`, expecting status 200, status = "ALIVE"` {
		t.Fatalf("plan = %+v", c)
	}
	// At apply, with nothing listening, it retries until the timeout and fails.
	_, err = check(t, h, vals)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("want a refused connection after retries, got %v", err)
	}
}

func TestLookup(t *testing.T) {
	body := []byte(`{"a":{"b":[1,{"c":true},null]},"n":1.50,"s":"x"}`)
	for path, want := range map[string]string{"a.b[0]": "1", "a.b[1].c": "true", "a.b[2]": "null", "a.b.#": "3", "n": "1.50", "$.s": "x", "a.b[1]": `{"c":true}`, "": `{"a":{"b":[1,{"c":true},null]},"n":1.50,"s":"x"}`} {
		p, err := parsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lookup(body, p)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", path, got, err, want)
		}
	}
}

// TestHTTPCheckDelay: delay holds the first attempt back; without it, a single attempt comes
// too early for a service that is not ready yet.
func TestHTTPCheckDelay(t *testing.T) {
	ready := time.Now().Add(300 * time.Millisecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(ready) {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"status":"ALIVE"}`)
	}))
	defer srv.Close()
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	vals := map[string]cty.Value{"url": cty.StringVal(srv.URL), "json_path": cty.StringVal("status"), "retries": cty.NumberIntVal(0)}
	if _, err := check(t, h, vals); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("without delay: %v, want a 503 on the only attempt", err)
	}
	vals["delay"] = cty.StringVal("400ms")
	c, err := check(t, h, vals)
	if err != nil {
		t.Fatalf("with delay: %v", err)
	}
	if got := c.Result.GetAttr("value").AsString(); got != "ALIVE" {
		t.Fatalf("value = %q", got)
	}
}

// soapService models a Carbon admin service: it answers a POST whose Content-Type, SOAPAction
// and body are those asked for, with a SOAP Fault (status faultStatus) for the first `faults`
// requests, and 400 for a request it does not expect.
func soapService(t *testing.T, faults int32, faultStatus int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "text/xml; charset=UTF-8" ||
			r.Header.Get("SOAPAction") != `"urn:executeQuery"` || !strings.Contains(string(body), "<xsd:query>SELECT 1</xsd:query>") {
			http.Error(w, fmt.Sprintf("unexpected %s %q %q %q", r.Method, r.Header.Get("Content-Type"), r.Header.Get("SOAPAction"), body), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=UTF-8")
		if n.Add(1) <= faults {
			w.WriteHeader(faultStatus)
			fmt.Fprint(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault>`+
				`<faultcode>soapenv:Server</faultcode><faultstring>Spark SQL Context is not available.</faultstring><detail>`+
				`<ns:AnalyticsProcessorAdminServiceAnalyticsProcessorAdminException/></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
			return
		}
		fmt.Fprint(w, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ns:executeQueryResponse>`+
			`<ns:return><ax:columnNames>_c0</ax:columnNames><ax:rowsResults><ax:columnValues>1</ax:columnValues></ax:rowsResults></ns:return>`+
			`</ns:executeQueryResponse></soapenv:Body></soapenv:Envelope>`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func soapArgs(url string, extra map[string]cty.Value) map[string]cty.Value {
	m := map[string]cty.Value{
		"url":            cty.StringVal(url),
		"method":         cty.StringVal("post"),
		"body":           cty.StringVal(`<soapenv:Envelope><soapenv:Body><xsd:executeQuery><xsd:query>SELECT 1</xsd:query></xsd:executeQuery></soapenv:Body></soapenv:Envelope>`),
		"headers":        cty.MapVal(map[string]cty.Value{"Content-Type": cty.StringVal("text/xml; charset=UTF-8"), "SOAPAction": cty.StringVal(`"urn:executeQuery"`)}),
		"body_regex":     cty.StringVal(`<(\w+:)?rowsResults>\s*<(\w+:)?columnValues>1<`),
		"body_not_regex": cty.StringVal(`Fault>|AnalyticsProcessorAdminException`),
		"interval":       cty.StringVal("1ms"),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// TestHTTPCheckPostAndBodyNotRegex: method, body and headers reach the server; a response that
// matches body_not_regex does not pass, and is retried (a fault that waiting can cure).
func TestHTTPCheckPostAndBodyNotRegex(t *testing.T) {
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	// A fault sent with status 200 passes the status and would pass a lax body_regex; only
	// body_not_regex stops it.
	srv, n := soapService(t, 2, http.StatusOK)
	c, err := check(t, h, soapArgs(srv.URL, map[string]cty.Value{"body_regex": cty.StringVal("Envelope")}))
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 || !strings.Contains(c.Result.GetAttr("body").AsString(), "<ax:columnValues>1<") {
		t.Fatalf("requests = %d, result %v; want the third answer", n.Load(), c.Result)
	}
	srv, _ = soapService(t, 1, http.StatusOK)
	_, err = check(t, h, soapArgs(srv.URL, map[string]cty.Value{"body_regex": cty.StringVal("Envelope"), "retries": cty.NumberIntVal(0)}))
	if err == nil || !strings.Contains(err.Error(), `failed after 1 attempt: body matches /Fault>|AnalyticsProcessorAdminException/ ("Fault>")`) {
		t.Fatalf("a 200 fault passed or failed unclearly: %v", err)
	}
	// Without the SOAPAction header the server refuses the request: the headers are really sent.
	args := soapArgs(srv.URL, map[string]cty.Value{"retries": cty.NumberIntVal(0),
		"headers": cty.MapVal(map[string]cty.Value{"Content-Type": cty.StringVal("text/xml; charset=UTF-8")})})
	if _, err := check(t, h, args); err == nil || !strings.Contains(err.Error(), "status 400, want 200") {
		t.Fatalf("want 400 without SOAPAction, got %v", err)
	}
}

// TestHTTPCheckFailStatus: a fail_status ends the check on the first attempt, however long
// wait_timeout is; other statuses are still retried.
func TestHTTPCheckFailStatus(t *testing.T) {
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	srv, n := soapService(t, 1000, http.StatusUnauthorized)
	start := time.Now()
	_, err := check(t, h, soapArgs(srv.URL, map[string]cty.Value{"fail_status": cty.ListVal([]cty.Value{cty.NumberIntVal(403), cty.NumberIntVal(401)}),
		"wait_timeout": cty.StringVal("10m")}))
	if err == nil || !strings.Contains(err.Error(), "failed after 1 attempt: status 401, want 200 (a fail_status: not retried)") ||
		!strings.Contains(err.Error(), "Spark SQL Context is not available.") || n.Load() != 1 {
		t.Fatalf("requests = %d after %v, error %v; want one request and the fault in the error", n.Load(), time.Since(start), err)
	}
	// A status not listed is retried until it passes.
	srv, n = soapService(t, 2, http.StatusInternalServerError)
	if _, err := check(t, h, soapArgs(srv.URL, map[string]cty.Value{"fail_status": cty.ListVal([]cty.Value{cty.NumberIntVal(401)})})); err != nil || n.Load() != 3 {
		t.Fatalf("requests = %d, error %v; want the 500s retried", n.Load(), err)
	}
}

func TestHTTPCheckArgErrors(t *testing.T) {
	h := engine.NewHost("an1", local.New(), "run1", t.TempDir(), nil)
	for _, tt := range []struct {
		extra map[string]cty.Value
		want  string
	}{
		{map[string]cty.Value{"fail_status": cty.ListVal([]cty.Value{cty.NumberIntVal(200)})}, "fail_status holds 200, the status the check expects"},
		{map[string]cty.Value{"fail_status": cty.ListVal([]cty.Value{cty.NumberFloatVal(401.5)})}, "fail_status holds 401.5, not an HTTP status"},
		{map[string]cty.Value{"fail_status": cty.ListVal([]cty.Value{cty.NumberIntVal(42)})}, "fail_status holds 42, not an HTTP status"},
		{map[string]cty.Value{"body_not_regex": cty.StringVal("(")}, "body_not_regex \"(\" does not compile"},
	} {
		_, err := Module{}.Check(context.Background(), h.Planning(), engine.NewArgs(Name, soapArgs("http://127.0.0.1:1/", tt.extra)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want %q", tt.extra, err, tt.want)
		}
	}
	c, err := Module{}.Check(context.Background(), h.Planning(), engine.NewArgs(Name, soapArgs("http://127.0.0.1:1/s", nil)))
	if err != nil {
		t.Fatal(err)
	}
	if want := `will check POST http://127.0.0.1:1/s, expecting status 200, body ~ /<(\w+:)?rowsResults>\s*<(\w+:)?columnValues>1</, body !~ /Fault>|AnalyticsProcessorAdminException/`; c.Summary != want {
		t.Fatalf("summary %q,\nwant    %q", c.Summary, want)
	}
}
