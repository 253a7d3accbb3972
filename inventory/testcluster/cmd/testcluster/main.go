// Command testcluster starts and stops a set of local sshd test nodes for demos:
//
//	testcluster up -n 4 -dir DIR     # start 4 nodes; writes DIR/hosts.hcl and DIR/known_hosts
//	testcluster down -dir DIR        # stop the nodes started in DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/isaplay/isaplay/inventory/testcluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: testcluster up -n N -dir DIR [-prefix n] [-port 2222] | down -dir DIR")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	dir := fs.String("dir", "", "cluster directory (required)")
	n := fs.Int("n", 2, "number of nodes")
	prefix := fs.String("prefix", "n", "node name prefix")
	port := fs.Int("port", 2222, "port every node listens on")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("-dir is required")
	}
	switch args[0] {
	case "up":
		c, err := testcluster.Start(context.Background(), testcluster.Options{
			N: *n, Prefix: *prefix, Port: *port, Dir: *dir, Detach: true})
		if err != nil {
			return err
		}
		for _, node := range c.Nodes {
			fmt.Printf("%s %s\n", node.Name, node.Addr())
		}
		fmt.Printf("inventory: %s\n", c.Inventory)
		return nil
	case "down":
		return testcluster.Down(*dir)
	}
	return fmt.Errorf("unknown command %q (want up or down)", args[0])
}
