// Package finding is the vocabulary every mcpgov check reports in: a
// Severity, the Rule a finding is made under and the Finding itself. scan,
// the catalog's vetting and review, the guardrails and the CLI share it
// without importing the scanner.
package finding

// Severity ranks findings.
type Severity string

// Severities, lowest first.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Rank orders severities: low=1 … critical=4; unknown values rank 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	case SeverityCritical:
		return 4
	}
	return 0
}

// ParseSeverity accepts low, medium, high or critical.
func ParseSeverity(s string) (Severity, bool) {
	sev := Severity(s)
	return sev, sev.Rank() > 0
}

// Rule describes a finding rule for reports and SARIF.
type Rule struct {
	ID       string
	Severity Severity // default severity
	Summary  string
	Help     string
}

// Finding is one problem with a server entry.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Field    string   `json:"field,omitempty"`
	Line     int      `json:"line,omitempty"`
}
