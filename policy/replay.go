package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/guard"
)

// Replay changes: what a candidate bundle would do to a recorded call.
const (
	ChangeNewlyDenied      = "newly_denied"
	ChangeNewlyAllowed     = "newly_allowed"
	ChangeNewlyRedacted    = "newly_redacted"
	ChangeNoLongerRedacted = "no_longer_redacted"
	ChangeUndecidable      = "undecidable"
)

// runtimeRules are refusals that came from the moment, not the bundle
// (no identity, a failed trail, a tool that drifted from its pin, a rate
// limit, unreadable params): a replay keeps them as they were.
var runtimeRules = map[string]bool{
	"identity-required": true, "audit-unavailable": true, "unverified-tool": true,
	"invalid-params": true, "undecided": true, "rate-limit": true, "tool-pin": true,
}

// Replayer re-decides recorded calls under a candidate bundle (`mcpgov
// policy replay`): the same catalog checks, guardrails and policies the
// shim runs before a call goes upstream, on the decision input each
// record keeps. Rate limits are not counted; a recorded refusal that came
// from the moment (a limit, a missing identity) stands.
type Replayer struct {
	p        *Pipeline
	report   *ReplayReport
	groups   map[string]*ReplayGroup
	sessions map[string]*enforce.Facts // the recorded sessions' facts, rebuilt in order
}

// ReplayReport is what would change, grouped by change, rule, server,
// tool and identity.
type ReplayReport struct {
	SchemaVersion int    `json:"schemaVersion"`
	Candidate     string `json:"candidate_revision"`
	// Calls is how many recorded tool calls were read; Redecided how
	// many of them the candidate decided again; Unchanged how many of
	// those it decided as recorded.
	Calls     int `json:"calls"`
	Redecided int `json:"redecided"`
	Unchanged int `json:"unchanged"`
	// Counts per change.
	Changes map[string]int `json:"changes"`
	Groups  []*ReplayGroup `json:"groups"`
}

// ReplayGroup is the recorded calls one change touches alike.
type ReplayGroup struct {
	Change   string `json:"change"`
	Rule     string `json:"rule"` // the rule that now decides (newly denied, redacted) or no longer does
	Server   string `json:"server"`
	Tool     string `json:"tool"`
	Identity string `json:"identity"`
	Count    int    `json:"count"`
	// Approximate counts calls re-decided on masked arguments: what the
	// mask replaced was not there for the candidate's checks.
	Approximate int `json:"approximate,omitempty"`
	// Reason says why (the candidate's reason, or why it cannot decide).
	Reason string `json:"reason"`
	// Seqs are the first records' sequence numbers, to look them up.
	Seqs []uint64 `json:"seqs"`
}

// maxGroupSeqs bounds the sequence numbers a group lists.
const maxGroupSeqs = 5

// NewReplayer loads a candidate bundle for replay. The candidate counts
// no rate limits and keeps no state.
func NewReplayer(candidate *catalog.Bundle, getenv func(string) string) (*Replayer, error) {
	p, err := Load(candidate, Options{Getenv: getenv})
	if err != nil {
		return nil, err
	}
	return &Replayer{p: p, groups: map[string]*ReplayGroup{}, sessions: map[string]*enforce.Facts{}, report: &ReplayReport{
		SchemaVersion: 1, Candidate: candidate.Revision, Changes: map[string]int{}, Groups: []*ReplayGroup{},
	}}, nil
}

// Add re-decides one record; records other than tools/call calls are
// passed over.
func (r *Replayer) Add(ctx context.Context, rec *audit.Record) error {
	kind := rec.Kind
	if kind == audit.KindPlaceholder {
		kind = rec.SuppressedKind
	}
	if kind != audit.KindToolCall || rec.Method != "tools/call" || rec.Tool == "" {
		return nil
	}
	r.report.Calls++
	st := r.p.st.Load()
	server := st.bundle.Catalog.Server(rec.Server.ID)
	// The session's facts before this call, as the shim had them: the
	// candidate's session rules (taint) decide on them too.
	facts := r.sessions[rec.Session]
	if facts == nil {
		facts = &enforce.Facts{}
		r.sessions[rec.Session] = facts
	}
	view := facts.View()
	defer r.observe(facts, server, rec)
	identity := identityKey(rec.Identity)
	serverName := rec.Server.ID
	if serverName == "" {
		serverName = rec.Server.Name
	}
	add := func(change, rule, reason string, approx bool) {
		key := strings.Join([]string{change, rule, serverName, rec.Tool, identity}, "\x00")
		g := r.groups[key]
		if g == nil {
			g = &ReplayGroup{Change: change, Rule: rule, Server: serverName, Tool: rec.Tool, Identity: identity, Reason: reason, Seqs: []uint64{}}
			r.groups[key] = g
			r.report.Groups = append(r.report.Groups, g)
		}
		g.Count++
		if approx {
			g.Approximate++
		}
		if len(g.Seqs) < maxGroupSeqs {
			g.Seqs = append(g.Seqs, rec.Seq)
		}
		r.report.Changes[change]++
	}

	wasAllowed := !rec.Decision.PreDenied && (rec.Decision.Allow || rec.Outcome != audit.OutcomeDenied)
	for _, id := range rec.Decision.RuleIDs {
		if runtimeRules[id] {
			// Decided by the moment, not the bundle: it stands.
			r.report.Redecided++
			r.report.Unchanged++
			return nil
		}
	}

	// What the candidate's catalog says before any hook.
	var catRule, catReason string
	switch {
	case server != nil && server.Status == catalog.StatusBlocked:
		catRule, catReason = "catalog-status", fmt.Sprintf("server %s is blocked in the candidate catalog", server.ID)
	case server != nil && !server.ToolAllowed(rec.Tool):
		catRule, catReason = "catalog-tools", fmt.Sprintf("tool %s is not allowed by the catalog entry %s", rec.Tool, server.ID)
	}

	args, kept := rec.Arguments, rec.ArgumentsKept
	if rec.Kind == audit.KindPlaceholder {
		args, kept = nil, ""
	}
	if kept == "" && len(args) > 0 {
		kept = "full" // a record from before arguments_kept
	}
	needsArgs := r.needsArguments(st, rec.Server.ID, rec.Tool)
	if catRule == "" && needsArgs && (kept == "" || kept == "digest") {
		why := "the logging mode kept no arguments for this call"
		if kept == "digest" {
			why = "the arguments were too large to keep (only their digest was recorded)"
		}
		add(ChangeUndecidable, "", why+", and the candidate's guardrails or policies read them", false)
		return nil
	}
	r.report.Redecided++

	allow, rule, reason := true, "", ""
	if catRule != "" {
		allow, rule, reason = false, catRule, catReason
	} else {
		if len(args) == 0 || kept == "" || kept == "digest" {
			args = json.RawMessage(`{}`)
		}
		call := &enforce.Call{Tool: rec.Tool, Arguments: args, Identity: rec.Identity, Client: rec.Client,
			Session: rec.Session, Annotations: rec.ToolAnnotations, Facts: view}
		d, err := r.p.Decide(ctx, server, call)
		if err != nil {
			return fmt.Errorf("replay record %d: %w", rec.Seq, err)
		}
		allow = d.Allow
		if !allow {
			rule, reason = strings.Join(d.RuleIDs, ","), strings.Join(d.Reasons, "; ")
		}
	}
	approx := kept == "masked" && needsArgs
	switch {
	case wasAllowed && !allow:
		add(ChangeNewlyDenied, rule, reason, approx)
		return nil
	case !wasAllowed && allow:
		add(ChangeNewlyAllowed, strings.Join(rec.Decision.RuleIDs, ","), "recorded: "+strings.Join(rec.Decision.Reasons, "; "), approx)
		return nil
	case !allow:
		r.report.Unchanged++
		return nil
	}
	// Both allow: would the result be redacted otherwise?
	redactors := r.redactors(st, rec.Server.ID, rec.Tool)
	redacted := rec.Outcome == audit.OutcomeRedacted
	ran := map[string]bool{}
	for _, g := range rec.Guardrails {
		if g.Hook == guard.HookPost {
			ran[g.Name] = true
		}
	}
	var added []string
	for _, name := range redactors {
		if !ran[name] {
			added = append(added, name)
		}
	}
	switch {
	case !redacted && len(added) > 0:
		add(ChangeNewlyRedacted, "guardrail."+strings.Join(added, ","),
			"the candidate redacts this tool's results with "+strings.Join(added, ", ")+"; results are not kept, so whether it would find anything is not known", false)
	case redacted && len(redactors) == 0:
		add(ChangeNoLongerRedacted, "", "no guardrail of the candidate redacts this tool's results", false)
	default:
		r.report.Unchanged++
	}
	return nil
}

// observe notes a recorded call whose result reached the client in its
// session's facts, with the findings the record kept.
func (r *Replayer) observe(facts *enforce.Facts, server *catalog.Server, rec *audit.Record) {
	if rec.Outcome != audit.OutcomeAllowed && rec.Outcome != audit.OutcomeRedacted {
		return
	}
	var gs []enforce.Guardrail
	for _, g := range rec.Guardrails {
		eg := enforce.Guardrail{Name: g.Name, Kind: g.Kind, Hook: g.Hook, Mode: g.Mode, Verdict: g.Verdict}
		if eg.Kind == "" {
			eg.Kind = g.Name // records before guardrail kinds: a guardrail is usually named for its kind
		}
		for _, f := range g.Findings {
			eg.Findings = append(eg.Findings, enforce.Finding{Rule: f.Rule, Message: f.Message})
		}
		gs = append(gs, eg)
	}
	name := rec.Server.ID
	if name == "" {
		name = rec.Server.Name
	}
	facts.Observe(server, name, &enforce.Call{Tool: rec.Tool, Annotations: rec.ToolAnnotations}, gs, rec.ID, rec.Time)
}

// needsArguments reports whether the candidate's decision on a call of
// tool on server reads its arguments.
func (r *Replayer) needsArguments(st *state, server, tool string) bool {
	if st.query != nil && st.usesArgs {
		return true
	}
	for _, sp := range st.set.Specs() {
		if sp.Applies(guard.HookPre, server, tool) {
			return true
		}
	}
	return false
}

// redactors are the candidate's guardrails that rewrite this tool's
// results.
func (r *Replayer) redactors(st *state, server, tool string) []string {
	var out []string
	for _, sp := range st.set.Specs() {
		if sp.Mode != guard.ModeAudit && sp.Applies(guard.HookPost, server, tool) && sp.Covers(guard.HookPost, guard.SourceTool) &&
			sp.RedactMethod() != guard.RedactNone {
			out = append(out, sp.Name)
		}
	}
	return out
}

// Report returns the report, its groups ordered by change, then count.
func (r *Replayer) Report() *ReplayReport {
	order := []string{ChangeNewlyDenied, ChangeNewlyAllowed, ChangeNewlyRedacted, ChangeNoLongerRedacted, ChangeUndecidable}
	sort.SliceStable(r.report.Groups, func(i, j int) bool {
		a, b := r.report.Groups[i], r.report.Groups[j]
		if a.Change != b.Change {
			return slices.Index(order, a.Change) < slices.Index(order, b.Change)
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return strings.Join([]string{a.Rule, a.Server, a.Tool, a.Identity}, "\x00") < strings.Join([]string{b.Rule, b.Server, b.Tool, b.Identity}, "\x00")
	})
	return r.report
}

// identityKey names an identity in a report: its email, else its
// subject, else "anonymous".
func identityKey(id audit.Identity) string {
	switch {
	case id.Email != "":
		return id.Email
	case id.Subject != "":
		return id.Subject
	}
	return "anonymous"
}
