package catalog

import (
	"fmt"
	"strings"
)

// RiskAssessment is how risky a server is to use and why: the reviewer's
// tier when the entry has one, else a tier derived from what the catalog
// records about the server (data scope, tool rules, vetting, pins, where
// it runs).
type RiskAssessment struct {
	Level Risk `json:"level"`
	// Source is "reviewer" (the entry's risk field) or "derived".
	Source string `json:"source"`
	// Basis lists the facts the tier rests on, in a fixed order.
	Basis []string `json:"basis"`
}

// Data scopes by sensitivity: names that reach credentials, personal or
// financial data or production rank high; source code, documents and
// messages medium; anything else low.
var (
	highScope   = lazyRegexp(`(?i)secret|credential|password|token|key|pii|personal|customer|patient|health|medical|payment|financ|billing|payroll|hr\b|prod|infra|admin|iam|cloud`)
	mediumScope = lazyRegexp(`(?i)code|repo|source|issue|ticket|wiki|page|doc|mail|message|chat|slack|calendar|file|drive|database|\bdb\b|sql|crm|log`)
)

// AssessRisk derives s's risk tier (see RiskAssessment).
func (s *Server) AssessRisk() RiskAssessment {
	level := 1 // low
	var basis []string
	raise := func(to int) {
		level = max(level, to)
	}
	switch {
	case len(s.DataScope) == 0:
		raise(2)
		basis = append(basis, "data scope not declared")
	default:
		worst := 1
		for _, d := range s.DataScope {
			switch {
			case highScope().MatchString(d):
				worst = max(worst, 3)
			case mediumScope().MatchString(d):
				worst = max(worst, 2)
			}
		}
		raise(worst)
		basis = append(basis, fmt.Sprintf("data scope %s (%s)", strings.Join(s.DataScope, ", "), tierName(worst)))
	}
	switch {
	case len(s.Tools.Allow) > 0:
		basis = append(basis, fmt.Sprintf("tools limited to %d allow rule(s)", len(s.Tools.Allow)))
	case len(s.Tools.Deny) > 0:
		basis = append(basis, fmt.Sprintf("all tools but %d deny rule(s)", len(s.Tools.Deny)))
	default:
		raise(2)
		basis = append(basis, "every tool allowed")
	}
	if s.Review == nil {
		level = min(level+1, 4)
		basis = append(basis, "never vetted")
	} else {
		who := s.Review.Reviewer
		if who == "" {
			who = "a reviewer"
		}
		basis = append(basis, fmt.Sprintf("vetted by %s on %s", who, s.Review.Date.Format("2006-01-02")))
	}
	if len(s.Pins) > 0 {
		basis = append(basis, fmt.Sprintf("%d tool definition(s) pinned", len(s.Pins)))
	} else {
		basis = append(basis, "no pinned tool definitions")
	}
	if s.Launch.URL != "" {
		raise(2)
		basis = append(basis, "remote server")
	}
	a := RiskAssessment{Level: Risk(tierName(level)), Source: "derived", Basis: basis}
	if s.Risk != "" {
		a.Level, a.Source = s.Risk, "reviewer"
	}
	return a
}

func tierName(n int) string {
	return [...]string{"low", "low", "medium", "high", "critical"}[min(max(n, 0), 4)]
}
