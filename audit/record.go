// Package audit is mcpgov's audit trail: the versioned record of one
// governed event (a tool call, a refused server start, a drifted pin, a
// guardrail error), the local append-only hash-chained store, and the
// verification, query and export of what it holds.
//
// Record and its parts are the schema every other package fills in: the
// enforcement core builds one Record per event, the policy pipeline
// contributes Guardrail results, the identity layer contributes Identity.
// The store adds what only it can know (sequence, chain hash).
package audit

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of Record's JSON form. It changes only when
// a field changes meaning or is removed; adding fields keeps it.
const SchemaVersion = 1

// Record kinds.
const (
	KindToolCall       = "tool_call"       // a tools/call, allowed, denied, errored or cancelled
	KindServerRefused  = "server_refused"  // the upstream was not started
	KindToolDrift      = "tool_drift"      // a tool's definition differs from its pin
	KindToolHidden     = "tool_hidden"     // a tool removed from tools/list by the catalog
	KindToolReview     = "tool_review"     // the describe hook flagged a tool description
	KindPlaceholder    = "placeholder"     // a call whose logging was suppressed
	KindMessageRefused = "message_refused" // a client message refused unforwarded (ambiguous, no id, duplicate id)
	KindListUndecided  = "list_undecided"  // a tools/list result mcpgov could not read; the fail mode decided
	KindCredential     = "credential"      // an outbound credential granted, refreshed, used, revoked or refused (never its value)
	// KindAlert (alert.go): an alert rule fired.
)

// Outcomes of a tool call.
const (
	OutcomeAllowed   = "allowed"   // forwarded and answered
	OutcomeDenied    = "denied"    // answered by mcpgov, never reached the upstream
	OutcomeError     = "error"     // the upstream or mcpgov failed the call
	OutcomeCancelled = "cancelled" // the client cancelled it
	OutcomeRedacted  = "redacted"  // answered with a result changed by a post guardrail
)

// Record is one governed event. Fields the store owns (Version, ID, Seq,
// Prev) are zero until it is appended.
type Record struct {
	Version int       `json:"v"`
	ID      string    `json:"id"`
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`

	Session   string          `json:"session,omitempty"` // one shim process / client connection
	Identity  Identity        `json:"identity"`
	Client    Client          `json:"client,omitzero"`
	Server    ServerRef       `json:"server,omitzero"`
	Method    string          `json:"method,omitempty"` // JSON-RPC method, "tools/call"
	Tool      string          `json:"tool,omitempty"`
	Outcome   string          `json:"outcome,omitempty"`
	Reason    string          `json:"reason,omitempty"`    // one line, for non-call kinds and denials
	Logging   string          `json:"logging,omitempty"`   // always | header_controlled | never: the mode that applied
	Arguments json.RawMessage `json:"arguments,omitempty"` // redacted
	// ArgumentsKept says what Arguments holds, for a replay: full (as
	// sent), masked (secrets and PII replaced), digest (too large: size
	// and hash only); empty when no arguments were kept.
	ArgumentsKept string `json:"arguments_kept,omitempty"`
	// ToolAnnotations are the tool's MCP annotations the policy saw.
	ToolAnnotations json.RawMessage `json:"tool_annotations,omitempty"`
	Result          *ResultSummary  `json:"result,omitempty"`
	Decision        Decision        `json:"decision"`
	Guardrails      []Guardrail     `json:"guardrails,omitempty"`
	Latency         Latency         `json:"latency,omitzero"`
	// Alert is the alert a KindAlert record holds.
	Alert *Alert `json:"alert,omitempty"`
	// Cost is what the call cost by the catalog's prices; absent for a
	// server without prices.
	Cost *Cost `json:"cost,omitempty"`
	// SuppressedKind is the kind a placeholder stands for (the logging
	// mode kept the call's details out of the trail).
	SuppressedKind string `json:"suppressed_kind,omitempty"`
	// Durability is the store's durability mode when the record was
	// appended: fsync, or write (fsynced just after the reply).
	Durability string `json:"durability,omitempty"`

	Prev string `json:"prev"` // SHA-256 (hex) of the previous record's line in the chain

	// RequestMeta is the request's params._meta, for the logging mode
	// (header_controlled opts in through "io.mcpgov/logging"); not stored.
	RequestMeta json.RawMessage `json:"-"`
	// RequestLogging is the logging the request carrying the call chose
	// (RequestLoggingOn, RequestLoggingOff, or ""), for header_controlled
	// when _meta says nothing; not stored.
	RequestLogging string `json:"-"`
	// RequestRef refers to the transport's request that carried the call
	// (WithRequestRef), for sinks that follow requests (the gateway's
	// traces); not stored.
	RequestRef string `json:"-"`
}

// Identity is who made the call, as verified by `mcpgov login`.
type Identity struct {
	Subject string   `json:"subject,omitempty"`
	Email   string   `json:"email,omitempty"`
	Name    string   `json:"name,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Issuer  string   `json:"issuer,omitempty"`
	// Method is how the identity was established: "oidc" (a login),
	// "token" (MCPGOV_TOKEN), at the gateway "jwt" (an identity
	// provider's token), "pat" or "service" (a token the gateway issued)
	// or "anonymous" (--allow-anonymous), or "none" (unauthenticated).
	Method string `json:"method"`
}

// Authenticated reports whether the identity was verified.
func (i Identity) Authenticated() bool { return i.Method != "" && i.Method != "none" }

// Client is the MCP client, from initialize's clientInfo.
type Client struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// ServerRef names the upstream.
type ServerRef struct {
	ID        string `json:"id,omitempty"` // catalog ID; "" when not in the catalog
	Name      string `json:"name,omitempty"`
	Transport string `json:"transport,omitempty"` // stdio | http
	Launch    string `json:"launch,omitempty"`    // command line or URL, secrets masked
	// ConfigName is the server's name in the client's config (what the
	// user calls it), when the launcher said so (`mcpgov shim --name`).
	ConfigName string `json:"config_name,omitempty"`
}

// ResultSummary describes a tool result without storing it.
type ResultSummary struct {
	IsError      bool     `json:"isError"`
	ErrorCode    int      `json:"errorCode,omitempty"` // JSON-RPC error code when the call failed as a protocol error
	Bytes        int      `json:"bytes"`
	ContentTypes []string `json:"contentTypes,omitempty"`
	Redactions   int      `json:"redactions,omitempty"`
}

// Decision is the enforcement outcome for the event.
type Decision struct {
	Allow    bool     `json:"allow"`
	Enforced bool     `json:"enforced"` // false when nothing was blocked (audit mode, failing open)
	Mode     string   `json:"mode"`     // enforce | audit
	Reasons  []string `json:"reasons,omitempty"`
	RuleIDs  []string `json:"rule_ids,omitempty"`
	Revision string   `json:"bundle_revision,omitempty"`
	// PreDenied is set when the checks before the call went upstream
	// (identity, catalog, guardrails, policy, limits) refused it or, in
	// audit mode, would have; a refusal of the result leaves it unset.
	PreDenied bool `json:"pre_denied,omitempty"`
	// Shadow is the decision of the shadow bundle (shadow_bundle), made
	// beside this one and never enforced.
	Shadow *ShadowDecision `json:"shadow,omitempty"`
}

// ShadowDecision is what a candidate bundle evaluated on live traffic
// would have decided before the call went upstream.
type ShadowDecision struct {
	Allow    bool     `json:"allow"`
	Reasons  []string `json:"reasons,omitempty"`
	RuleIDs  []string `json:"rule_ids,omitempty"`
	Revision string   `json:"bundle_revision,omitempty"`
	Error    string   `json:"error,omitempty"` // the shadow could not decide
}

// Guardrail verdicts.
const (
	VerdictPass  = "pass"
	VerdictFail  = "fail"
	VerdictError = "error"
)

// Guardrail is one guardrail's result on one hook of one call.
type Guardrail struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind,omitempty"` // sql, secrets, pii, …
	Hook       string    `json:"hook"`           // pre | post | describe
	Mode       string    `json:"mode"`           // enforce | enforce_ignore_error | audit
	Verdict    string    `json:"verdict"`
	Findings   []Finding `json:"findings,omitempty"`
	DurationUS int64     `json:"duration_us"`
	Mutated    bool      `json:"mutated,omitempty"` // it changed the payload (redaction)
	Error      string    `json:"error,omitempty"`
}

// Finding is one thing a guardrail found. Message never holds the
// offending value itself (no secrets, no PII in records).
type Finding struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Cost of a call in the catalog's budget currency. Call and Result were
// spent against the budgets; Price is the call's price, also when the
// call was refused (a budget it would have exceeded).
type Cost struct {
	Price  float64 `json:"price"`
	Call   float64 `json:"call"`
	Result float64 `json:"result,omitempty"` // the result's size (result_kb)
	Total  float64 `json:"total"`
}

// Latency of a call, in microseconds.
type Latency struct {
	TotalUS    int64 `json:"total_us,omitempty"`
	UpstreamUS int64 `json:"upstream_us,omitempty"`
	PolicyUS   int64 `json:"policy_us,omitempty"`
}
