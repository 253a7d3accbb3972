package main

import (
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/lineinfile"
	"github.com/isaplay/isaplay/modules/properties"
	"github.com/isaplay/isaplay/modules/symlink"
	"github.com/isaplay/isaplay/modules/waitlog"
)

// builtinRegistry lists every built-in module explicitly.
func builtinRegistry() *engine.Registry {
	r := engine.NewRegistry()
	r.Register(lineinfile.Name, lineinfile.Module{})
	r.Register(properties.Name, properties.Module{})
	r.Register(symlink.Name, symlink.Module{})
	r.Register(waitlog.Name, waitlog.Module{})
	return r
}
