// Package svndepsync implements the svn_depsync task: configure Carbon's SVN deployment
// synchronizer in carbon.xml for a manager (AutoCommit) or worker node, install the SVNKit and
// trilead jars, and check first that the SVN URL is reachable from the node. It is built from
// the xml_patch and jar_copy modules, so edits keep every untouched byte and undo restores them.
package svndepsync

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/inventory/conn"
	"github.com/isaplay/isaplay/modules/jarcopy"
	"github.com/isaplay/isaplay/modules/xmlpatch"
	"github.com/isaplay/isaplay/modules/xmlpatch/xmldoc"
	"github.com/zclconf/go-cty/cty"
)

// Name is the task type name.
const Name = "svn_depsync"

// CarbonNS is the default namespace of carbon.xml.
const CarbonNS = "http://wso2.org/projects/carbon/carbon.xml"

// Module is the svn_depsync task type.
type Module struct{}

var (
	_ engine.Module        = Module{}
	_ engine.RevertChecker = Module{}
)

// Schema declares svn_depsync's arguments.
func (Module) Schema() engine.Schema {
	return engine.Schema{
		Description: "Configure Carbon's SVN deployment synchronizer (carbon.xml DeploymentSynchronizer) for a manager node (AutoCommit true) or a worker (false), " +
			"install the SVNKit and trilead jars, and check before any change that the SVN URL is reachable from the node.",
		Attrs: []engine.Attr{
			{Name: "home", Type: cty.String, Required: true, Description: "The product home (carbon.xml is repository/conf/carbon.xml under it)."},
			{Name: "role", Type: cty.String, Required: true, Description: "\"manager\" (AutoCommit true; start it first) or \"worker\" (AutoCommit false)."},
			{Name: "svn_url", Type: cty.String, Required: true, Description: "The repository URL: http, https or svn (DepSync does not support svn+ssh)."},
			{Name: "svn_user", Type: cty.String, Required: true, Description: "The SVN user."},
			{Name: "svn_password", Type: cty.String, Required: true, Description: "The SVN password (keep it in a sensitive variable; Carbon stores it in plain text)."},
			{Name: "enabled", Type: cty.Bool, Default: cty.True, Description: "false disables the synchronizer (the spec's rollback for DepSync)."},
			{Name: "append_tenant_id", Type: cty.Bool, Default: cty.True, Description: "SvnUrlAppendTenantId: Carbon appends the tenant ID (-1234) to the URL."},
			{Name: "svnkit_jar", Type: cty.String, ControllerPath: true, Description: "svnkit-all-1.8.7.wso2v1.jar on the controller, copied to repository/components/dropins/ (relative to the playbook file)."},
			{Name: "svnkit_sha256", Type: cty.String, Description: "Expected sha256 of svnkit_jar."},
			{Name: "trilead_jar", Type: cty.String, ControllerPath: true, Description: "trilead-ssh2-1.0.0-build215.jar on the controller, copied to repository/components/lib/."},
			{Name: "trilead_sha256", Type: cty.String, Description: "Expected sha256 of trilead_jar."},
			{Name: "check", Type: cty.String, Default: cty.StringVal("tcp"), Description: "How reachability is checked from the node before any change: \"tcp\" (connect to the URL's host and port through the node's connection), \"svn\" (svn info on the node with the credentials, the password on standard input) or \"none\"."},
		},
		Example: `task "svn_depsync" "depsync" {
  home         = var.an_home
  role         = host.name == "an1" ? "manager" : "worker"
  svn_url      = "svn://10.0.0.5/isan/"
  svn_user     = "wso2"
  svn_password = "change-me"
  svnkit_jar   = "files/svnkit-all-1.8.7.wso2v1.jar"
  trilead_jar  = "files/trilead-ssh2-1.0.0-build215.jar"
}`,
	}
}

// step is one sub-change: the module that makes it and its change.
type step struct {
	module engine.Module
	name   string
	change *engine.Change
}

// undoStep is one sub-change's undo record.
type undoStep struct {
	Module string      `json:"module"`
	Undo   engine.Undo `json:"undo"`
}

type undoRecord struct {
	Steps []undoStep `json:"steps"`
}

func moduleFor(name string) engine.Module {
	switch name {
	case xmlpatch.Name:
		return xmlpatch.Module{}
	case jarcopy.Name:
		return jarcopy.Module{}
	}
	return nil
}

// Check validates the URL, checks it is reachable from the node, and plans the carbon.xml
// edit and the jar copies.
func (Module) Check(ctx context.Context, h *engine.Host, args *engine.Args) (*engine.Change, error) {
	home := args.String("home")
	if !path.IsAbs(home) {
		return nil, args.Errorf("home", "home %q must be an absolute path on the host", home)
	}
	role := args.String("role")
	if role != "manager" && role != "worker" {
		return nil, args.Errorf("role", "role must be \"manager\" or \"worker\", not %q", role)
	}
	raw := args.String("svn_url")
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, args.Errorf("svn_url", "svn_url %q is not a URL", h.Redact(raw))
	}
	port := u.Port()
	switch u.Scheme {
	case "http":
		port = orDefault(port, "80")
	case "https":
		port = orDefault(port, "443")
	case "svn":
		port = orDefault(port, "3690")
	case "svn+ssh":
		return nil, args.Errorf("svn_url", "svn+ssh is not supported by Carbon's deployment synchronizer; use http, https or svn")
	default:
		return nil, args.Errorf("svn_url", "svn_url scheme %q is not http, https or svn", u.Scheme)
	}
	password := args.String("svn_password")
	h.AddSecret(password)
	for _, q := range []byte{0, '"', '\''} {
		if esc, err := xmldoc.EscapeAttr(password, q); err == nil {
			h.AddSecret(esc)
		}
	}
	enabled := !args.Has("enabled") || args.Bool("enabled")
	var details []string
	if enabled {
		switch args.String("check") {
		case "", "tcp":
			addr := net.JoinHostPort(u.Hostname(), port)
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			c, err := h.Dial(dctx, "tcp", addr)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("svn_url %s is not reachable from %s (tcp %s): %v", h.Redact(raw), h.Name, addr, err)
			}
			c.Close()
			details = append(details, "checked: "+addr+" is reachable from "+h.Name)
		case "svn":
			script := conn.Join("svn", "info", "--non-interactive", "--no-auth-cache", "--username", args.String("svn_user"), "--password-from-stdin", raw)
			res, err := h.Run(ctx, conn.Command{Script: script, Stdin: strings.NewReader(password + "\n")})
			if err != nil {
				return nil, fmt.Errorf("svn info %s: %w", h.Redact(raw), err)
			}
			if res.ExitCode != 0 {
				return nil, fmt.Errorf("svn_url %s is not usable from %s: svn info: exit %d: %s", h.Redact(raw), h.Name, res.ExitCode, h.Redact(strings.TrimSpace(string(res.Stderr))))
			}
			details = append(details, "checked: svn info "+h.Redact(raw)+" works from "+h.Name)
		case "none":
		default:
			return nil, args.Errorf("check", "check must be \"tcp\", \"svn\" or \"none\"")
		}
	}

	var steps []step
	base := func(n string) string {
		if fn := args.Range(n).Filename; fn != "" && !filepath.IsAbs(args.String(n)) {
			return filepath.Join(filepath.Dir(fn), args.String(n))
		}
		return args.String(n)
	}
	if enabled {
		for _, jar := range []struct{ arg, sum, dir string }{
			{"svnkit_jar", "svnkit_sha256", "repository/components/dropins/"},
			{"trilead_jar", "trilead_sha256", "repository/components/lib/"},
		} {
			if !args.Has(jar.arg) {
				continue
			}
			vals := map[string]cty.Value{"src": cty.StringVal(base(jar.arg)), "dest": cty.StringVal(path.Join(home, jar.dir) + "/")}
			if args.Has(jar.sum) {
				vals["sha256"] = cty.StringVal(args.String(jar.sum))
			}
			if jar.arg == "trilead_jar" {
				// Carbon wraps lib/ jars into OSGi bundles in dropins/; undo removes that too.
				name := strings.TrimSuffix(path.Base(base(jar.arg)), ".jar")
				vals["undo_also_remove"] = cty.ListVal([]cty.Value{cty.StringVal(path.Join(home, "repository/components/dropins", strings.ReplaceAll(name, "-", "_")+"_1.0.0.jar"))})
			}
			c, err := jarcopy.Module{}.Check(ctx, h, engine.NewArgs(jarcopy.Name, vals))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", jar.arg, err)
			}
			steps = append(steps, step{jarcopy.Module{}, jarcopy.Name, c})
		}
	}

	set := func(child, value string) *engine.Args {
		return engine.NewArgs("set_text", map[string]cty.Value{"xpath": cty.StringVal("/c:Server/c:DeploymentSynchronizer/c:" + child), "value": cty.StringVal(value)})
	}
	blocks := []*engine.Args{set("Enabled", boolText(enabled))}
	if enabled {
		blocks = append(blocks,
			set("AutoCommit", boolText(role == "manager")),
			set("AutoCheckout", "true"),
			set("RepositoryType", "svn"),
			set("SvnUrl", raw),
			set("SvnUser", args.String("svn_user")),
			set("SvnPassword", password),
			set("SvnUrlAppendTenantId", boolText(!args.Has("append_tenant_id") || args.Bool("append_tenant_id"))),
		)
	}
	carbonXML := path.Join(home, "repository/conf/carbon.xml")
	xc, err := xmlpatch.Module{}.Check(ctx, h, engine.NewArgs(xmlpatch.Name, map[string]cty.Value{
		"path":       cty.StringVal(carbonXML),
		"namespaces": cty.MapVal(map[string]cty.Value{"c": cty.StringVal(CarbonNS)}),
	}, blocks...))
	if err != nil {
		return nil, err
	}
	steps = append(steps, step{xmlpatch.Module{}, xmlpatch.Name, xc})

	out := &engine.Change{Action: engine.ActionNone, Details: details}
	var summaries, prints []string
	var rec undoRecord
	var todo []step
	for _, s := range steps {
		prints = append(prints, s.change.Fingerprint)
		if s.change.Action == engine.ActionNone {
			continue
		}
		out.Action = engine.ActionUpdate
		summaries = append(summaries, s.change.Summary)
		out.Details = append(out.Details, s.change.Details...)
		if s.change.Diff != "" {
			out.Diff += s.change.Diff
		}
		if s.change.Unknown != "" {
			out.Unknown = s.change.Unknown
		}
		out.Effects = append(out.Effects, s.change.Effects...)
		rec.Steps = append(rec.Steps, undoStep{Module: s.name, Undo: s.change.Undo})
		todo = append(todo, s)
	}
	out.Fingerprint = strings.Join(prints, ",")
	mode := "worker (AutoCommit false)"
	if role == "manager" {
		mode = "manager (AutoCommit true)"
	}
	if !enabled {
		mode = "disabled"
	}
	if out.Action == engine.ActionNone {
		out.Summary = "deployment synchronizer is configured: " + mode
		return out, nil
	}
	out.Summary = "deployment synchronizer " + mode + ": " + strings.Join(summaries, "; ")
	if role == "manager" && enabled {
		out.Risks = []string{"the manager commits repository/deployment/server to SVN when it starts"}
	}
	out.Undo = engine.NewUndo(Name, rec)
	out.Private = todo
	return out, nil
}

// Apply copies the jars, then edits carbon.xml, each as its own module would.
func (Module) Apply(ctx context.Context, h *engine.Host, c *engine.Change) error {
	todo, ok := c.Private.([]step)
	if !ok {
		return fmt.Errorf("svn_depsync: apply without a checked change")
	}
	for _, s := range todo {
		if err := s.module.Apply(ctx, h, s.change); err != nil {
			return err
		}
	}
	return nil
}

// Revert undoes the steps in reverse order: carbon.xml back to its original bytes, then the
// jars (and the bundles Carbon made of them) removed. It is idempotent.
func (Module) Revert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var rec undoRecord
	if err := json.Unmarshal(u.Data, &rec); err != nil {
		return fmt.Errorf("svn_depsync: undo record: %w", err)
	}
	for i := len(rec.Steps) - 1; i >= 0; i-- {
		s := rec.Steps[i]
		m := moduleFor(s.Module)
		if m == nil {
			return fmt.Errorf("svn_depsync: undo step for unknown module %q", s.Module)
		}
		if err := m.Revert(ctx, h, s.Undo); err != nil {
			return err
		}
	}
	return nil
}

// CheckRevert reports drift in any step whose module can tell.
func (Module) CheckRevert(ctx context.Context, h *engine.Host, u engine.Undo) error {
	var rec undoRecord
	if err := json.Unmarshal(u.Data, &rec); err != nil {
		return fmt.Errorf("svn_depsync: undo record: %w", err)
	}
	for _, s := range rec.Steps {
		if rc, ok := moduleFor(s.Module).(engine.RevertChecker); ok {
			if err := rc.CheckRevert(ctx, h, s.Undo); err != nil {
				return err
			}
		}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
