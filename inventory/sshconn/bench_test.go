package sshconn_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	scp "github.com/bramvdbogaerde/go-scp"
	"golang.org/x/crypto/ssh"

	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/isaplay/isaplay/inventory/testcluster"
)

// benchN is the number of nodes the benchmarks run against.
const benchN = 10

var (
	benchOnce    sync.Once
	benchCluster *testcluster.Cluster
	benchErr     error
)

func benchNodes(b *testing.B) *testcluster.Cluster {
	benchOnce.Do(func() {
		benchCluster, benchErr = testcluster.Start(context.Background(), testcluster.Options{N: benchN, Prefix: "bench"})
		if benchErr == nil {
			for i := range benchCluster.Nodes {
				f := filepath.Join(benchCluster.NodeRoot(i), "app.properties")
				benchErr = os.WriteFile(f, bytes.Repeat([]byte("some.key=some value\n"), 200), 0o644)
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	// TestMain stops the shared cluster; this one is stopped at exit by the package's TestMain
	// through stopBench.
	return benchCluster
}

// stopBench stops the benchmark cluster if one was started.
func stopBench() {
	if benchCluster != nil {
		benchCluster.Stop()
		os.RemoveAll(benchCluster.Dir)
	}
}

// accepted counts "Accepted publickey" lines in every node's sshd log: the handshakes the
// servers really completed.
func accepted(c *testcluster.Cluster) int {
	n := 0
	for _, node := range c.Nodes {
		b, _ := os.ReadFile(filepath.Join(node.Dir, "sshd.log"))
		n += strings.Count(string(b), "Accepted publickey")
	}
	return n
}

func rawClient(c *testcluster.Cluster, i int) (*ssh.Client, error) {
	return ssh.Dial("tcp", c.Addr(i), &ssh.ClientConfig{
		User: c.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(c.Signer)},
		HostKeyCallback: ssh.FixedHostKey(c.Nodes[i].HostKey),
	})
}

// parallel runs f for every node at once and fails on the first error.
func parallel(b *testing.B, n int, f func(i int) error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = f(i)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloor is the physical floor of one run: N handshakes with auth in parallel and one
// `true` session on each, with x/crypto/ssh directly.
func BenchmarkFloor(b *testing.B) {
	c := benchNodes(b)
	before := accepted(c)
	for b.Loop() {
		parallel(b, benchN, func(i int) error {
			cl, err := rawClient(c, i)
			if err != nil {
				return err
			}
			defer cl.Close()
			s, err := cl.NewSession()
			if err != nil {
				return err
			}
			defer s.Close()
			return s.Run("true")
		})
	}
	b.ReportMetric(float64(accepted(c)-before)/float64(b.N), "handshakes/op")
}

// BenchmarkDial is Dial (handshake, auth, first framed shell) plus one Run("true") per node.
func BenchmarkDial(b *testing.B) {
	c := benchNodes(b)
	before := accepted(c)
	for b.Loop() {
		parallel(b, benchN, func(i int) error {
			x, err := sshconn.Dial(context.Background(), benchConfig(c, i))
			if err != nil {
				return err
			}
			defer x.Close()
			_, err = x.Run(context.Background(), conn.Command{Script: "true"})
			return err
		})
	}
	b.ReportMetric(float64(accepted(c)-before)/float64(b.N), "handshakes/op")
}

// BenchmarkPlan10 is the shape of a no-change plan of a 10-task playbook: every node dialled,
// then 10 one-round-trip reads per node (ReadFile, Stat with hash, alternating), nodes in
// parallel. Compare with BenchmarkFloor.
func BenchmarkPlan10(b *testing.B) {
	c := benchNodes(b)
	before := accepted(c)
	var sessions int64
	for b.Loop() {
		var mu sync.Mutex
		parallel(b, benchN, func(i int) error {
			x, err := sshconn.Dial(context.Background(), benchConfig(c, i))
			if err != nil {
				return err
			}
			defer x.Close()
			for task := 0; task < 10; task++ {
				if task%2 == 0 {
					_, _, err = x.ReadFile(context.Background(), "/opt/app.properties", false)
				} else {
					_, err = x.Stat(context.Background(), []string{"/opt/app.properties", "/opt"}, true)
				}
				if err != nil {
					return err
				}
			}
			mu.Lock()
			sessions += x.Sessions()
			mu.Unlock()
			return nil
		})
	}
	b.ReportMetric(float64(accepted(c)-before)/float64(b.N), "handshakes/op")
	b.ReportMetric(float64(sessions)/float64(b.N), "sessions/op")
}

func benchConfig(c *testcluster.Cluster, i int) sshconn.Config {
	cfg := config(c, i)
	return cfg
}

// Single-connection latencies: the framed shell against a fresh session per command.

func benchOp(b *testing.B, op func(ctx context.Context, x *sshconn.Conn) error) {
	c := benchNodes(b)
	x, err := sshconn.Dial(context.Background(), benchConfig(c, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for b.Loop() {
		if err := op(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(x.Sessions()), "sessions")
}

func BenchmarkRunFramed(b *testing.B) {
	benchOp(b, func(ctx context.Context, x *sshconn.Conn) error {
		_, err := x.Run(ctx, conn.Command{Script: "true"})
		return err
	})
}

func BenchmarkStatFramed(b *testing.B) {
	benchOp(b, func(ctx context.Context, x *sshconn.Conn) error {
		_, err := x.Stat(ctx, []string{"/opt/app.properties", "/opt"}, true)
		return err
	})
}

func BenchmarkReadFileFramed(b *testing.B) {
	benchOp(b, func(ctx context.Context, x *sshconn.Conn) error {
		_, _, err := x.ReadFile(ctx, "/opt/app.properties", false)
		return err
	})
}

func BenchmarkWriteFileFramed(b *testing.B) {
	data := bytes.Repeat([]byte("k=v\n"), 1000)
	benchOp(b, func(ctx context.Context, x *sshconn.Conn) error {
		return x.WriteFile(ctx, "/opt/written.properties", data, conn.WriteOptions{UID: -1, GID: -1})
	})
}

// sessionOp runs script on a fresh session of the connection's client, as a per-command design
// would.
func sessionOp(x *sshconn.Conn, script string) error {
	s, err := x.Client().NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if err := s.Run(conn.Join("sh", "-c", script)); err != nil {
		return fmt.Errorf("%v: %s", err, errb.String())
	}
	return nil
}

func BenchmarkRunSession(b *testing.B) {
	benchOp(b, func(ctx context.Context, x *sshconn.Conn) error { return sessionOp(x, "true") })
}

func BenchmarkStatSession(b *testing.B) {
	script := "stat --printf '%f %u %g %s %n\\0' -- /opt/app.properties /opt && sha256sum -z -- /opt/app.properties"
	benchOp(b, func(ctx context.Context, x *sshconn.Conn) error { return sessionOp(x, script) })
}

func BenchmarkReadFileSession(b *testing.B) {
	script := "stat --printf '%f %u %g %s\\0' -- /opt/app.properties && cat -- /opt/app.properties"
	benchOp(b, func(ctx context.Context, x *sshconn.Conn) error { return sessionOp(x, script) })
}

// BenchmarkWriteFileSCP is the go-scp design for WriteFile: an scp session uploads a temporary
// file, a second session syncs and renames it. Compare with BenchmarkWriteFileFramed.
func BenchmarkWriteFileSCP(b *testing.B) {
	data := bytes.Repeat([]byte("k=v\n"), 1000)
	benchOp(b, func(ctx context.Context, x *sshconn.Conn) error {
		cl, err := scp.NewClientBySSH(x.Client())
		if err != nil {
			return err
		}
		if err := cl.CopyFile(ctx, bytes.NewReader(data), "/opt/.isaplay-tmp-scp", "0644"); err != nil {
			return err
		}
		return sessionOp(x, "sync -- /opt/.isaplay-tmp-scp && mv -fT -- /opt/.isaplay-tmp-scp /opt/written.properties")
	})
}
