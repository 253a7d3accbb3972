package engine

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Schema declares a module's arguments once. The loader builds the HCL schema from it, so an
// unknown or mistyped argument is an error located at file:line:col; `isaplay modules` prints it.
type Schema struct {
	// Description is one or two sentences on what the module does.
	Description string
	// Attrs are the module's own arguments.
	Attrs []Attr
	// Blocks are the nested block types the module takes (xml_patch's set_text, ...).
	Blocks []BlockSchema
	// Example is a complete task block; a test parses every module's example.
	Example string
}

// Attr is one argument.
type Attr struct {
	Name string
	// Type is the cty type the value is converted to; cty.DynamicPseudoType takes any value.
	Type     cty.Type
	Required bool
	// Default is used when the argument is absent; cty.NilVal means none (a null value).
	Default     cty.Value
	Description string
	// HostFile says the value names a file on the host that Check reads whole: a plan reads all
	// of a play's such files on a host in one round trip before its first task. It may be set
	// on the attributes of nested blocks too.
	HostFile bool
	// ControllerPath says the value names a file on the controller (a jar to copy, an archive):
	// a relative path resolves against the task's file, and offline bundles carry the file.
	ControllerPath bool
}

// readsHostFiles reports whether an attribute, of the task or of a nested block, is HostFile.
func (s Schema) readsHostFiles() bool {
	for _, a := range s.Attrs {
		if a.HostFile {
			return true
		}
	}
	for _, b := range s.Blocks {
		for _, a := range b.Attrs {
			if a.HostFile {
				return true
			}
		}
	}
	return false
}

// BlockSchema is a nested block type of a module, repeatable unless Max is 1.
type BlockSchema struct {
	Type        string
	Description string
	Attrs       []Attr
	// Max is the largest number of blocks of this type; 0 means unlimited.
	Max int
}

// CommonAttrs are the arguments every task takes besides its module's own.
var CommonAttrs = []Attr{
	{Name: "when", Type: cty.Bool, Description: "Run the task on a host only when this is true."},
	{Name: "run_once", Type: cty.Bool, Description: "Run on the first host of the play (or batch) only."},
	{Name: "hosts", Type: cty.DynamicPseudoType, Description: "Run on these hosts instead of the play's: a group name, \"all\" or a list of host names."},
	{Name: "ignore_errors", Type: cty.Bool, Description: "A failure is reported but does not stop the host."},
	{Name: "timeout", Type: cty.String, Description: "Longest time the task may take on one host, as a Go duration (\"5m\")."},
	{Name: "tags", Type: cty.List(cty.String), Description: "Tags that --tags selects the task by."},
	{Name: "become", Type: cty.Bool, Description: "Run as root through sudo."},
	{Name: "register", Type: cty.String, Description: "Name under which later tasks read this task's result: result.NAME (this host) and results.NAME (every host)."},
	{Name: "async", Type: cty.Bool, Description: "Apply the change in the background: the play goes on with its next tasks and waits for it at its end (a failure stops the run at the next task, as any does). Evaluated once per task; not for tasks that write files or register a result."},
}

func (s Schema) bodySchema(withCommon bool) *hcl.BodySchema {
	bs := &hcl.BodySchema{}
	if withCommon {
		for _, a := range CommonAttrs {
			bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name})
		}
	}
	for _, a := range s.Attrs {
		bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, b := range s.Blocks {
		bs.Blocks = append(bs.Blocks, hcl.BlockHeaderSchema{Type: b.Type})
	}
	return bs
}

// Block returns the nested block schema of the given type.
func (s Schema) Block(typ string) (BlockSchema, bool) {
	for _, b := range s.Blocks {
		if b.Type == typ {
			return b, true
		}
	}
	return BlockSchema{}, false
}

// Validate reports a schema that cannot work: duplicate or reserved names, missing types.
func (s Schema) Validate() error {
	seen := map[string]bool{}
	for _, a := range CommonAttrs {
		seen[a.Name] = true
	}
	check := func(where string, attrs []Attr, reserved map[string]bool) error {
		local := map[string]bool{}
		for _, a := range attrs {
			if a.Name == "" || a.Type == cty.NilType {
				return fmt.Errorf("%s: attribute %q has no name or type", where, a.Name)
			}
			if reserved[a.Name] || local[a.Name] {
				return fmt.Errorf("%s: attribute %q declared twice or reserved", where, a.Name)
			}
			if a.Description == "" {
				return fmt.Errorf("%s: attribute %q has no description", where, a.Name)
			}
			local[a.Name] = true
		}
		return nil
	}
	if s.Description == "" {
		return fmt.Errorf("schema has no description")
	}
	if err := check("module", s.Attrs, seen); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, b := range s.Blocks {
		if names[b.Type] {
			return fmt.Errorf("block %q declared twice", b.Type)
		}
		names[b.Type] = true
		if err := check("block "+b.Type, b.Attrs, nil); err != nil {
			return err
		}
	}
	return nil
}

// Registry maps task type names to modules. It is filled explicitly by cmd/isaplay.
type Registry struct {
	modules map[string]Module
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{modules: map[string]Module{}} }

// Register adds a module under name; a duplicate or invalid schema panics, as it is a
// programming error.
func (r *Registry) Register(name string, m Module) {
	if _, dup := r.modules[name]; dup {
		panic("engine: module registered twice: " + name)
	}
	if err := m.Schema().Validate(); err != nil {
		panic("engine: module " + name + ": " + err.Error())
	}
	r.modules[name] = m
}

// Lookup returns the module registered under name.
func (r *Registry) Lookup(name string) (Module, bool) {
	m, ok := r.modules[name]
	return m, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.modules))
	for n := range r.modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
