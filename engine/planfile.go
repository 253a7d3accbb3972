package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// PlanFileMagic marks a saved plan file.
const PlanFileMagic = "isaplay-plan"

// SavedPlan is what `plan --out` writes: the reviewed plan, the inputs it was computed from and
// their digests. It holds no secret: diffs are redacted, and sensitive variables are not saved
// (apply asks for them again through the environment, var files or a prompt).
type SavedPlan struct {
	Magic          string    `json:"magic"`
	FormatVersion  string    `json:"format_version"`
	IsaplayVersion string    `json:"isaplay_version"`
	Created        time.Time `json:"created"`
	Inputs         Inputs    `json:"inputs"`
	Plan           *Plan     `json:"plan"`
	PlanHash       string    `json:"plan_hash"`
}

// Inputs are the command-line inputs a plan was computed from.
type Inputs struct {
	Playbook        string   `json:"playbook"`
	Inventory       string   `json:"inventory"`
	InventorySHA256 string   `json:"inventory_sha256"`
	VarFiles        []string `json:"var_files,omitempty"`
	// Vars are the --var flags of non-sensitive variables.
	Vars  []string `json:"vars,omitempty"`
	Limit []string `json:"limit,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

// FileSHA256 returns the hex sha256 of a file's bytes.
func FileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// WritePlanFile saves a plan.
func WritePlanFile(path string, sp *SavedPlan) error {
	sp.Magic, sp.FormatVersion = PlanFileMagic, PlanFormatVersion
	sp.PlanHash = sp.Plan.Hash()
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadPlanFile loads a saved plan and checks that it is one and is intact.
func ReadPlanFile(path string) (*SavedPlan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sp SavedPlan
	if err := json.Unmarshal(b, &sp); err != nil || sp.Magic != PlanFileMagic {
		return nil, fmt.Errorf("%s is not an isaplay plan file", path)
	}
	if sp.Plan == nil || sp.Plan.Hash() != sp.PlanHash {
		return nil, fmt.Errorf("%s: the plan does not match its hash; it was edited or is damaged", path)
	}
	return &sp, nil
}

// IsPlanFile reports whether path starts like a saved plan.
func IsPlanFile(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	return strings.Contains(string(b[:min(len(b), 64)]), `"magic": "`+PlanFileMagic+`"`)
}

// ErrDrift is wrapped by CompareToSaved's error.
var ErrDrift = errors.New("the hosts changed since the plan was made")

// CompareToSaved compares a fresh plan with a saved one, entry by entry, and returns an error
// naming every host and task whose change differs, appeared or disappeared.
func CompareToSaved(saved, fresh *Plan) error {
	key := func(e *Entry) string { return e.Host + "\x00" + e.Play + "\x00" + e.Task }
	old := map[string]*Entry{}
	for _, e := range saved.Entries {
		old[key(e)] = e
	}
	var problems []string
	seen := map[string]bool{}
	for _, e := range fresh.Entries {
		k := key(e)
		seen[k] = true
		o, ok := old[k]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: %s / %s: not in the saved plan (now %s)", e.Host, e.Play, e.Task, e.Status))
		case o.Status != e.Status:
			problems = append(problems, fmt.Sprintf("%s: %s / %s: was %s, now %s", e.Host, e.Play, e.Task, o.Status, e.Status))
		case o.Digest != e.Digest:
			what := "its change differs"
			if o.Change != nil && e.Change != nil && o.Change.Fingerprint != e.Change.Fingerprint {
				what = "what it read on the host changed since (" + short(o.Change.Fingerprint) + " -> " + short(e.Change.Fingerprint) + ")"
			}
			problems = append(problems, fmt.Sprintf("%s: %s / %s: %s", e.Host, e.Play, e.Task, what))
		}
	}
	for k, o := range old {
		if !seen[k] {
			problems = append(problems, fmt.Sprintf("%s: %s / %s: in the saved plan but not planned now", o.Host, o.Play, o.Task))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("%w; plan again and review:\n  %s", ErrDrift, strings.Join(problems, "\n  "))
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	if s == "" {
		return "none"
	}
	return s
}
