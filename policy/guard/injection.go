package guard

import (
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/guard/review"
	"github.com/mcpgov/mcpgov/scan/finding"
)

// InjectionFinding is one prompt-injection signal.
type InjectionFinding struct {
	Rule    string
	Message string
}

// injectionReviewer is the catalog's tool-poisoning reviewer: its rules
// (prompt markup, instruction overrides, concealment, consent bypass,
// exfiltration, hidden Unicode) are the same signals in an argument or a
// tool's output as in a description, so one implementation serves both.
var injectionReviewer = review.New(nil)

// injectionAt is the severity from which a review finding counts as an
// injection; low findings are hints.
var injectionAt = finding.SeverityMedium

// CheckInjection returns prompt-injection signals in text that reaches the
// model. It is a heuristic: a signal, not a defence (see the eval figures).
func CheckInjection(field, s string) []InjectionFinding {
	if len(s) < 12 {
		return nil
	}
	out := reviewerFindings(field, s)
	out = append(out, phraseFindings(s, 0)...)
	out = append(out, indirectFindings(s)...)
	return append(out, foreignRequestFindings(s)...)
}

// argumentRules are the reviewer's rules that mean injection in data. The
// others (exfiltration, sensitive paths, shadowing) describe what a tool
// does with data, and arguments legitimately name mail recipients and
// file paths.
var argumentRules = map[string]bool{
	review.RuleHiddenUnicode: true, review.RuleImperativeMarkup: true, review.RuleInstructionOverride: true,
	review.RuleConcealment: true, review.RuleConsentBypass: true,
}

func reviewerFindings(field, s string) []InjectionFinding {
	var out []InjectionFinding
	for _, f := range injectionReviewer.Text(field, s) {
		if f.Severity.Rank() < injectionAt.Rank() {
			continue
		}
		// Exfiltration counts only when the reviewer is sure (high): a
		// mail recipient in an argument is ordinary.
		if !argumentRules[f.Rule] && !(f.Rule == review.RuleExfiltration && f.Severity.Rank() >= finding.SeverityHigh.Rank()) {
			continue
		}
		out = append(out, InjectionFinding{Rule: "injection." + f.Rule, Message: f.Message})
	}
	return out
}

// poisoningAt raises the bar for the reviewer's rules that describe what a
// tool does rather than what it tells the model. A tool description names
// its own files and destinations: a Kubernetes tool names ~/.kube/config,
// a mail tool a recipient, a sync tool "all files". Those count as
// poisoning only when the reviewer is sure (high): the description tells
// the model to read or pass the file on, or to send data to an outside
// destination.
var poisoningAt = map[string]finding.Severity{
	review.RuleSensitivePath: finding.SeverityHigh,
	review.RuleExfiltration:  finding.SeverityHigh,
}

// CheckPoisoning reviews a tool definition (the describe hook).
func CheckPoisoning(t catalog.ToolDef, otherTools []string) []InjectionFinding {
	var out []InjectionFinding
	for _, f := range review.Tool(review.ToolDef(t), otherTools) {
		at := injectionAt
		if s, ok := poisoningAt[f.Rule]; ok {
			at = s
		}
		if f.Severity.Rank() < at.Rank() {
			continue
		}
		out = append(out, InjectionFinding{Rule: "poisoning." + f.Rule, Message: f.Field + ": " + f.Message})
	}
	return append(out, poisonFindings(t)...)
}
