// Command sshfloor measures the floor any SSH tool pays on a test cluster: opening every node's
// connection (handshake and authentication, all in parallel) and running one `true` session on
// each. Benchmarks report isaplay's times as ratios to it.
//
//	sshfloor -inventory DIR/cluster.json
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func main() {
	key := flag.String("key", "", "client private key")
	known := flag.String("known-hosts", "", "known_hosts file")
	user := flag.String("user", "root", "login user")
	port := flag.Int("port", 2222, "port")
	flag.Parse()
	addrs := flag.Args()
	if *key == "" || *known == "" || len(addrs) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sshfloor -key KEY -known-hosts FILE [-user U] [-port P] ADDR...")
		os.Exit(2)
	}
	pem, err := os.ReadFile(*key)
	if err != nil {
		fail(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		fail(err)
	}
	hk, err := knownhosts.New(*known)
	if err != nil {
		fail(err)
	}
	cfg := &ssh.ClientConfig{User: *user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 30 * time.Second}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(addrs))
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ssh.Dial("tcp", net.JoinHostPort(a, strconv.Itoa(*port)), cfg)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			s, err := c.NewSession()
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			if err := s.Run("true"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fail(err)
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sshfloor:", err)
	os.Exit(1)
}
