package main

import (
	"github.com/isaplay/isaplay/engine"
	"github.com/isaplay/isaplay/modules/assert"
	"github.com/isaplay/isaplay/modules/command"
	"github.com/isaplay/isaplay/modules/file"
	"github.com/isaplay/isaplay/modules/fileabsent"
	"github.com/isaplay/isaplay/modules/httpcheck"
	"github.com/isaplay/isaplay/modules/jarcopy"
	"github.com/isaplay/isaplay/modules/lineinfile"
	"github.com/isaplay/isaplay/modules/logcompare"
	"github.com/isaplay/isaplay/modules/mysqldb"
	"github.com/isaplay/isaplay/modules/properties"
	"github.com/isaplay/isaplay/modules/service"
	"github.com/isaplay/isaplay/modules/sqlcheck"
	"github.com/isaplay/isaplay/modules/svndepsync"
	"github.com/isaplay/isaplay/modules/symlink"
	"github.com/isaplay/isaplay/modules/unarchive"
	"github.com/isaplay/isaplay/modules/waitlog"
	"github.com/isaplay/isaplay/modules/xmlpatch"
)

// builtinRegistry lists every built-in module explicitly.
func builtinRegistry() *engine.Registry {
	r := engine.NewRegistry()
	r.Register(assert.Name, assert.Module{})
	r.Register(command.Name, command.Module{})
	r.Register(file.Name, file.Module{})
	r.Register(fileabsent.Name, fileabsent.Module{})
	r.Register(httpcheck.Name, httpcheck.Module{})
	r.Register(jarcopy.Name, jarcopy.Module{})
	r.Register(lineinfile.Name, lineinfile.Module{})
	r.Register(logcompare.Name, logcompare.Module{})
	r.Register(waitlog.NameCursor, waitlog.CursorModule{})
	r.Register(mysqldb.Name, mysqldb.Module{})
	r.Register(properties.Name, properties.Module{})
	r.Register(service.NameStart, service.StartModule{})
	r.Register(service.NameStop, service.StopModule{})
	r.Register(sqlcheck.Name, sqlcheck.Module{})
	r.Register(svndepsync.Name, svndepsync.Module{})
	r.Register(symlink.Name, symlink.Module{})
	r.Register(unarchive.Name, unarchive.Module{})
	r.Register(waitlog.Name, waitlog.Module{})
	r.Register(xmlpatch.Name, xmlpatch.Module{})
	return r
}
