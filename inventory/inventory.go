// Package inventory loads hosts.hcl: the hosts isaplay manages, their groups and variables, and
// how to connect to each.
package inventory

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Inventory is a loaded hosts.hcl.
type Inventory struct {
	// File is the path it was loaded from.
	File string
	// Hosts are in file order.
	Hosts []*Host
	// Groups maps a group name to its hosts in file order; "all" holds every host.
	Groups map[string][]*Host
	// GroupVars are each group's own variables.
	GroupVars map[string]cty.Value
	byName    map[string]*Host
}

// Host is one managed host with its resolved connection settings and variables.
type Host struct {
	Name    string
	Address string
	Port    int
	User    string
	// Connection is "ssh" or "local".
	Connection   string
	IdentityFile string
	KnownHosts   string
	// Jump is a jump host, "user@host:port".
	Jump string
	// StateDir is isaplay's state directory on the host; relative paths are from the login directory.
	StateDir string
	// Become runs every task as root through sudo.
	Become bool
	Groups []string
	// Vars are group variables overridden by host variables, as an object.
	Vars cty.Value
	// DeclRange is where the host block is.
	DeclRange hcl.Range
}

// Lookup returns the host named name.
func (inv *Inventory) Lookup(name string) (*Host, bool) {
	h, ok := inv.byName[name]
	return h, ok
}

type fileSchema struct {
	Defaults *hostSettings
	Hosts    []hostBlock
	Groups   []groupBlock
}

// hostSettings are the attributes a host or the defaults block may set; nil means unset.
type hostSettings struct {
	Address      *string    `hcl:"address"`
	Port         *int       `hcl:"port"`
	User         *string    `hcl:"user"`
	Connection   *string    `hcl:"connection"`
	IdentityFile *string    `hcl:"identity_file"`
	KnownHosts   *string    `hcl:"known_hosts"`
	Jump         *string    `hcl:"jump"`
	StateDir     *string    `hcl:"state_dir"`
	Become       *bool      `hcl:"become"`
	Groups       *[]string  `hcl:"groups"`
	Vars         *cty.Value `hcl:"vars"`
}

type hostBlock struct {
	Name      string
	DeclRange hcl.Range
	hostSettings
}

type groupBlock struct {
	Name      string
	Vars      *cty.Value `hcl:"vars"`
	Hosts     *[]string  `hcl:"hosts"`
	DeclRange hcl.Range
}

// Load parses an inventory file. Diagnostics are located in the file; p keeps the source for
// printing them.
func Load(p *hclparse.Parser, path string) (*Inventory, hcl.Diagnostics) {
	f, diags := p.ParseHCLFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	return decode(f, path)
}

// LoadBytes parses an inventory from src, named path in diagnostics.
func LoadBytes(p *hclparse.Parser, src []byte, path string) (*Inventory, hcl.Diagnostics) {
	f, diags := p.ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, diags
	}
	return decode(f, path)
}

func decode(f *hcl.File, path string) (*Inventory, hcl.Diagnostics) {
	var fs fileSchema
	// gohcl's optional pointers need explicit tags; decode by hand to keep errors located.
	diags := decodeFile(f.Body, &fs)
	if diags.HasErrors() {
		return nil, diags
	}
	inv := &Inventory{File: path, Groups: map[string][]*Host{}, GroupVars: map[string]cty.Value{}, byName: map[string]*Host{}}
	defaults := hostSettings{}
	if fs.Defaults != nil {
		defaults = *fs.Defaults
	}
	groupOf := map[string]*groupBlock{}
	for i := range fs.Groups {
		g := &fs.Groups[i]
		if groupOf[g.Name] != nil {
			diags = append(diags, errAt(g.DeclRange, "Duplicate group", fmt.Sprintf("Group %q is declared twice.", g.Name)))
			continue
		}
		if g.Name == "all" {
			diags = append(diags, errAt(g.DeclRange, "Reserved group name", `"all" is every host; it cannot be declared.`))
			continue
		}
		groupOf[g.Name] = g
		inv.GroupVars[g.Name] = objectOrEmpty(g.Vars)
	}
	for _, hb := range fs.Hosts {
		h := &Host{Name: hb.Name, Port: 22, User: "root", Connection: "ssh", StateDir: ".isaplay", DeclRange: hb.DeclRange}
		for _, s := range []hostSettings{defaults, hb.hostSettings} {
			setStr(&h.Address, s.Address)
			setStr(&h.User, s.User)
			setStr(&h.Connection, s.Connection)
			setStr(&h.IdentityFile, s.IdentityFile)
			setStr(&h.KnownHosts, s.KnownHosts)
			setStr(&h.Jump, s.Jump)
			setStr(&h.StateDir, s.StateDir)
			if s.Port != nil {
				h.Port = *s.Port
			}
			if s.Become != nil {
				h.Become = *s.Become
			}
		}
		h.Groups = append(append([]string{}, deref(defaults.Groups)...), deref(hb.Groups)...)
		if _, dup := inv.byName[h.Name]; dup {
			diags = append(diags, errAt(hb.DeclRange, "Duplicate host", fmt.Sprintf("Host %q is declared twice.", h.Name)))
			continue
		}
		switch h.Connection {
		case "ssh":
			if h.Address == "" {
				diags = append(diags, errAt(hb.DeclRange, "Missing address", fmt.Sprintf("Host %q needs an address (or connection = \"local\").", h.Name)))
			}
		case "local":
			if h.Address == "" {
				h.Address = "127.0.0.1"
			}
		default:
			diags = append(diags, errAt(hb.DeclRange, "Invalid connection", fmt.Sprintf("Host %q: connection must be \"ssh\" or \"local\", not %q.", h.Name, h.Connection)))
		}
		if h.Port <= 0 || h.Port > 65535 {
			diags = append(diags, errAt(hb.DeclRange, "Invalid port", fmt.Sprintf("Host %q: port %d is out of range.", h.Name, h.Port)))
		}
		inv.Hosts = append(inv.Hosts, h)
		inv.byName[h.Name] = h
	}
	// Group membership from group blocks' host lists, then from hosts' own lists.
	for i := range fs.Groups {
		g := &fs.Groups[i]
		for _, name := range deref(g.Hosts) {
			h, ok := inv.byName[name]
			if !ok {
				diags = append(diags, errAt(g.DeclRange, "Unknown host", fmt.Sprintf("Group %q lists host %q, which is not declared.", g.Name, name)))
				continue
			}
			if !contains(h.Groups, g.Name) {
				h.Groups = append(h.Groups, g.Name)
			}
		}
	}
	for i, h := range inv.Hosts {
		vars := []cty.Value{objectOrEmpty(defaults.Vars)}
		for _, g := range h.Groups {
			if g == "all" {
				continue
			}
			vars = append(vars, inv.GroupVars[g])
		}
		vars = append(vars, objectOrEmpty(fs.Hosts[i].Vars))
		h.Vars = mergeObjects(vars...)
	}
	inv.Groups["all"] = append([]*Host{}, inv.Hosts...)
	for _, h := range inv.Hosts {
		for _, g := range h.Groups {
			if g == "all" || contains(groupNames(inv.Groups[g]), h.Name) {
				continue
			}
			inv.Groups[g] = append(inv.Groups[g], h)
		}
	}
	for name := range groupOf {
		if _, ok := inv.Groups[name]; !ok {
			inv.Groups[name] = nil
		}
	}
	return inv, diags
}

func decodeFile(body hcl.Body, fs *fileSchema) hcl.Diagnostics {
	content, diags := body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "defaults"}, {Type: "host", LabelNames: []string{"name"}}, {Type: "group", LabelNames: []string{"name"}},
	}})
	for _, b := range content.Blocks {
		switch b.Type {
		case "defaults":
			if fs.Defaults != nil {
				diags = append(diags, errAt(b.DefRange, "Duplicate defaults block", "Only one defaults block is allowed."))
				continue
			}
			var s hostSettings
			diags = append(diags, gohcl.DecodeBody(b.Body, nil, &s)...)
			fs.Defaults = &s
		case "host":
			hb := hostBlock{Name: b.Labels[0], DeclRange: b.DefRange}
			diags = append(diags, gohcl.DecodeBody(b.Body, nil, &hb.hostSettings)...)
			fs.Hosts = append(fs.Hosts, hb)
		case "group":
			g := groupBlock{Name: b.Labels[0], DeclRange: b.DefRange}
			diags = append(diags, gohcl.DecodeBody(b.Body, nil, &g)...)
			fs.Groups = append(fs.Groups, g)
		}
	}
	return diags
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}

func objectOrEmpty(v *cty.Value) cty.Value {
	if v == nil || *v == cty.NilVal || v.IsNull() {
		return cty.EmptyObjectVal
	}
	return *v
}

// mergeObjects merges object or map values; later keys win.
func mergeObjects(vals ...cty.Value) cty.Value {
	out := map[string]cty.Value{}
	for _, v := range vals {
		if v == cty.NilVal || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
			continue
		}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = e
		}
	}
	if len(out) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(out)
}

func setStr(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func groupNames(hosts []*Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

// GroupNames returns the declared group names, sorted, with "all".
func (inv *Inventory) GroupNames() []string {
	var out []string
	for g := range inv.Groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

func errAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()}
}
