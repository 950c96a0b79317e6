package enforce

import (
	"time"

	"github.com/mcpgov/mcpgov/audit"
)

// Guardrail is one guardrail's result behind a hook's decision. The core
// copies it into the call's audit record (audit.Guardrail); hooks need
// not know the record's form.
type Guardrail struct {
	Name     string
	Kind     string // sql, secrets, pii, …; "" for the pipeline's own checks
	Hook     string // pre | post | describe
	Mode     string // enforce | enforce_ignore_error | audit
	Verdict  string // pass | fail | error
	Findings []Finding
	Duration time.Duration
	Mutated  bool   // it changed the payload (redaction)
	Error    string // why it could not check, when Verdict is error
}

// Finding is one thing a guardrail found. Message never holds the
// offending value itself: it goes to records and stderr.
type Finding struct {
	Rule    string
	Message string
}

// auditGuardrails converts guardrail results for the record.
func auditGuardrails(gs []Guardrail) []audit.Guardrail {
	if gs == nil {
		return nil
	}
	out := make([]audit.Guardrail, 0, len(gs))
	for _, g := range gs {
		a := audit.Guardrail{Name: g.Name, Kind: g.Kind, Hook: g.Hook, Mode: g.Mode, Verdict: g.Verdict, DurationUS: g.Duration.Microseconds(), Mutated: g.Mutated, Error: g.Error}
		for _, f := range g.Findings {
			a.Findings = append(a.Findings, audit.Finding{Rule: f.Rule, Message: f.Message})
		}
		out = append(out, a)
	}
	return out
}
