package enforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
)

// CallState follows one governed call from the client's request to the
// reply: what the pre hooks decided, when it went upstream, and what the
// audit record will say. Relays keep it with the pending call and hand it
// back to FinishCall, CancelCall or FailCall exactly once.
type CallState struct {
	Call   *Call
	method string

	start     time.Time
	forwarded time.Time
	policy    time.Duration

	decision   audit.Decision
	guardrails []Guardrail
	recordArgs json.RawMessage
	cost       audit.Cost
}

// Reply is what FinishCall lets through: the upstream's response as it
// was (both nil), its result replaced (redaction, a withheld result), or
// the whole response replaced by an error.
type Reply struct {
	Result json.RawMessage
	Error  *jsonrpc.Error
}

// Post reports whether results of governed calls need the core (post
// hooks, an audit record, or the record of a call that would have been
// blocked, in audit mode or failing open) before they may reach the
// client. When it is false the relay need not call FinishCall.
func (c *Core) Post() bool {
	return c.cfg.Hooks != nil || c.cfg.Shadow != nil || c.keeps() ||
		c.cfg.Sink != nil && (c.audit() || c.cfg.FailMode == catalog.FailOpen)
}

// wants reports whether a call's record goes to the Sink: always when it
// keeps records, else only when the call blocked or would have.
func (c *Core) wants(st *CallState) bool {
	if c.cfg.Sink == nil {
		return false
	}
	return c.keeps() || !st.decision.Allow || len(st.decision.Reasons) > 0 ||
		st.decision.Shadow != nil && !st.decision.Shadow.Allow
}

// SetClient records the client's name and version from initialize.
func (c *Core) SetClient(cl audit.Client) {
	c.mu.Lock()
	c.client = cl
	c.mu.Unlock()
}

func (c *Core) clientInfo() audit.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client
}

// CheckCall governs a tools/call request's params. It is BeginCall for
// callers that do not follow the call to its reply.
func (c *Core) CheckCall(ctx context.Context, params json.RawMessage) Verdict {
	_, v := c.BeginCall(ctx, params)
	return v
}

// BeginCall runs everything that decides a tools/call before it may go
// upstream: identity, the catalog's tool rules, the pre hook (guardrails,
// rate limits, Rego). A call that may not pass is recorded here, before
// the relay answers the client with the Verdict; one that passes is
// recorded by FinishCall (or CancelCall, FailCall) with its result.
func (c *Core) BeginCall(ctx context.Context, params json.RawMessage) (*CallState, Verdict) {
	return c.beginCall(ctx, readCall(params))
}

// beginCall is BeginCall on params read already.
func (c *Core) beginCall(ctx context.Context, rc *readParams) (*CallState, Verdict) {
	p, parseErr := rc.p, rc.err
	st := &CallState{
		Call: &Call{
			Tool: p.Name, Arguments: p.Arguments, Params: p.Forward, Meta: p.Meta, InputResponses: p.InputResponses,
			Identity: c.cfg.Identity, Client: c.clientInfo(), Session: c.cfg.Session,
			Annotations: c.annotations(p.Name), Facts: c.cfg.Facts.View(),
			RequestLogging: audit.RequestLoggingFrom(ctx), RequestRef: audit.RequestRefFrom(ctx),
		},
		method:   "tools/call",
		start:    time.Now(),
		decision: audit.Decision{Allow: true, Mode: string(c.cfg.Mode), Revision: c.cfg.BundleRevision},
	}
	if parseErr != nil {
		// Params the core cannot read the way every server would are
		// never forwarded: a lenient server might run something else.
		reason := "invalid tools/call params: " + parseErr.Error()
		st.decision.Allow, st.decision.Enforced = false, true
		st.decision.Reasons = append(st.decision.Reasons, reason)
		st.decision.RuleIDs = append(st.decision.RuleIDs, "invalid-params")
		_ = c.append(ctx, c.callRecord(st, audit.OutcomeDenied))
		return st, Verdict{Error: &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Invalid params: mcpgov: " + reason}}
	}
	c.shadow(ctx, st)
	if v, stop := c.preChecks(ctx, st); stop {
		return st, v
	}
	if reason := c.unverifiable(p.Name); reason != "" {
		// The relay listed the tools to check this one first: a pinned
		// tool the server does not offer, or any tool when the listing
		// failed, cannot be checked, so the fail mode decides.
		enforced := !c.audit() && c.cfg.FailMode != catalog.FailOpen
		if v, stop := c.deny(ctx, st, enforced, reason, "unverified-tool", "mcpgov: "+reason+"; retry, or ask your administrator"); stop {
			return st, v
		}
	}
	if c.cfg.Server != nil {
		if reason, rule := c.toolBlocked(p.Name); reason != "" {
			enforced := !c.audit()
			if _, stop := c.deny(ctx, st, enforced, reason, rule, ""); stop {
				return st, Verdict{Error: c.unknownTool(p.Name, reason, rule)}
			}
		}
	}
	began := time.Now()
	v, stop := c.decide(ctx, st)
	st.policy = time.Since(began)
	if stop {
		return st, v
	}
	st.forwarded = time.Now()
	return st, pass
}

// decide runs the pre hook; stop is true when the call must not pass.
func (c *Core) decide(ctx context.Context, st *CallState) (Verdict, bool) {
	if c.cfg.Hooks == nil {
		return Verdict{}, false
	}
	tool := st.Call.Tool
	dec, err := c.cfg.Hooks.Decide(ctx, c.cfg.Server, st.Call)
	st.guardrails = append(st.guardrails, dec.Guardrails...)
	st.cost.Price, st.cost.Call = dec.Price, dec.Cost
	if dec.RecordArguments != nil {
		st.recordArgs = dec.RecordArguments
	}
	if err != nil {
		if ctx.Err() != nil { // the client cancelled; the relay records it
			return Verdict{Error: &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcpgov: the call was cancelled while being checked"}}, true
		}
		enforced := !c.audit() && c.cfg.FailMode != catalog.FailOpen
		reason := fmt.Sprintf("mcpgov could not evaluate the policy for tool %s (%v), so the call was refused", tool, err)
		return c.deny(ctx, st, enforced, err.Error(), "undecided", reason)
	}
	if dec.Allow {
		return Verdict{}, false
	}
	reason := strings.Join(dec.Reasons, "; ")
	if len(dec.RuleIDs) > 0 {
		reason += " (rule " + strings.Join(dec.RuleIDs, ", ") + ")"
	}
	enforced := !c.audit()
	st.decision.RuleIDs = append(st.decision.RuleIDs, dec.RuleIDs...)
	return c.deny(ctx, st, enforced, reason, "", "mcpgov policy refused this call: "+reason)
}

// shadow runs the shadow bundle's checks on a call and notes what they
// decided in its record. It never changes what happens to the call.
func (c *Core) shadow(ctx context.Context, st *CallState) {
	if c.cfg.Shadow == nil {
		return
	}
	sd := &audit.ShadowDecision{Allow: true, Revision: c.cfg.ShadowRevision}
	st.decision.Shadow = sd
	tool, s := st.Call.Tool, c.cfg.ShadowServer
	switch {
	case s != nil && s.Status == catalog.StatusBlocked:
		sd.Allow = false
		sd.Reasons, sd.RuleIDs = []string{fmt.Sprintf("server %s is blocked", s.ID)}, []string{"catalog-status"}
		return
	case s != nil && !s.ToolAllowed(tool):
		sd.Allow = false
		sd.Reasons, sd.RuleIDs = []string{fmt.Sprintf("tool %s is not allowed by the catalog entry %s", tool, s.ID)}, []string{"catalog-tools"}
		return
	}
	dec, err := c.cfg.Shadow.Decide(ctx, s, st.Call)
	if err != nil {
		sd.Allow, sd.Error = false, err.Error()
		return
	}
	sd.Allow, sd.Reasons, sd.RuleIDs = dec.Allow, dec.Reasons, dec.RuleIDs
}

// preChecks refuses calls that nothing else may see: no usable identity
// where one is required, or an audit trail that failed in enforce mode.
func (c *Core) preChecks(ctx context.Context, st *CallState) (Verdict, bool) {
	if err := c.cfg.IdentityErr; err != nil {
		reason := fmt.Sprintf("no verified identity (%v); run `mcpgov login` in a terminal, then retry", err)
		if v, stop := c.deny(ctx, st, !c.audit(), reason, "identity-required", "mcpgov: "+reason); stop {
			return v, true
		}
	}
	if c.keeps() && !c.audit() {
		err := c.auditFailure()
		if h, ok := c.cfg.Sink.(AuditorHealth); ok && err == nil {
			err = h.Healthy()
		}
		if err != nil {
			reason := fmt.Sprintf("the audit trail cannot record calls (%v), so none may run; fix the audit directory or ask your administrator", err)
			return c.deny(ctx, st, true, reason, "audit-unavailable", "mcpgov: "+reason)
		}
	}
	return Verdict{}, false
}

// deny settles a call that may not pass. When enforced it records the
// denial and returns the answer for the client, a tool result with
// isError and msg (stop true); otherwise it notes the would-be denial in
// the record and the call goes on.
func (c *Core) deny(ctx context.Context, st *CallState, enforced bool, reason, rule, msg string) (Verdict, bool) {
	st.decision.Allow, st.decision.PreDenied = false, true
	st.decision.Reasons = append(st.decision.Reasons, reason)
	if rule != "" {
		st.decision.RuleIDs = append(st.decision.RuleIDs, rule)
	}
	if !enforced {
		return Verdict{}, false
	}
	st.decision.Enforced = true
	rec := c.callRecord(st, audit.OutcomeDenied)
	if err := c.append(ctx, rec); err != nil && rule != "audit-unavailable" {
		msg += fmt.Sprintf(" (and the audit trail could not record it: %v)", err)
	}
	return deniedResult(msg), true
}

// FinishCall runs the post hooks on the upstream's answer to a call that
// BeginCall let through and appends its record. The relay forwards the
// Reply only after FinishCall returns, so the record is durable before
// the client sees the result.
func (c *Core) FinishCall(ctx context.Context, st *CallState, result json.RawMessage, rpcErr *jsonrpc.Error) Reply {
	upstream := time.Since(st.forwarded)
	if rpcErr != nil {
		if !c.wants(st) {
			return Reply{}
		}
		rec := c.callRecord(st, audit.OutcomeError)
		rec.Result = &audit.ResultSummary{IsError: true, ErrorCode: int(rpcErr.Code)}
		rec.Latency.UpstreamUS = upstream.Microseconds()
		return c.release(ctx, rec, Reply{})
	}
	if taskID := createdTask(result); taskID != "" {
		// A task-augmented call: the result arrives through tasks/result,
		// which is governed as the rest of this call.
		c.mu.Lock()
		c.tasks[taskID] = st.Call
		c.mu.Unlock()
		if !c.wants(st) {
			return Reply{}
		}
		rec := c.callRecord(st, audit.OutcomeAllowed)
		rec.Result = summarize(result, 0)
		rec.Latency.UpstreamUS = upstream.Microseconds()
		return c.release(ctx, rec, Reply{})
	}
	out, reply, outcome, redactions := c.filterResult(ctx, st, result)
	if !c.wants(st) {
		c.observe(st, outcome, "")
		return reply
	}
	rec := c.callRecord(st, outcome)
	rec.Result = summarize(out, redactions)
	rec.Latency.UpstreamUS = upstream.Microseconds()
	reply = c.release(ctx, rec, reply)
	c.observe(st, outcome, rec.ID)
	return reply
}

// observe notes a call whose result reached the client in the session's
// facts.
func (c *Core) observe(st *CallState, outcome, record string) {
	if !observed(outcome) || st.method != "tools/call" {
		return
	}
	name := c.cfg.ServerRef.ID
	if c.cfg.Server != nil {
		name = c.cfg.Server.ID
	}
	if name == "" {
		name = c.cfg.ServerRef.Name
	}
	c.cfg.Facts.observe(c.cfg.Server, name, st.Call, st.guardrails, record, time.Now())
}

// filterResult runs the post hook on a result.
func (c *Core) filterResult(ctx context.Context, st *CallState, result json.RawMessage) (json.RawMessage, Reply, string, int) {
	if c.cfg.Hooks == nil {
		return result, Reply{}, audit.OutcomeAllowed, 0
	}
	dec, err := c.cfg.Hooks.FilterResult(ctx, c.cfg.Server, st.Call, result)
	st.guardrails = append(st.guardrails, dec.Guardrails...)
	st.cost.Result = dec.Cost
	if err != nil {
		enforced := !c.audit() && c.cfg.FailMode != catalog.FailOpen
		st.decision.Reasons = append(st.decision.Reasons, "result not checked: "+err.Error())
		if enforced {
			st.decision.Allow, st.decision.Enforced = false, true
			withheld := deniedResult(fmt.Sprintf("mcpgov could not check the result of tool %s (%v), so it was withheld", st.Call.Tool, err))
			return withheld.Result, Reply{Result: withheld.Result}, audit.OutcomeDenied, 0
		}
		return result, Reply{}, audit.OutcomeAllowed, 0
	}
	if !dec.Allow {
		reason := strings.Join(dec.Reasons, "; ")
		if len(dec.RuleIDs) > 0 {
			reason += " (rule " + strings.Join(dec.RuleIDs, ", ") + ")"
		}
		enforced := !c.audit()
		st.decision.Allow = false
		st.decision.Reasons = append(st.decision.Reasons, dec.Reasons...)
		st.decision.RuleIDs = append(st.decision.RuleIDs, dec.RuleIDs...)
		if enforced {
			st.decision.Enforced = true
			withheld := deniedResult("mcpgov withheld the result of this call: " + reason)
			return withheld.Result, Reply{Result: withheld.Result}, audit.OutcomeDenied, 0
		}
		return result, Reply{}, audit.OutcomeAllowed, 0
	}
	if dec.Result == nil {
		return result, Reply{}, audit.OutcomeAllowed, 0
	}
	st.decision.RuleIDs = append(st.decision.RuleIDs, dec.RuleIDs...)
	return dec.Result, Reply{Result: dec.Result}, audit.OutcomeRedacted, dec.Redactions
}

// release appends the record and returns the reply, or in enforce mode
// an error in its place when the record could not be stored.
func (c *Core) release(ctx context.Context, rec *audit.Record, reply Reply) Reply {
	if err := c.append(ctx, rec); err != nil && !c.audit() {
		return Reply{Error: &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("mcpgov: the audit trail could not record this call, so its result was withheld: %v", err)}}
	}
	return reply
}

// CancelCall records a call the client cancelled before its answer;
// detail says what became of it (never sent upstream, or whether the
// upstream answered, the answer being dropped).
func (c *Core) CancelCall(ctx context.Context, st *CallState, detail string) {
	if !c.wants(st) {
		return
	}
	rec := c.callRecord(st, audit.OutcomeCancelled)
	rec.Reason = detail
	_ = c.append(context.WithoutCancel(ctx), rec)
}

// RefuseMessage records a client message the relay refused to forward
// (ambiguous members, a request without an id, a duplicate id in
// flight): such a message never reaches the upstream.
func (c *Core) RefuseMessage(ctx context.Context, method, reason string) {
	if c.cfg.Sink == nil {
		return
	}
	rec := c.baseRecord(audit.KindMessageRefused)
	rec.Method, rec.Reason = method, reason
	rec.Decision.Allow, rec.Decision.Enforced = false, true
	_ = c.append(context.WithoutCancel(ctx), rec)
}

// FailCall records a call that ended without an answer from the upstream
// (it exited, or would not take the request).
func (c *Core) FailCall(ctx context.Context, st *CallState, reason string) {
	if !c.wants(st) {
		return
	}
	rec := c.callRecord(st, audit.OutcomeError)
	rec.Reason = reason
	rec.Result = &audit.ResultSummary{IsError: true, ErrorCode: int(jsonrpc.CodeInternalError)}
	_ = c.append(context.WithoutCancel(ctx), rec)
}

// BeginTaskResult follows a tasks/result request, so the result goes
// through the post hooks like a direct one: as the rest of the tools/call
// that created the task, or, for a task the core does not know (created
// before a reload, or by another session), as a call of an unknown tool.
func (c *Core) BeginTaskResult(params json.RawMessage) *CallState {
	var p struct {
		TaskID string `json:"taskId"`
	}
	_ = jsonv2.Unmarshal(params, &p)
	c.mu.Lock()
	call := c.tasks[p.TaskID]
	c.mu.Unlock()
	if call == nil {
		call = &Call{Params: params, Identity: c.cfg.Identity, Client: c.clientInfo(), Session: c.cfg.Session}
	}
	now := time.Now()
	return &CallState{Call: call, method: "tasks/result", start: now, forwarded: now,
		decision: audit.Decision{Allow: true, Mode: string(c.cfg.Mode), Revision: c.cfg.BundleRevision}}
}

// callRecord builds the audit record of a call as it stands.
func (c *Core) callRecord(st *CallState, outcome string) *audit.Record {
	args := st.recordArgs
	if args == nil {
		args = recordArguments(st.Call.Arguments)
	}
	rec := c.baseRecord(audit.KindToolCall)
	rec.Method, rec.Tool, rec.Outcome = st.method, st.Call.Tool, outcome
	rec.Client = st.Call.Client
	rec.Arguments = args
	rec.ArgumentsKept = argumentsKept(st.Call.Arguments, args)
	rec.ToolAnnotations = st.Call.Annotations
	rec.RequestMeta = st.Call.Meta // read for the logging mode, never stored
	rec.RequestLogging = st.Call.RequestLogging
	rec.RequestRef = st.Call.RequestRef
	rec.Decision = st.decision
	rec.Guardrails = auditGuardrails(st.guardrails)
	if st.cost != (audit.Cost{}) {
		cost := st.cost
		cost.Total = cost.Call + cost.Result
		rec.Cost = &cost
	}
	rec.Latency = audit.Latency{TotalUS: time.Since(st.start).Microseconds(), PolicyUS: st.policy.Microseconds()}
	if !st.decision.Allow && st.decision.Enforced {
		rec.Reason = strings.Join(st.decision.Reasons, "; ")
	}
	return rec
}

func (c *Core) baseRecord(kind string) *audit.Record {
	server := c.cfg.ServerRef
	if c.cfg.Server != nil && server.ID == "" {
		server.ID, server.Name = c.cfg.Server.ID, c.cfg.Server.Title
	}
	return &audit.Record{
		Version: audit.SchemaVersion, Kind: kind, Time: time.Now().UTC(),
		Session: c.cfg.Session, Identity: c.cfg.Identity, Client: c.clientInfo(), Server: server,
		Decision: audit.Decision{Allow: true, Mode: string(c.cfg.Mode), Revision: c.cfg.BundleRevision},
	}
}

// append hands rec to the Sink. A failure is remembered, so that in
// enforce mode the next calls are refused until a record is stored again.
func (c *Core) append(ctx context.Context, rec *audit.Record) error {
	if c.cfg.Sink == nil {
		return nil
	}
	err := c.cfg.Sink.Record(ctx, rec)
	c.mu.Lock()
	c.auditErr = err
	c.mu.Unlock()
	return err
}

func (c *Core) auditFailure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auditErr
}

// argumentsKept says what the record's copy of a call's arguments holds.
func argumentsKept(sent, kept json.RawMessage) string {
	switch {
	case len(kept) == 0:
		return ""
	case bytes.Equal(sent, kept):
		return "full"
	case bytes.HasPrefix(kept, []byte(`{"_mcpgov_truncated":`)), bytes.HasPrefix(kept, []byte(`{"_mcpgov_unparsable":`)):
		return "digest"
	}
	return "masked"
}

// createdTask returns the task ID of a CreateTaskResult, or "".
func createdTask(result json.RawMessage) string {
	if !bytes.Contains(result, []byte("task")) && !bytes.Contains(result, []byte(`\u`)) {
		// No member can be named "task": its name would be spelled out,
		// or hold a \u escape. (Most results; decoding them was 1% of a
		// governed call.)
		return ""
	}
	var r struct {
		Task *struct {
			TaskID string `json:"taskId"`
		} `json:"task"`
		Content jsontext.Value `json:"content"`
	}
	if jsonv2.Unmarshal(result, &r) != nil || r.Task == nil || r.Content != nil {
		return ""
	}
	return r.Task.TaskID
}

// summarize describes a result for the record without keeping it.
func summarize(result json.RawMessage, redactions int) *audit.ResultSummary {
	var r struct {
		IsError bool `json:"isError"`
		Content []struct {
			Type string `json:"type"`
		} `json:"content"`
	}
	_ = jsonv2.Unmarshal(result, &r)
	s := &audit.ResultSummary{IsError: r.IsError, Bytes: len(result), Redactions: redactions}
	seen := map[string]bool{}
	for _, c := range r.Content {
		if c.Type != "" && !seen[c.Type] {
			seen[c.Type] = true
			s.ContentTypes = append(s.ContentTypes, c.Type)
		}
	}
	return s
}

// ErrNoIdentity is the usual IdentityErr: nobody is logged in.
var ErrNoIdentity = errors.New("not logged in")
