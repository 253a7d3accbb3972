package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/inventory/local"
	"github.com/isaplay/isaplay/inventory/sshconn"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/term"
)

// loaded is a playbook with its inventory and variables, ready to plan.
type loaded struct {
	pb   *engine.Playbook
	inv  *inventory.Inventory
	vars map[string]cty.Value
}

// load parses the playbook and inventory and resolves variables. With validate, missing
// variables are unknown instead of asked for. With conns, the connections to the hosts the
// plays name literally open while the playbook loads (see openEarly).
func (g *globals) load(ctx context.Context, path string, validate bool, conns *engine.Conns) (*loaded, error) {
	var inv *inventory.Inventory
	var invDiags hcl.Diagnostics
	if g.inventory != "" {
		inv, invDiags = inventory.Load(g.parser, g.inventory)
		if conns != nil && !invDiags.HasErrors() {
			g.openEarly(ctx, conns, path, inv)
		}
	}
	reg := builtinRegistry()
	pb, diags := engine.LoadPlaybook(g.parser, path, reg)
	if diags.HasErrors() {
		return nil, g.printDiags(diags)
	}
	l := &loaded{pb: pb, inv: inv}
	if g.inventory == "" {
		if !validate {
			return nil, fmt.Errorf("no inventory: give one with -i hosts.hcl")
		}
		l.inv, _ = inventory.LoadBytes(g.parser, nil, "(no inventory)")
	} else if diags = append(diags, invDiags...); invDiags.HasErrors() {
		return nil, g.printDiags(diags)
	}
	in := engine.VarInputs{Files: g.varFiles, Flags: g.vars, AllowUnknown: validate}
	if !validate && g.stdinTerminal() {
		in.Prompt = g.promptVariable
	}
	vars, d := engine.ResolveVariables(g.parser, pb, in, g.redactor)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, g.printDiags(diags)
	}
	if err := g.printDiags(diags); err != nil {
		return nil, err
	}
	l.vars = vars
	return l, nil
}

// openEarly starts opening the connections to the hosts that the playbook's plays name
// literally (within --limit), so that the SSH handshakes overlap the loading of its components
// and variables. Not with --tags (a play may be left out), nor with a terminal on stdin (loading
// may ask for variables there, and a dial for a key's passphrase). A failed dial is reported
// only by a run that uses the host.
func (g *globals) openEarly(ctx context.Context, conns *engine.Conns, path string, inv *inventory.Inventory) {
	if len(g.tags) > 0 || g.stdinTerminal() {
		return
	}
	f, diags := g.parser.ParseHCLFile(path)
	if diags.HasErrors() {
		return
	}
	var hosts []*inventory.Host
	for _, h := range engine.LiteralPlayHosts(f, inv) {
		if engine.Limited(g.limit, h) {
			hosts = append(hosts, h)
		}
	}
	conns.Open(ctx, hosts)
}

// promptVariable asks for a required variable on the terminal; sensitive ones are not echoed.
func (g *globals) promptVariable(v *engine.Variable) (string, error) {
	desc := ""
	if v.Description != "" {
		desc = " (" + v.Description + ")"
	}
	fmt.Fprintf(g.stderr, "var.%s%s: ", v.Name, desc)
	f := g.stdin.(*os.File)
	if v.Sensitive {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		return string(b), err
	}
	var line strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := f.Read(buf)
		if n == 0 || err != nil || buf[0] == '\n' {
			return line.String(), nil
		}
		line.WriteByte(buf[0])
	}
}

// config builds the engine configuration for a run.
func (g *globals) config(l *loaded, runID string, conns *engine.Conns) engine.Config {
	return engine.Config{
		Playbook:  l.pb,
		Inventory: l.inv,
		Registry:  builtinRegistry(),
		Vars:      l.vars,
		Redactor:  g.redactor,
		Limit:     g.limit,
		Tags:      g.tags,
		Forks:     g.forks,
		RunID:     runID,
		Conns:     conns,
		Files:     g.files,
	}
}

// conns returns a connection cache for one command.
func (g *globals) conns() *engine.Conns { return engine.NewConns(g.connect) }

// connect opens the connection a host's inventory entry asks for.
func (g *globals) connect(ctx context.Context, h *inventory.Host) (conn.Conn, error) {
	switch h.Connection {
	case "local":
		return local.New(), nil
	case "ssh":
		cfg := sshconn.Config{
			Host: h.Name, Address: h.Address, Port: h.Port, User: h.User, KnownHostsFile: h.KnownHosts,
			HostKeyPolicy: sshconn.HostKeyPolicy(g.hostKey), Warnings: g.stderr, Jump: h.Jump,
			BecomePassword: os.Getenv("ISAPLAY_BECOME_PASSWORD"),
		}
		if h.IdentityFile != "" {
			cfg.IdentityFiles = []string{h.IdentityFile}
		}
		if cfg.BecomePassword != "" {
			g.redactor.Add(cfg.BecomePassword)
		}
		c, err := sshconn.Dial(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	default:
		return nil, fmt.Errorf("%s: unknown connection %q", h.Name, h.Connection)
	}
}
