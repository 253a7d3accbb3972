package pattern2test

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
)

// consoleTask is pattern2.hcl's G6 SOAP check, as written: its request and its assertions.
type consoleTask struct {
	body                    string
	headers                 map[string]string
	bodyRegex, bodyNotRegex *regexp.Regexp
}

// g6Task reads the "analytics console query" task of play "verify analytics" from
// playbooks/pattern2.hcl; its body, headers and regular expressions are literals.
func g6Task(t *testing.T) consoleTask {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(filepath.Join(clitest.RepoRoot(t), "playbooks/pattern2.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, play := range f.Body.(*hclsyntax.Body).Blocks {
		if play.Type != "play" || play.Labels[0] != "verify analytics" {
			continue
		}
		for _, task := range play.Body.Blocks {
			if task.Type != "task" || task.Labels[1] != "analytics console query" {
				continue
			}
			str := func(name string) string {
				v, diags := task.Body.Attributes[name].Expr.Value(nil)
				if diags.HasErrors() {
					t.Fatalf("%s: %v", name, diags)
				}
				return v.AsString()
			}
			c := consoleTask{body: str("body"), headers: map[string]string{},
				bodyRegex: regexp.MustCompile(str("body_regex")), bodyNotRegex: regexp.MustCompile(str("body_not_regex"))}
			hv, diags := task.Body.Attributes["headers"].Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for k, v := range hv.AsValueMap() {
				c.headers[k] = v.AsString()
			}
			return c
		}
	}
	t.Fatal(`no task "analytics console query" in play "verify analytics"`)
	return consoleTask{}
}

// serveAPI serves the stand-in's --api handler as socat does in a node: one `sh wso2server.sh
// --api AUTHFILE SQLFILE` per connection, the connection's socket as its standard input and
// output (plain TCP here; the node wraps it in TLS).
func serveAPI(t *testing.T, authFile, sqlFile string) string {
	t.Helper()
	script := filepath.Join(clitest.RepoRoot(t), "testdata/standin/wso2server.sh")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f, err := c.(*net.TCPConn).File()
			c.Close()
			if err != nil {
				t.Error(err)
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer f.Close()
				cmd := exec.Command("sh", script, "--api", authFile, sqlFile)
				var stderr strings.Builder
				cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, &stderr
				if err := cmd.Run(); err != nil || stderr.Len() > 0 {
					t.Errorf("wso2server.sh --api: %v\n%s", err, stderr.String())
				}
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// The response types carry the WSDL's namespaces: the envelope's; the service's,
// http://admin.spark.analytics.carbon.wso2.org, for the operation elements, return and the
// fault's detail element; .../xsd for the exception type; http://dto.admin...org/xsd for the DTOs.

// queryResult is an AnalyticsQueryResultDto.
type queryResult struct {
	ColumnNames []string `xml:"http://dto.admin.spark.analytics.carbon.wso2.org/xsd columnNames"`
	Query       string   `xml:"http://dto.admin.spark.analytics.carbon.wso2.org/xsd query"`
	Rows        []struct {
		Values []struct {
			Nil   string `xml:"http://www.w3.org/2001/XMLSchema-instance nil,attr"`
			Value string `xml:",chardata"`
		} `xml:"http://dto.admin.spark.analytics.carbon.wso2.org/xsd columnValues"`
	} `xml:"http://dto.admin.spark.analytics.carbon.wso2.org/xsd rowsResults"`
}

// soapFault is a SOAP 1.1 Fault; Message is the AnalyticsProcessorAdminException's message when
// the detail carries the service's fault element.
type soapFault struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail struct {
		Wrapper *struct {
			Exception struct {
				Message string `xml:"http://admin.spark.analytics.carbon.wso2.org/xsd message"`
			} `xml:"http://admin.spark.analytics.carbon.wso2.org AnalyticsProcessorAdminException"`
		} `xml:"http://admin.spark.analytics.carbon.wso2.org AnalyticsProcessorAdminServiceAnalyticsProcessorAdminException"`
	} `xml:"detail"`
}

// soapResponse is an answer of the service: an executeQueryResponse or a Fault.
type soapResponse struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Response *struct {
			Return *queryResult `xml:"http://admin.spark.analytics.carbon.wso2.org return"`
		} `xml:"http://admin.spark.analytics.carbon.wso2.org executeQueryResponse"`
		Fault *soapFault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

func (r soapResponse) result() *queryResult {
	if r.Body.Response == nil {
		return nil
	}
	return r.Body.Response.Return
}

func (f *soapFault) adminMessage() string {
	if f == nil || f.Detail.Wrapper == nil {
		return ""
	}
	return f.Detail.Wrapper.Exception.Message
}

// TestStandinAdminService sends pattern2.hcl's own G6 request (body and headers as the playbook
// writes them) to the stand-in's AnalyticsProcessorAdminService, and checks its answers against
// the WSDL's shapes and the task's assertions: the result passes body_regex and not
// body_not_regex; every fault is caught by body_not_regex and fails body_regex.
func TestStandinAdminService(t *testing.T) {
	g6 := g6Task(t)
	dir := t.TempDir()
	authFile, sqlFile := filepath.Join(dir, "api.auth"), filepath.Join(dir, "api.sql")
	if err := os.WriteFile(authFile, []byte(base64.StdEncoding.EncodeToString([]byte("admin:"+adminPass))), 0o600); err != nil {
		t.Fatal(err)
	}
	base := serveAPI(t, authFile, sqlFile)
	type call struct {
		path, method, body, user, pass string
		headers                        map[string]string
	}
	g6Call := func(edit func(*call)) call {
		c := call{path: "/services/AnalyticsProcessorAdminService", method: "POST", body: g6.body, user: "admin", pass: adminPass, headers: map[string]string{}}
		for k, v := range g6.headers {
			c.headers[k] = v
		}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	send := func(t *testing.T, c call) (int, http.Header, string, soapResponse) {
		t.Helper()
		req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("body (Content-Length %d): %v", resp.ContentLength, err)
		}
		var r soapResponse
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
			if err := xml.Unmarshal(b, &r); err != nil {
				t.Fatalf("%v in %s", err, b)
			}
		}
		return resp.StatusCode, resp.Header, string(b), r
	}
	// faultCase asserts a SOAP fault: its status, faultcode, faultstring, the service's exception
	// message when it is one, and that the G6 task's assertions reject it.
	faultCase := func(t *testing.T, c call, status int, code, faultString, adminMessage string) {
		t.Helper()
		st, _, body, r := send(t, c)
		f := r.Body.Fault
		if st != status || f == nil || f.Code != "soapenv:"+code || f.String != faultString || f.adminMessage() != adminMessage || r.result() != nil {
			t.Fatalf("status %d, fault %+v, want %d %s %q %q:\n%s", st, f, status, code, faultString, adminMessage, body)
		}
		if g6.bodyRegex.MatchString(body) || !g6.bodyNotRegex.MatchString(body) {
			t.Fatalf("the G6 task would not reject this fault:\n%s", body)
		}
	}
	selectOne := func(q string) func(*call) {
		return func(c *call) { c.body = strings.Replace(c.body, "SELECT 1", q, 1) }
	}

	t.Run("before the Spark SQL context", func(t *testing.T) {
		faultCase(t, g6Call(nil), 500, "Server", "Error while executing query : SELECT 1",
			"Spark SQL Context is not available. Check if the cluster has instantiated properly.")
	})
	if err := os.WriteFile(sqlFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("the G6 query", func(t *testing.T) {
		st, h, body, r := send(t, g6Call(nil))
		res := r.result()
		if st != 200 || h.Get("Content-Type") != "text/xml; charset=UTF-8" || res == nil || r.Body.Fault != nil {
			t.Fatalf("status %d, %q:\n%s", st, h.Get("Content-Type"), body)
		}
		if strings.Join(res.ColumnNames, ",") != "_c0" || res.Query != "SELECT 1" || len(res.Rows) != 1 ||
			len(res.Rows[0].Values) != 1 || res.Rows[0].Values[0].Value != "1" {
			t.Fatalf("result %+v:\n%s", res, body)
		}
		if !g6.bodyRegex.MatchString(body) || g6.bodyNotRegex.MatchString(body) {
			t.Fatalf("the G6 task's assertions reject the answer:\n%s", body)
		}
	})
	t.Run("several literals", func(t *testing.T) {
		st, _, body, r := send(t, g6Call(selectOne(`SELECT 2 AS two, 'a &amp; b' s, null;`)))
		res := r.result()
		if st != 200 || res == nil || strings.Join(res.ColumnNames, ",") != "two,s,_c2" || res.Query != "SELECT 2 AS two, 'a & b' s, null;" ||
			len(res.Rows) != 1 || len(res.Rows[0].Values) != 3 || res.Rows[0].Values[1].Value != "a & b" || res.Rows[0].Values[2].Nil != "true" {
			t.Fatalf("status %d, result %+v:\n%s", st, res, body)
		}
		// Another answer is still an answer, but not G6's: its row holds 2, not 1.
		if g6.bodyRegex.MatchString(body) {
			t.Fatalf("body_regex accepts a row without 1:\n%s", body)
		}
	})
	t.Run("malformed query", func(t *testing.T) {
		faultCase(t, g6Call(selectOne("SELEC 1")), 500, "Server", "Error while executing query : SELEC 1", "[1.1] failure: ``with'' expected but identifier SELEC found")
	})
	t.Run("unknown table", func(t *testing.T) {
		faultCase(t, g6Call(selectOne("SELECT * FROM ORG_WSO2_IS_ANALYTICS_STREAM_AUTH LIMIT 1")), 500, "Server",
			"Error while executing query : SELECT * FROM ORG_WSO2_IS_ANALYTICS_STREAM_AUTH LIMIT 1", "Table not found: ORG_WSO2_IS_ANALYTICS_STREAM_AUTH;")
	})
	t.Run("empty query", func(t *testing.T) {
		faultCase(t, g6Call(selectOne("")), 500, "Server", "No queries provided to execute.", "No queries provided to execute.")
	})
	t.Run("wrong operation", func(t *testing.T) {
		faultCase(t, g6Call(func(c *call) { c.headers["SOAPAction"] = `"urn:runQuery"` }), 500, "Client",
			"The endpoint reference (EPR) for the Operation not found is /services/AnalyticsProcessorAdminService and the WSA Action = urn:runQuery. If this EPR was previously reachable, please contact the server administrator.", "")
	})
	t.Run("no SOAPAction, dispatched on the body", func(t *testing.T) {
		st, _, body, r := send(t, g6Call(func(c *call) { delete(c.headers, "SOAPAction") }))
		if st != 200 || r.result() == nil || !g6.bodyRegex.MatchString(body) {
			t.Fatalf("status %d:\n%s", st, body)
		}
	})
	t.Run("operation element in the DTO namespace", func(t *testing.T) {
		faultCase(t, g6Call(func(c *call) {
			c.body = strings.Replace(c.body, `xmlns:adm="http://admin.spark.analytics.carbon.wso2.org"`, `xmlns:adm="http://admin.spark.analytics.carbon.wso2.org/xsd"`, 1)
		}), 500, "Server", "namespace mismatch require http://admin.spark.analytics.carbon.wso2.org found http://admin.spark.analytics.carbon.wso2.org/xsd", "")
	})
	t.Run("SOAP 1.2 content type", func(t *testing.T) {
		faultCase(t, g6Call(func(c *call) { c.headers["Content-Type"] = "application/soap+xml; charset=UTF-8" }), 500, "Client",
			"Transport level information does not match with SOAP Message namespace URI", "")
	})
	t.Run("wrong password", func(t *testing.T) {
		faultCase(t, g6Call(func(c *call) { c.pass = "wrong-" + adminPass }), 401, "Client",
			"Access Denied. Authentication failed - Invalid credentials provided.", "")
	})
	t.Run("no credentials", func(t *testing.T) {
		st, h, body, _ := send(t, g6Call(func(c *call) { c.user = "" }))
		if st != 401 || h.Get("WWW-Authenticate") != `Basic realm="WSO2 Identity Server Analytics"` || body != "" {
			t.Fatalf("status %d, %v: %q", st, h, body)
		}
	})
	t.Run("REST API beside it", func(t *testing.T) {
		if st, _, body, _ := send(t, call{path: "/analytics/tables", method: "GET", user: "admin", pass: adminPass}); st != 200 || body != "[]" {
			t.Fatalf("status %d: %q", st, body)
		}
		if st, _, _, _ := send(t, call{path: "/analytics/tables", method: "GET", user: "admin", pass: "x"}); st != 401 {
			t.Fatalf("status %d with a wrong password", st)
		}
	})
}
