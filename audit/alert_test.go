package audit_test

import (
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/audit/audittest"
)

func runAlerts(t *testing.T, recs []*audit.Record) []*audit.Alert {
	t.Helper()
	rules, err := audit.ParseAlertRules("alerts.toml", []byte(audittest.AlertRules))
	if err != nil {
		t.Fatal(err)
	}
	ev := audit.NewAlertEvaluator(rules)
	var out []*audit.Alert
	for i, r := range recs {
		r.Seq = uint64(i + 1)
		out = append(out, ev.Add(r)...)
	}
	return out
}

// TestAlertRules: each rule fires once on the trail with its anomaly and
// none fires on the clean one.
func TestAlertRules(t *testing.T) {
	if got := runAlerts(t, audittest.AlertTrail(false)); len(got) != 0 {
		for _, a := range got {
			t.Errorf("alert on the clean trail: %+v", a)
		}
	}
	got := map[string]*audit.Alert{}
	for _, a := range runAlerts(t, audittest.AlertTrail(true)) {
		if got[a.Rule] != nil {
			t.Errorf("rule %s fired twice: %+v", a.Rule, a)
		}
		got[a.Rule] = a
	}
	want := map[string]string{
		"volume":          "alice@example.com made 20 calls in 1h0m0s, against a baseline of 2.0 per 1h0m0s",
		"db-after-hours":  "bob@example.com called db/export_table at Sat 03:00 UTC, outside the approved hours (08:00-19:00 mon,tue,wed,thu,fri)",
		"no-access":       "anonymous, who has no MCP access, was refused 3 times in 1h0m0s (last: github/search)",
		"guardrail-spike": "guardrails blocked 10 calls in 10m0s",
	}
	for rule, msg := range want {
		a := got[rule]
		if a == nil {
			t.Errorf("rule %s did not fire", rule)
			continue
		}
		if a.Message != msg {
			t.Errorf("rule %s: %q, want %q", rule, a.Message, msg)
		}
		if len(a.Evidence) == 0 {
			t.Errorf("rule %s: no evidence", rule)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fired %d rules, want %d", len(got), len(want))
	}
}

func TestAlertRulesAreStrict(t *testing.T) {
	for _, bad := range []string{
		"[[rule]]\nkind = \"volume\"\nwindw = \"1h\"\n",
		"[[rule]]\nkind = \"nope\"\n",
		"[[rule]]\nkind = \"off_hours\"\nhours = \"08:00-19:00\"\n",
		"[[rule]]\nkind = \"off_hours\"\nservers = [\"db\"]\nhours = \"late\"\n",
		"[[rule]]\nkind = \"volume\"\nseverity = \"loud\"\n",
	} {
		if _, err := audit.ParseAlertRules("a.toml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "a.toml") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
