package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/isaplay/isaplay/engine"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

// exitError carries an exit code other than 1 (plan --detailed-exitcode's 2).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// reportedError is an error already printed (diagnostics); Main only sets the exit code.
var errReported = errors.New("reported")

// globals are the flags every command shares.
type globals struct {
	inventory string
	limit     []string
	tags      []string
	forks     int
	vars      []string
	varFiles  []string
	stateDir  string
	verbose   bool
	hostKey   string
	noColor   bool
	format    string

	stdin          io.Reader
	stdout, stderr io.Writer
	parser         *hclparse.Parser
	redactor       *engine.Redactor
	files          *engine.ControllerFiles
	secretMu       sync.Mutex
	secretCache    map[string]string
}

// Main runs isaplay with args and returns the exit code: 0 success, 1 error, 2 plan has changes
// (plan --detailed-exitcode).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, parser: hclparse.NewParser(), redactor: engine.NewRedactor()}
	root := &cobra.Command{
		Use:           "isaplay",
		Short:         "Apply HCL playbooks to servers over SSH, with an exact dry run and rollback",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.inventory, "inventory", "i", "", "inventory file (hosts.hcl)")
	pf.StringSliceVar(&g.limit, "limit", nil, "run tasks only on these hosts or groups (names or globs, comma-separated)")
	pf.StringSliceVar(&g.tags, "tags", nil, "run only tasks with one of these tags")
	pf.IntVar(&g.forks, "forks", 50, "how many hosts run at once")
	pf.StringArrayVar(&g.vars, "var", nil, "set a variable, name=value (repeatable)")
	pf.StringArrayVar(&g.varFiles, "var-file", nil, "read variables from an HCL file (repeatable)")
	pf.StringVar(&g.stateDir, "state-dir", "", "local state directory for the run journal (default ./.isaplay or $ISAPLAY_STATE_DIR)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "print more detail")
	pf.StringVar(&g.hostKey, "host-key", "strict", "host key policy: strict, accept-new (pin unknown keys) or off (warns)")
	pf.BoolVar(&g.noColor, "no-color", false, "never use colours")
	pf.StringVar(&g.format, "format", "text", "output of plan and apply: text, markdown or json")
	root.AddCommand(validateCmd(g), planCmd(g), applyCmd(g), rollbackCmd(g), runsCmd(g), bundleCmd(g), adoptCmd(g), modulesCmd(g), versionCmd(g))
	root.SetArgs(args)
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintln(stderr, "Error:", g.redactor.Redact(err.Error()))
		return 1
	}
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print isaplay's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.stdout, "isaplay %s\n", Version)
			return nil
		},
	}
}

// printDiags writes diagnostics like HCL's own text writer (file:line:col, source line, caret),
// redacted, and returns errReported when any is an error.
func (g *globals) printDiags(diags hcl.Diagnostics) error {
	if len(diags) == 0 {
		return nil
	}
	var buf bytes.Buffer
	width := 0
	color := false
	if f, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		width, _, _ = term.GetSize(int(f.Fd()))
		color = !g.noColor
	}
	w := hcl.NewDiagnosticTextWriter(&buf, g.parser.Files(), uint(width), color)
	for _, d := range diags {
		if d.Subject != nil {
			// One line with file:line:col first, so editors and CI can jump to it.
			fmt.Fprintf(&buf, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		w.WriteDiagnostic(d)
	}
	io.WriteString(g.stderr, g.redactor.Redact(buf.String()))
	if diags.HasErrors() {
		return errReported
	}
	return nil
}

// handleErr prints diagnostics hidden in err and maps the rest.
func (g *globals) handleErr(err error) error {
	var diags hcl.Diagnostics
	if errors.As(err, &diags) {
		return g.printDiags(diags)
	}
	return err
}

func (g *globals) colorOut() bool {
	if g.noColor {
		return false
	}
	f, ok := g.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (g *globals) stdinTerminal() bool {
	f, ok := g.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (g *globals) stateDirectory() string {
	if g.stateDir != "" {
		return g.stateDir
	}
	if d := os.Getenv("ISAPLAY_STATE_DIR"); d != "" {
		return d
	}
	return ".isaplay"
}
