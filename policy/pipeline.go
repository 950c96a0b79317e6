package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/guard"
	"github.com/mcpgov/mcpgov/policy/limit"
)

// The enforcement core calls a Pipeline as its hooks.
var _ enforce.Hooks = (*Pipeline)(nil)

// maxRegoArguments bounds the arguments handed to Rego: converting a huge
// object into Rego values costs time linear in its size, and policies
// should decide on facts (the guardrail findings), not raw payloads.
const maxRegoArguments = 256 << 10

// Decide runs the pre guardrails, the rate limits and the policy for one
// tools/call (the pre hook).
func (p *Pipeline) Decide(ctx context.Context, server *catalog.Server, call *enforce.Call) (enforce.Decision, error) {
	st := p.st.Load()
	serverID := ""
	if server != nil {
		serverID = server.ID
	}
	var results []guard.Result
	payload, err := guard.Decode(call.Arguments, st.set.MaxScanBytes())
	req := &guard.Request{Hook: guard.HookPre, Server: serverID, Tool: call.Tool, Session: call.Session, Payload: payload}
	if err != nil {
		results = append(results, guard.Result{Name: "arguments", Hook: guard.HookPre, Mode: guard.ModeEnforce, Verdict: audit.VerdictError, Err: err})
		payload = nil
	} else {
		results = st.set.Run(ctx, req)
	}
	// A stateless retry's inputResponses (a person's answers, a model's
	// output) go to the server beside the arguments: the pre guardrails
	// scan them too, and block the call on them alike. The record says
	// the retry carried them (not their values).
	argResults := results
	if len(call.InputResponses) > 0 {
		results = append(slices.Clip(results), st.scanInputResponses(ctx, req, call.InputResponses)...)
	}
	dec := enforce.Decision{Allow: true, Guardrails: guardrails(results)}
	// The record's copy masks what every secrets and pii guardrail finds,
	// on whichever hook it is configured; a large call is left to the
	// core, which records its digest.
	if payload != nil && len(call.Arguments) <= enforce.MaxRecordedArguments {
		dec.RecordArguments = st.set.RecordCopy(req, argResults)
	}
	blockByGuardrails(&dec, results)

	if st.query != nil {
		argsFor := payload
		if !st.usesArgs {
			argsFor = nil
		}
		in := buildInputFor(st.use, guard.HookPre, server, call, argsFor, results)
		rd, err := st.decide(ctx, in)
		if err != nil {
			return enforce.Decision{}, err
		}
		if !rd.Allow {
			dec.Allow = false
			if len(rd.Reasons) == 0 {
				rd.Reasons = []string{"the policy did not allow this call"}
			}
		}
		if !rd.Allow || len(rd.Reasons) > 0 {
			dec.Reasons = append(dec.Reasons, rd.Reasons...)
			dec.RuleIDs = append(dec.RuleIDs, rd.RuleIDs...)
		}
	}
	// Count the call against the limits only when it would pass.
	if dec.Allow && st.limiter != nil && server != nil {
		if err := st.limiter.Take(ctx, limitKeys(server, call)); err != nil {
			if e, ok := limit.AsExceeded(err); ok {
				dec.Allow = false
				dec.Reasons = append(dec.Reasons, e.Error())
				dec.RuleIDs = append(dec.RuleIDs, "rate-limit")
			} else {
				return enforce.Decision{}, err
			}
		}
	}
	if server != nil && server.Prices.Priced() {
		if err := st.charge(ctx, server, call, &dec); err != nil {
			return enforce.Decision{}, err
		}
	}
	return dec, nil
}

// inputResponsesName names, in a record, the results of the pre
// guardrails on a retry's inputResponses.
const inputResponsesName = "input_responses"

// scanInputResponses runs the pre guardrails over a retry's
// inputResponses; its results are named after the guardrail and the
// member, and begin with one that says how many responses the retry
// carried.
func (st *state) scanInputResponses(ctx context.Context, args *guard.Request, responses json.RawMessage) []guard.Result {
	var members map[string]json.RawMessage
	_ = json.Unmarshal(responses, &members) // an object: parseCallParams checked it
	note := guard.Result{Name: inputResponsesName, Hook: guard.HookPre, Mode: guard.ModeAudit, Verdict: audit.VerdictPass,
		Findings: []guard.Finding{{Rule: "carried", Message: fmt.Sprintf("the retry carried %d input responses (their values are not recorded)", len(members))}}}
	out := []guard.Result{note}
	payload, err := guard.Decode(responses, st.set.MaxScanBytes())
	if err != nil {
		return append(out, guard.Result{Name: inputResponsesName, Hook: guard.HookPre, Mode: guard.ModeEnforce, Verdict: audit.VerdictError, Err: err})
	}
	req := *args
	req.Payload = payload
	for _, r := range st.set.Run(ctx, &req) {
		r.Name += " (" + inputResponsesName + ")"
		out = append(out, r)
	}
	return out
}

// charge prices a call the pipeline would let pass and spends its price
// against the catalog's budgets; a call past a budget is refused, naming
// the budget and when it resets.
func (st *state) charge(ctx context.Context, server *catalog.Server, call *enforce.Call, dec *enforce.Decision) error {
	price := server.Prices.CallPrice(call.Tool)
	dec.Price = price
	if !dec.Allow {
		return nil
	}
	budgets := st.budgets(call)
	if price > 0 && st.spender != nil && len(budgets) > 0 {
		err := st.spender.Spend(ctx, budgets, price, true)
		if e, ok := err.(*limit.OverBudget); ok {
			e.Currency = st.bundle.Catalog.Meta.Budgets.CurrencyOrDefault()
			dec.Allow = false
			dec.Reasons = append(dec.Reasons, e.Error())
			dec.RuleIDs = append(dec.RuleIDs, "budget."+e.Budget.Scope)
			return nil
		}
		if err != nil {
			return err
		}
	}
	dec.Cost = price
	return nil
}

// budgets are the catalog's budgets a call counts against now.
func (st *state) budgets(call *enforce.Call) []limit.Budget {
	b := st.bundle.Catalog.Meta.Budgets
	if !b.Any() {
		return nil
	}
	return limit.BudgetsFor(call.Session, userKey(call), b.TeamPerMonth, call.Identity.Groups, b.Session, b.UserPerDay, st.now())
}

func userKey(call *enforce.Call) string {
	switch {
	case call.Identity.Subject != "":
		return call.Identity.Subject
	case call.Identity.Email != "":
		return call.Identity.Email
	}
	return "anonymous"
}

func limitKeys(s *catalog.Server, call *enforce.Call) []limit.Key {
	user := call.Identity.Subject
	if user == "" {
		user = call.Identity.Email
	}
	if user == "" {
		user = "anonymous"
	}
	var keys []limit.Key
	if s.Limits.CallsPerMinute > 0 {
		keys = append(keys, limit.Key{User: user, Server: s.ID, Limit: s.Limits.CallsPerMinute})
	}
	if n := s.Limits.Tools[call.Tool]; n > 0 {
		keys = append(keys, limit.Key{User: user, Server: s.ID, Tool: call.Tool, Limit: n})
	}
	return keys
}

// blockByGuardrails denies for every result that blocks under its mode.
func blockByGuardrails(dec *enforce.Decision, results []guard.Result) {
	for _, r := range results {
		if !r.Blocks() {
			continue
		}
		dec.Allow = false
		dec.Reasons = append(dec.Reasons, guardrailReason(r))
		if r.Verdict == audit.VerdictError {
			dec.RuleIDs = append(dec.RuleIDs, "guardrail."+r.Name+".error")
			continue
		}
		seen := map[string]bool{}
		for _, f := range r.Findings {
			if !seen[f.Rule] {
				seen[f.Rule] = true
				dec.RuleIDs = append(dec.RuleIDs, "guardrail."+r.Name+"/"+f.Rule)
			}
		}
	}
}

func guardrailReason(r guard.Result) string {
	if r.Verdict == audit.VerdictError {
		return fmt.Sprintf("guardrail %s could not check the %s (%v) and runs in mode %s, which fails closed; fix the guardrail or set mode = \"enforce_ignore_error\"", r.Name, hookObject(r.Hook), r.Err, r.Mode)
	}
	var msgs []string
	for i, f := range r.Findings {
		if i == 3 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(r.Findings)-3))
			break
		}
		msgs = append(msgs, f.Message)
	}
	return fmt.Sprintf("guardrail %s blocked the %s: %s", r.Name, hookObject(r.Hook), strings.Join(msgs, "; "))
}

func hookObject(hook string) string {
	switch hook {
	case guard.HookPost:
		return "result"
	case guard.HookDescribe:
		return "tool description"
	}
	return "arguments"
}

// FilterResult runs the post guardrails on what a server sends toward the
// model and redacts it (the post hook): a tools/call or task
// result, a resource, a prompt, or a server's own request (call.Source).
// The whole payload is scanned: content text, structuredContent, embedded
// resources, messages.
func (p *Pipeline) FilterResult(ctx context.Context, server *catalog.Server, call *enforce.Call, result json.RawMessage) (enforce.ResultDecision, error) {
	st := p.st.Load()
	serverID := ""
	if server != nil {
		serverID = server.ID
	}
	payload, err := guard.Decode(result, st.set.MaxScanBytes())
	var results []guard.Result
	if err != nil {
		results = []guard.Result{{Name: "result", Hook: guard.HookPost, Mode: guard.ModeEnforce, Verdict: audit.VerdictError, Err: err}}
	} else {
		results = st.set.Run(ctx, &guard.Request{Hook: guard.HookPost, Server: serverID, Tool: call.Tool, Session: call.Session, Payload: payload, Source: call.Source})
	}
	rd := enforce.ResultDecision{Allow: true}
	if payload != nil {
		out, n, err := st.set.Redact(&guard.Request{Session: call.Session, Payload: payload}, results)
		if err != nil {
			return enforce.ResultDecision{}, err
		}
		if out != nil {
			rd.Result, rd.Redactions = out, n
		}
	}
	var dec enforce.Decision
	dec.Allow = true
	blockByGuardrails(&dec, results)
	rd.Allow, rd.Reasons, rd.RuleIDs = dec.Allow, dec.Reasons, dec.RuleIDs
	rd.Guardrails = guardrails(results)
	if server != nil && server.Prices.ResultKB > 0 && call.Source == "" {
		// What the result's size costs is known only now: it is spent
		// whatever the budgets say, and counts against the next call.
		rd.Cost = server.Prices.ResultKB * float64(len(result)) / 1024
		if st.spender != nil {
			if err := st.spender.Spend(ctx, st.budgets(call), rd.Cost, false); err != nil {
				return enforce.ResultDecision{}, err
			}
		}
	}
	return rd, nil
}

// ReviewTool runs the describe guardrails on one tool definition (the
// describe hook), once per definition, server and bundle revision.
func (p *Pipeline) ReviewTool(ctx context.Context, server *catalog.Server, tool json.RawMessage) (enforce.Decision, error) {
	st := p.st.Load()
	def, err := catalog.ParseToolDef(tool)
	if err != nil {
		return enforce.Decision{}, fmt.Errorf("review tool: %w", err)
	}
	serverID := ""
	if server != nil {
		serverID = server.ID
	}
	// The one cache of tool reviews: per bundle (a Reload starts a new
	// state, so a new revision reviews again), shared by every session
	// of the process, as the gateway serves many sessions of one server.
	key := serverID + "\x00" + catalog.Fingerprint(def)
	st.revMu.Lock()
	dec, ok := st.reviews[key]
	st.revMu.Unlock()
	if ok {
		return dec, nil
	}
	results := st.set.Run(ctx, &guard.Request{Hook: guard.HookDescribe, Server: serverID, Tool: def.Name, ToolDef: &def})
	dec = enforce.Decision{Allow: true, Guardrails: guardrails(results)}
	blockByGuardrails(&dec, results)
	st.revMu.Lock()
	if st.reviews == nil || len(st.reviews) >= maxCachedReviews {
		// A server that varies its definitions must not grow the cache
		// without bound; verdicts are recomputable.
		st.reviews = map[string]enforce.Decision{}
	}
	st.reviews[key] = dec
	st.revMu.Unlock()
	return dec, nil
}

// guardrails converts results for the core (and its record).
func guardrails(results []guard.Result) []enforce.Guardrail {
	out := make([]enforce.Guardrail, 0, len(results))
	for _, r := range results {
		g := enforce.Guardrail{Name: r.Name, Kind: r.Kind, Hook: r.Hook, Mode: r.Mode, Verdict: r.Verdict, Duration: r.Duration, Mutated: r.Mutated}
		if r.Err != nil {
			g.Error = r.Err.Error()
		}
		for _, f := range r.Findings {
			g.Findings = append(g.Findings, enforce.Finding{Rule: f.Rule, Message: f.Message})
		}
		out = append(out, g)
	}
	return out
}
