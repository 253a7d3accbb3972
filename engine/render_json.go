package engine

import (
	"encoding/json"
	"io"
)

// PlanDocument is the JSON form of a plan (format_version 1.0): the plan with its hash. Its
// fields are a stable interface for CI; see docs in the README.
type PlanDocument struct {
	*Plan
	PlanHash string `json:"plan_hash"`
	Applied  bool   `json:"applied"`
}

// RenderJSON writes the plan as one JSON document.
func RenderJSON(w io.Writer, p *Plan, o TextOptions) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(PlanDocument{Plan: p, PlanHash: p.Hash(), Applied: o.Applied})
}

// EventJSON is one line of the apply event stream (`apply --format json`).
type EventJSON struct {
	Type      string `json:"type"`
	Play      string `json:"play,omitempty"`
	Task      string `json:"task,omitempty"`
	Host      string `json:"host,omitempty"`
	Status    Status `json:"status,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms,omitempty"`
	Error     string `json:"error,omitempty"`
}
