package engine

import (
	"sort"
	"strings"
	"sync"
)

// Mask replaces every secret in output.
const Mask = "(sensitive)"

// Redactor masks known secret values in any text. It is the last line of defence behind
// sensitivity marks: every rendered plan, diff, log line, error and journal record passes it.
type Redactor struct {
	mu       sync.RWMutex
	secrets  map[string]bool
	replacer *strings.Replacer
}

// NewRedactor returns a redactor that knows no secrets yet.
func NewRedactor() *Redactor { return &Redactor{secrets: map[string]bool{}} }

// Add makes s a secret. Empty strings are ignored.
func (r *Redactor) Add(s string) {
	if s == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets[s] {
		return
	}
	r.secrets[s] = true
	list := make([]string, 0, len(r.secrets))
	for k := range r.secrets {
		list = append(list, k)
	}
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	pairs := make([]string, 0, 2*len(list))
	for _, k := range list {
		pairs = append(pairs, k, Mask)
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// Redact returns s with every secret replaced by Mask.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.replacer
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// Secrets returns how many secrets the redactor knows.
func (r *Redactor) Secrets() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.secrets)
}
