package audittest

import (
	"fmt"
	"time"

	"github.com/mcpgov/mcpgov/audit"
)

// AlertRules are alert rules for AlertTrail: one of each kind.
const AlertRules = `[[rule]]
name = "volume"
kind = "volume"
severity = "warning"
window = "1h"
factor = 4
baseline = 24
threshold = 20

[[rule]]
name = "db-after-hours"
kind = "off_hours"
severity = "critical"
servers = ["db"]
hours = "08:00-19:00"
days = ["mon", "tue", "wed", "thu", "fri"]
timezone = "UTC"

[[rule]]
name = "no-access"
kind = "no_access"
severity = "error"
window = "1h"
threshold = 3

[[rule]]
name = "guardrail-spike"
kind = "guardrail_spike"
severity = "warning"
window = "10m"
threshold = 10
`

// AlertTrail is a day of synthetic records starting Monday 2026-11-30
// 00:00 UTC: alice makes two calls an hour, bob calls db in office hours,
// carol is refused by a guardrail now and then. With anomalies it adds
// what each rule of AlertRules fires on: alice's 40 calls in one hour, bob
// calling db at 03:00 on Saturday, an unauthenticated caller refused three
// times, and twelve guardrail blocks in ten minutes.
func AlertTrail(anomalies bool) []*audit.Record {
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	alice := audit.Identity{Subject: "u-alice", Email: "alice@example.com", Method: "oidc", Groups: []string{"eng"}}
	bob := audit.Identity{Subject: "u-bob", Email: "bob@example.com", Method: "oidc"}
	carol := audit.Identity{Subject: "u-carol", Email: "carol@example.com", Method: "oidc"}
	call := func(t time.Time, id audit.Identity, server, tool string) *audit.Record {
		return &audit.Record{Kind: audit.KindToolCall, Time: t, Identity: id, Server: audit.ServerRef{ID: server}, Method: "tools/call",
			Tool: tool, Outcome: audit.OutcomeAllowed, Decision: audit.Decision{Allow: true, Mode: "enforce"}}
	}
	deny := func(r *audit.Record, rule string) *audit.Record {
		r.Outcome = audit.OutcomeDenied
		r.Decision = audit.Decision{Allow: false, Enforced: true, PreDenied: true, Mode: "enforce", RuleIDs: []string{rule}, Reasons: []string{"refused"}}
		return r
	}
	var recs []*audit.Record
	for h := range 26 {
		t := start.Add(time.Duration(h) * time.Hour)
		recs = append(recs, call(t.Add(5*time.Minute), alice, "github", "search"), call(t.Add(35*time.Minute), alice, "github", "search"))
		if h == 10 || h == 15 {
			recs = append(recs, call(t.Add(20*time.Minute), bob, "db", "query"))
		}
		if h%6 == 0 {
			recs = append(recs, deny(call(t.Add(40*time.Minute), carol, "crm", "query"), "guardrail.sql/drop"))
		}
		if anomalies && h == 25 {
			for i := range 40 {
				recs = append(recs, call(t.Add(time.Duration(i)*time.Minute), alice, "github", "create_issue"))
			}
		}
		if anomalies && h == 20 {
			for i := range 12 {
				recs = append(recs, deny(call(t.Add(time.Duration(i)*30*time.Second), carol, "crm", fmt.Sprintf("query_%d", i)), "guardrail.sql/drop"))
			}
			anon := audit.Identity{Method: "none"}
			for i := range 3 {
				recs = append(recs, deny(call(t.Add(time.Duration(i+1)*time.Minute), anon, "github", "search"), "identity-required"))
			}
		}
	}
	if anomalies {
		sat := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
		recs = append(recs, call(sat, bob, "db", "export_table"))
	}
	return recs
}
