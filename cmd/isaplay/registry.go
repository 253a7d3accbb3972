package main

import (
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/symlink"
)

// builtinRegistry lists every built-in module explicitly.
func builtinRegistry() *engine.Registry {
	r := engine.NewRegistry()
	r.Register(symlink.Name, symlink.Module{})
	return r
}
