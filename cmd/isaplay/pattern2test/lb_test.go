package pattern2test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isaplay/isaplay/cmd/isaplay/clitest"
	"github.com/isaplay/isaplay/inventory/testcluster"
)

// The load balancer's files on its node (under the node's own /opt) and its public name.
const (
	lbName      = "is.example.com"
	lbMain      = "/opt/lb/nginx.conf"
	lbConfig    = "/opt/lb/conf.d/wso2is.conf"
	lbCert      = "/opt/lb/tls/is.example.com.crt"
	lbKey       = "/opt/lb/tls/is.example.com.key"
	standinJava = "/usr/lib/jvm/default-java"
)

// lbNode is a real nginx on test node i, started before the playbook runs with a main
// configuration that includes /opt/lb/conf.d/*.conf (empty at first, so it serves nothing), as
// Debian's nginx.conf includes conf.d. Its pid, logs and temporary files live in a folder of the
// test (the nodes share /tmp), so the node's /opt holds only what an operator would put there.
type lbNode struct {
	c    *testcluster.Cluster
	i    int
	addr string
	pool *x509.CertPool
}

func newLBNode(t *testing.T, c *testcluster.Cluster, i int) *lbNode {
	t.Helper()
	lb := &lbNode{c: c, i: i, addr: c.Nodes[i].Address}
	root := filepath.Join(c.NodeRoot(i), "lb")
	for _, d := range []string{"conf.d", "tls"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	certPEM, keyPEM := selfSigned(t, lbName)
	lb.pool = x509.NewCertPool()
	lb.pool.AppendCertsFromPEM(certPEM)
	if err := os.WriteFile(filepath.Join(root, "tls", filepath.Base(lbCert)), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tls", filepath.Base(lbKey)), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	rt := t.TempDir()
	main := fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {
    worker_connections 64;
}
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include /opt/lb/conf.d/*.conf;
}
`, rt)
	if err := os.WriteFile(filepath.Join(root, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := lb.run(t, "nginx -c "+lbMain); err != nil {
		t.Fatalf("starting nginx on %s: %v\n%s", c.Nodes[i].Name, err, out)
	}
	t.Cleanup(func() { lb.run(t, "nginx -c "+lbMain+" -s quit") })
	return lb
}

// run runs a shell command on the LB node through SSH and returns its combined output.
func (lb *lbNode) run(t *testing.T, cmd string) (string, error) {
	t.Helper()
	return sshRun(lb.c, lb.i, cmd)
}

// get sends GET path to the LB (https: port 443, verifying its certificate for lbName; else
// port 80) and returns the status, the stand-in node that answered and the body.
func (lb *lbNode) get(https bool, path, user, password string) (int, string, string, error) {
	url := "http://" + lb.addr + ":80" + path
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	if https {
		url = "https://" + lb.addr + ":443" + path
		tr.TLSClientConfig = &tls.Config{RootCAs: lb.pool, ServerName: lbName}
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Host = lbName
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Standin-Node"), string(body), err
}

// until retries f every 100ms until it returns nil or the deadline passes, and returns its last
// error: for waiting on a condition (nginx loading a configuration, a node's ports closing).
func until(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sshRun runs a shell command on node i as the cluster's user and returns its combined output.
func sshRun(c *testcluster.Cluster, i int, cmd string) (string, error) {
	out, errOut, err := c.Run(i, cmd)
	return out + errOut, err
}

// selfSigned makes a throwaway ECDSA certificate for name and its key, in PEM.
func selfSigned(t *testing.T, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// refused reports nil when nothing listens on addr any more.
func refused(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil
	}
	conn.Close()
	return fmt.Errorf("%s still accepts connections", addr)
}

// isaplayIn runs isaplay with args in dir, its state under dir/state, and fails the test unless
// it fails exactly when wantErr. It returns the combined output.
func isaplayIn(t *testing.T, dir string, wantErr bool, args ...string) string {
	t.Helper()
	cmd := exec.Command(isaplayBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ISAPLAY_STATE_DIR="+filepath.Join(dir, "state"))
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantErr {
		t.Fatalf("isaplay %s: error %v, want error %v\n%s", strings.Join(args, " "), err, wantErr, out)
	}
	return string(out)
}

// TestNginxLBRefusesBadConfig applies playbooks/lib/nginx-lb.hcl to a real sshd node running a
// real nginx, with files nginx would refuse or never load: the apply fails with nginx's own
// reason, its rollback removes the file, and nginx, never reloaded with it, still serves nothing.
// A good file is then tested, written and loaded (nginx answers on 443 with the certificate).
func TestNginxLBRefusesBadConfig(t *testing.T) {
	repo := clitest.RepoRoot(t)
	dir := t.TempDir()
	c := testcluster.New(t, testcluster.Options{N: 1, Dir: filepath.Join(dir, "cluster")})
	lb := newLBNode(t, c, 0)
	pb := filepath.Join(dir, "lb.hcl")
	if err := os.WriteFile(pb, []byte(fmt.Sprintf(`variable "path" {
  type    = string
  default = %q
}
variable "cert" {
  type    = string
  default = %q
}
variable "nginx" {
  type    = string
  default = "nginx"
}
play "lb" {
  hosts = "nodes"
  include "nginx" {
    source      = %q
    path        = var.path
    server_name = %q
    members     = ["127.0.0.1"]
    listen      = %q
    cert_file   = var.cert
    key_file    = %q
    nginx       = var.nginx
    nginx_conf  = %q
    reload      = ["nginx", "-c", %q, "-s", "reload"]
  }
}
`, lbConfig, lbCert, filepath.Join(repo, "playbooks/lib/nginx-lb.hcl"), lbName, lb.addr, lbKey, lbMain, lbMain)), 0o644); err != nil {
		t.Fatal(err)
	}
	apply := func(wantErr bool, vars ...string) string {
		t.Helper()
		args := []string{"apply", "--yes", pb, "-i", c.Inventory}
		for _, v := range vars {
			args = append(args, "--var", v)
		}
		return isaplayIn(t, dir, wantErr, args...)
	}
	before := snapshot(t, c.NodeRoot(0))
	for _, bad := range []struct {
		name string
		vars []string
		want string
	}{
		{"missing certificate", []string{"cert=/opt/lb/tls/missing.crt"}, `cannot load certificate "/opt/lb/tls/missing.crt"`},
		{"file nginx does not include", []string{"path=/opt/lb/wso2is.conf"}, lbMain + " does not include /opt/lb/wso2is.conf: nginx would never load it"},
		{"no nginx", []string{"nginx=/nonexistent/nginx"}, "/nonexistent/nginx not found on this host: install nginx"},
	} {
		out := apply(true, bad.vars...)
		if !strings.Contains(out, bad.want) || !strings.Contains(out, "Every change of this run was rolled back.") {
			t.Errorf("%s: the apply does not say %q and roll back:\n%s", bad.name, bad.want, out)
		}
		if d := diffSnapshots(before, snapshot(t, c.NodeRoot(0))); d != "" {
			t.Errorf("%s: the node's files after the failed apply:\n%s", bad.name, d)
		}
		if err := refused(lb.addr + ":443"); err != nil {
			t.Errorf("%s: %v", bad.name, err)
		}
	}
	out := apply(false)
	if !strings.Contains(out, "lb / nginx / config test: changed") || !strings.Contains(out, "lb / nginx / reload: changed") {
		t.Errorf("apply:\n%s", out)
	}
	// No IS node behind it: nginx itself answers 502, over TLS with the configured certificate.
	err := until(10*time.Second, func() error {
		status, _, _, err := lb.get(true, "/", "", "")
		if err != nil || status != http.StatusBadGateway {
			return fmt.Errorf("%d, %v", status, err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("the LB after a good apply: %v", err)
	}
}
