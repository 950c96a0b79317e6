package finding

import "testing"

func TestSeverityRankAndParse(t *testing.T) {
	for i, s := range []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical} {
		if s.Rank() != i+1 {
			t.Errorf("%s.Rank() = %d, want %d", s, s.Rank(), i+1)
		}
		if got, ok := ParseSeverity(string(s)); !ok || got != s {
			t.Errorf("ParseSeverity(%q) = %q, %v", s, got, ok)
		}
	}
	for _, bad := range []string{"", "info", "High", "severe"} {
		if _, ok := ParseSeverity(bad); ok {
			t.Errorf("ParseSeverity(%q) accepted", bad)
		}
	}
}
