package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/isaplay/isaplay/engine/adopt"
	"github.com/spf13/cobra"
)

// adoptCmd is `isaplay adopt`: configured product files turned into surgical edits.
func adoptCmd(g *globals) *cobra.Command {
	var (
		tree   bool
		maps   []string
		format string
		path   string
		as     string
		hosts  string
	)
	cmd := &cobra.Command{
		Use:   "adopt PRISTINE CONFIGURED",
		Short: "Turn a configured product file (or tree) into the xml_patch / properties_set tasks that make it from the pristine one",
		Long: "adopt compares a pristine product file with a configured one (XML, or a properties / spark-defaults /\n" +
			"KEY=value file) and prints the smallest task that turns the first into the second: xml_patch set_text,\n" +
			"set_attr, ensure (keyed by @name, a name or id child, or another distinctive attribute), remove and\n" +
			"replace_children, or properties_set set and remove. Values under secret names become sensitive\n" +
			"variables, never literals. Comment-only and line-ending differences are reported, not patched.\n\n" +
			"With --tree, PRISTINE and CONFIGURED are product homes: one task per changed file (paths under\n" +
			"var.home), file tasks for text files only the configured tree has and jar_copy tasks for binary ones.\n" +
			"--map conf=repository/conf says where a folder of the configured tree lives in the product.",
		Example: "  isaplay adopt wso2is-analytics-5.6.0/repository/conf/axis2/axis2.xml k8s/conf/axis2/axis2.xml --as repository/conf/axis2/axis2.xml\n" +
			"  isaplay adopt --tree wso2is-analytics-5.6.0 k8s/is-analytics-1 --map conf=repository/conf --map deployment=repository/deployment",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "hcl" && format != "json" {
				return fmt.Errorf("--format %q: want hcl or json", format)
			}
			var res *adopt.Result
			var err error
			if tree {
				var ms []adopt.Map
				for _, s := range maps {
					m, err := adopt.ParseMap(s)
					if err != nil {
						return err
					}
					ms = append(ms, m)
				}
				for _, d := range args {
					if st, err := os.Stat(d); err != nil || !st.IsDir() {
						return fmt.Errorf("--tree: %s is not a directory", d)
					}
				}
				res, err = adopt.Tree(args[0], args[1], ms)
			} else {
				if len(maps) > 0 {
					return fmt.Errorf("--map only applies with --tree")
				}
				var pristine, configured []byte
				if pristine, err = os.ReadFile(args[0]); err != nil {
					return err
				}
				if configured, err = os.ReadFile(args[1]); err != nil {
					return err
				}
				opts := adopt.Options{}
				name := args[0]
				switch {
				case as != "":
					name, opts.Home = filepath.ToSlash(as), adopt.HomeVar
				case path != "":
					name, opts.Path = path, adopt.Lit(path)
				}
				res, err = adopt.File(name, pristine, configured, opts)
			}
			if err != nil {
				return err
			}
			out := res.HCL()
			if hosts != "" {
				out = res.PlayHCL("adopted", hosts)
			}
			if format == "json" {
				if out, err = res.JSON(); err != nil {
					return err
				}
			}
			if _, err := g.stdout.Write(out); err != nil {
				return err
			}
			sensitive := 0
			for _, v := range res.Variables {
				if v.Sensitive {
					sensitive++
				}
			}
			fmt.Fprintf(g.stderr, "adopt: %d tasks, %d variables (%d sensitive), %d differences not patched\n", len(res.Tasks), len(res.Variables), sensitive, len(res.Notes))
			for _, n := range res.Notes {
				fmt.Fprintf(g.stderr, "  note: %s\n", n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&tree, "tree", false, "compare two product homes instead of two files")
	f.StringArrayVar(&maps, "map", nil, "with --tree: FROM=TO, a folder of the configured tree and where it lives in the product (repeatable)")
	f.StringVar(&format, "format", "hcl", "output: hcl or json")
	f.StringVar(&path, "path", "", "the file's path on the host (default: PRISTINE as given)")
	f.StringVar(&hosts, "hosts", "", "wrap the tasks in a play \"adopted\" for these hosts (a group or host name), ready to validate")
	f.StringVar(&as, "as", "", "the file's path relative to the product home: the task's path becomes ${var.home}/AS")
	return cmd
}
