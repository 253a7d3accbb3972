// Package engine loads playbooks, plans and applies them, and keeps the run journal.
//
// A task type is a Module (module.go): Check reads a Host and returns a Change with its Undo
// record; Apply makes the change after the engine journaled the Undo; Revert undoes it from the
// record alone. While planning, Host reads go through an overlay of the Effects that earlier
// tasks' changes will leave, so dependent tasks plan exactly.
package engine
