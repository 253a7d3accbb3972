package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"
)

// PlanFormatVersion is the version of the plan's JSON schema.
const PlanFormatVersion = "1.0"

// Status is what happened, or would happen, to one task on one host.
type Status string

// The statuses of an Entry.
const (
	StatusChange  Status = "change"  // plan: will change; apply: changed
	StatusInSync  Status = "in_sync" // nothing to do
	StatusUnknown Status = "unknown" // known only after apply
	StatusSkipped Status = "skipped" // when = false, or not selected
	StatusFailed  Status = "failed"
)

// Plan is the structured result of planning (or applying) a playbook: one Entry per task and
// host. Every renderer draws from it, so text, Markdown and JSON cannot disagree.
type Plan struct {
	FormatVersion string   `json:"format_version"`
	Playbook      string   `json:"playbook"`
	Hosts         []string `json:"hosts"`
	Entries       []*Entry `json:"entries"`
	Summary       Summary  `json:"summary"`
}

// Entry is one task on one host.
type Entry struct {
	Play   string  `json:"play"`
	Task   string  `json:"task"`
	Module string  `json:"module"`
	Host   string  `json:"host"`
	Status Status  `json:"status"`
	Change *Change `json:"change,omitempty"`
	// Reason says why a task is skipped or unknown.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Digest identifies the planned change (action, summary, diff, details, fingerprint); apply
	// refuses a change whose digest differs from the reviewed plan.
	Digest string `json:"digest,omitempty"`
	// Async says the change is applied in the background while the play goes on (async = true).
	Async bool `json:"async,omitempty"`

	playIdx, taskIdx, hostIdx int
	// held says the task's writes are held (see writeBehind): its end is reported once they
	// are made. background, when set, applies an async task's change; runOnHost starts it once
	// the entry is recorded, and it reports the task's end. Either end reports took, the time
	// the task itself took.
	held       bool
	background func()
	took       time.Duration
}

// Summary counts entries by status.
type Summary struct {
	Change  int `json:"change"`
	InSync  int `json:"in_sync"`
	Unknown int `json:"unknown"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
	Hosts   int `json:"hosts"`
}

// HasChanges reports whether the plan would change anything (including unknown effects).
func (p *Plan) HasChanges() bool { return p.Summary.Change > 0 || p.Summary.Unknown > 0 }

func (p *Plan) finish() {
	sort.SliceStable(p.Entries, func(i, j int) bool {
		a, b := p.Entries[i], p.Entries[j]
		if a.playIdx != b.playIdx {
			return a.playIdx < b.playIdx
		}
		if a.taskIdx != b.taskIdx {
			return a.taskIdx < b.taskIdx
		}
		return a.hostIdx < b.hostIdx
	})
	p.Summary = Summary{}
	seen := map[string]bool{}
	p.Hosts = p.Hosts[:0]
	type hk struct {
		name string
		idx  int
	}
	var hosts []hk
	for _, e := range p.Entries {
		switch e.Status {
		case StatusChange:
			p.Summary.Change++
		case StatusInSync:
			p.Summary.InSync++
		case StatusUnknown:
			p.Summary.Unknown++
		case StatusSkipped:
			p.Summary.Skipped++
		case StatusFailed:
			p.Summary.Failed++
		}
		if !seen[e.Host] {
			seen[e.Host] = true
			hosts = append(hosts, hk{e.Host, e.hostIdx})
		}
	}
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].idx < hosts[j].idx })
	for _, h := range hosts {
		p.Hosts = append(p.Hosts, h.name)
	}
	p.Summary.Hosts = len(hosts)
}

// changeDigest is the digest of what a reviewer saw of a change.
func changeDigest(c *Change) string {
	b, _ := json.Marshal(struct {
		A Action
		S string
		D string
		L []string
		U string
		F string
	}{c.Action, c.Summary, c.Diff, c.Details, c.Unknown, c.Fingerprint})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Hash is the sha256 of the plan's canonical JSON.
func (p *Plan) Hash() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// asyncNote is ", async" after the module's name for the change of an async task.
func (e *Entry) asyncNote() string {
	if e.Async && e.Change != nil {
		return ", async"
	}
	return ""
}
