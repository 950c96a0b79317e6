package guard

import (
	"regexp"
	"strings"
	"sync"

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
// It is built on first use.
var injectionReviewer = sync.OnceValue(func() *review.Reviewer { return review.New(nil) })

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
	for _, f := range injectionReviewer().Text(field, s) {
		if f.Severity.Rank() < injectionAt.Rank() {
			continue
		}
		// Exfiltration counts only when the reviewer is sure (high): a
		// mail recipient in an argument is ordinary.
		if !argumentRules[f.Rule] && !(f.Rule == review.RuleExfiltration && f.Severity.Rank() >= finding.SeverityHigh.Rank()) {
			continue
		}
		// A URL template in data counts when the data has the model
		// fetch it: an image or link for the client to render, or a
		// sentence telling the model to open or send to it.
		if f.Message == review.MsgURLPlaceholder && !urlTemplateUsed(s) {
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

// urlPlaceholder: a URL part for data to be filled in (as the reviewer's).
var urlPlaceholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\$\{|\{\{|%s|\$[a-z_(]`) })

// urlDirective: a sentence, before a URL, that has the model use it.
var urlDirective = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(?:send|sends|post|upload|forward|transmit|visit|open|fetch|load|navigate|go to|render|display|show|include|embed|append|request|access|call|click|submit|report|log|ping)\b`)
})

// urlTemplateUsed: a URL with placeholders in s is one the text has the
// model fetch: the target of a Markdown image or link, an HTML src or
// href, or a URL a directive verb on the same line points at.
func urlTemplateUsed(s string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], "http")
		if i < 0 {
			return false
		}
		at := off + i
		end := at
		for end < len(s) && !strings.ContainsRune(" \t\n'\"<>`)]", rune(s[end])) {
			end++
		}
		off = max(end, at+4)
		if !urlPlaceholder().MatchString(s[at:end]) {
			continue
		}
		before := s[max(at-6, 0):at]
		if strings.HasSuffix(before, "](") || strings.HasSuffix(before, "src=\"") || strings.HasSuffix(before, "href=\"") ||
			strings.HasSuffix(before, "src='") || strings.HasSuffix(before, "href='") {
			return true
		}
		lo := strings.LastIndexByte(s[:at], '\n') + 1
		if urlDirective().MatchString(s[max(lo, at-160):at]) {
			return true
		}
	}
}
