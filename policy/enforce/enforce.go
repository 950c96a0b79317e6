// Package enforce is the transport-agnostic enforcement core (DESIGN §4):
// given the catalog entry a connection resolved to (or none), the mode and
// the fail mode, it decides whether the upstream may be started at all,
// whether a tools/call may pass, and which tools of a tools/list result the
// client may see. The stdio shim calls it per governed message; the HTTP
// gateway will call it as middleware. It knows JSON-RPC payloads (params
// and results as raw JSON) but no transport.
//
// Extension points: policy and guardrail packages plug in as Hooks (pre,
// post and describe); the audit trail and the stderr diagnostics plug in
// as one Sink, which receives every record the core makes: the reply to
// a call is released only after its record is durable.
package enforce

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
)

// CodeServerNotApproved is the JSON-RPC error code of a server the catalog
// does not let start (unknown, pending, blocked, unapproved version, or no
// usable bundle). It lies in the implementation-defined server error range.
const CodeServerNotApproved = -32001

// Config is what the core needs to know about one connection.
type Config struct {
	// Server is the catalog entry the upstream resolved to; nil when the
	// server is not in the catalog.
	Server *catalog.Server
	// VersionApproved is false when the entry matched by package name but
	// not by an approved version.
	VersionApproved bool
	// Launch describes the upstream for messages ("npx -y @scope/pkg").
	Launch string
	// Mode is enforce or audit; empty means enforce.
	Mode catalog.Mode
	// FailMode applies when the core cannot decide (a result it cannot
	// parse, a hook's error); empty means the server's, else closed.
	FailMode catalog.FailMode
	// RequestURL is where people ask for approval (catalog request_url).
	RequestURL string
	// BundleErr is set when no usable bundle could be loaded; in enforce
	// mode with fail mode closed nothing is started.
	BundleErr error
	// BundleRevision identifies the bundle for records.
	BundleRevision string
	// Hooks are the pre, post and describe hooks (policy, guardrails,
	// rate limits); nil means none.
	Hooks Hooks
	// Shadow are the pre hooks of a candidate bundle (shadow_bundle),
	// run beside Hooks on every tools/call; their decision is recorded,
	// never enforced. ShadowServer is the call's catalog entry in the
	// candidate's catalog (nil: not in it), ShadowRevision its revision.
	Shadow         Hooks
	ShadowServer   *catalog.Server
	ShadowRevision string
	// Facts are the session's facts, shared by the cores of one
	// session; nil gives the core its own.
	Facts *Facts
	// Sink receives every record the core makes (Tee: the audit store and
	// stderr lines; Lines: stderr lines only); nil records nothing.
	Sink Sink

	// Identity is the person or service behind the connection; Method
	// "none" (or empty) when nobody is logged in.
	Identity audit.Identity
	// Session identifies the connection in records.
	Session string
	// ServerRef names the upstream in records (transport, masked launch).
	ServerRef audit.ServerRef
	// IdentityErr is set when an identity is required (a login is
	// configured) but none is usable: enforce mode then refuses tool calls
	// with a result saying to run `mcpgov login`; audit mode lets them
	// through, recorded as unauthenticated.
	IdentityErr error
	// AuditErr is set when the audit trail could not be opened: enforce
	// mode then starts nothing, as no call could be recorded.
	AuditErr error
	// GroupRBAC makes the entry's groups decide with Identity's groups:
	// a server with groups is refused to non-members (RuleGroups), and a
	// tool of [servers.ID.tools] groups is hidden from and refused to
	// them ("Unknown tool"). The gateway sets it: its identities are
	// verified per request.
	GroupRBAC bool
}

// Rules of group RBAC, in refusals and records.
const (
	RuleGroups     = "catalog-groups"
	RuleToolGroups = "catalog-tool-groups"
)

// Call is a governed tools/call.
type Call struct {
	Tool      string
	Arguments json.RawMessage
	Params    json.RawMessage // the whole params object
	Meta      json.RawMessage // params._meta, if any
	// InputResponses are params.inputResponses, if any: a stateless
	// retry's answers to the server's input requests, which go to the
	// server beside the arguments (the pre hook scans them too).
	InputResponses json.RawMessage
	// RequestLogging is the audit logging the transport's request chose
	// (a gateway's X-Mcpgov-Logging header), within the configured mode.
	RequestLogging string
	// RequestRef refers to the transport's request that carried the call
	// (audit.WithRequestRef), for its record.
	RequestRef string

	Identity audit.Identity
	Client   audit.Client
	Session  string
	// Facts are what the session did before this call (nil outside a
	// session: policy eval).
	Facts *FactsView
	// Annotations are the tool's annotations from the last tools/list
	// result the connection saw, if any.
	Annotations json.RawMessage
	// Source says where a payload the post hook sees comes from
	// (SourceTool when empty): a tool result, a resource, a prompt, or a
	// server's request.
	Source string
}

// Decision is a pre or describe hook's verdict.
type Decision struct {
	Allow   bool
	Reasons []string // human-readable, shown to the model on denial
	RuleIDs []string
	// Guardrails are the per-guardrail results behind the decision, for
	// the audit record.
	Guardrails []Guardrail
	// Price is what the call costs by the catalog's prices; Cost what
	// was spent against the budgets (0 when it was refused).
	Price, Cost float64
	// RecordArguments, when set, is what the audit record stores as the
	// call's arguments (secrets masked); the upstream still gets the
	// original arguments.
	RecordArguments json.RawMessage
}

// ResultDecision is a post hook's verdict on a tools/call result.
type ResultDecision struct {
	// Allow false withholds the result: the client gets a tool result
	// with isError set and the Reasons instead.
	Allow   bool
	Reasons []string
	RuleIDs []string
	// Result, when non-nil, replaces the result (redacted).
	Result     json.RawMessage
	Redactions int
	Guardrails []Guardrail
	// Cost is what the result's size cost (the server's result_kb price).
	Cost float64
}

// Hooks are the policy and guardrails plugged into the core (DESIGN §4),
// one value for the three hook points. An error means the hook could not
// decide; the fail mode then applies. server is nil when the connection
// has no catalog entry (admitted in audit mode or failing open): the
// hooks still run and are recorded. *policy.Pipeline implements Hooks.
type Hooks interface {
	// Decide is the pre hook, consulted for every tools/call the catalog
	// allows. Sessions run it per request (while another goroutine reads
	// when the hooks may block, see Blocker), and stop waiting
	// for a call the client cancels; ctx is cancelled then.
	Decide(ctx context.Context, server *catalog.Server, call *Call) (Decision, error)
	// FilterResult is the post hook: it inspects (and may redact) what a
	// server sends toward the model before the client sees it.
	FilterResult(ctx context.Context, server *catalog.Server, call *Call, result json.RawMessage) (ResultDecision, error)
	// ReviewTool is the describe hook: it reviews one tool definition
	// (the raw JSON object of a tools/list entry) for poisoning; a denial
	// hides the tool in enforce mode. The core calls it on every listing
	// and keeps no verdicts: the hook caches them, once for every session
	// of the process.
	ReviewTool(ctx context.Context, server *catalog.Server, tool json.RawMessage) (Decision, error)
}

// Blocker is implemented by Hooks, Sinks and audit stores that can say
// whether their work may wait on something outside the process — a
// remote detector, an fsync. The session runs such work while another
// goroutine reads, so pings and cancellations are never stuck behind it,
// and runs everything else on the goroutine that read the message, with
// no hand-over on its path. Hooks and Sinks that do not implement it are
// taken to block.
type Blocker interface {
	MayBlock() bool
}

// mayBlock reports whether v may block (see Blocker).
func mayBlock(v any) bool {
	if v == nil {
		return false
	}
	b, ok := v.(Blocker)
	return !ok || b.MayBlock()
}

// MayBlock reports whether the core's hooks or sink may block (see
// Blocker): a session then governs the core's calls and finishes their
// answers while another goroutine reads.
func (c *Core) MayBlock() bool { return c.blocks }

// HookFuncs adapts functions to Hooks; a nil function allows, and a nil
// Describe means no describe hook at all (tools need no review before
// their first call).
type HookFuncs struct {
	Pre      func(ctx context.Context, server *catalog.Server, call *Call) (Decision, error)
	Post     func(ctx context.Context, server *catalog.Server, call *Call, result json.RawMessage) (ResultDecision, error)
	Describe func(ctx context.Context, server *catalog.Server, tool json.RawMessage) (Decision, error)
}

var _ Hooks = HookFuncs{}

// Decide calls h.Pre, or allows.
func (h HookFuncs) Decide(ctx context.Context, s *catalog.Server, c *Call) (Decision, error) {
	if h.Pre == nil {
		return Decision{Allow: true}, nil
	}
	return h.Pre(ctx, s, c)
}

// FilterResult calls h.Post, or allows.
func (h HookFuncs) FilterResult(ctx context.Context, s *catalog.Server, c *Call, result json.RawMessage) (ResultDecision, error) {
	if h.Post == nil {
		return ResultDecision{Allow: true}, nil
	}
	return h.Post(ctx, s, c, result)
}

// ReviewTool calls h.Describe, or allows.
func (h HookFuncs) ReviewTool(ctx context.Context, s *catalog.Server, tool json.RawMessage) (Decision, error) {
	if h.Describe == nil {
		return Decision{Allow: true}, nil
	}
	return h.Describe(ctx, s, tool)
}

// reviews reports whether hooks include a describe hook.
func reviews(h Hooks) bool {
	switch f := h.(type) {
	case nil:
		return false
	case HookFuncs:
		return f.Describe != nil
	case *HookFuncs:
		return f != nil && f.Describe != nil
	}
	return true
}

// Core enforces one connection's catalog entry. It is safe for concurrent
// use.
type Core struct {
	cfg    Config
	blocks bool // hooks or sink may block (MayBlock)

	mu         sync.Mutex
	visible    map[string]bool            // tool name -> visible when last listed
	annotation map[string]json.RawMessage // tool name -> annotations when last listed
	tasks      map[string]*Call           // task ID -> the call that created it
	client     audit.Client
	auditErr   error           // the last Record's error
	listErr    error           // the relay's own tools/list failed (VerifyFailed)
	logged     map[string]bool // tool records already made
}

// New returns the core for one connection.
func New(cfg Config) *Core {
	if cfg.Mode == "" {
		cfg.Mode = catalog.ModeEnforce
	}
	if cfg.FailMode == "" {
		cfg.FailMode = catalog.FailClosed
		if cfg.Server != nil && cfg.Server.FailMode != "" {
			cfg.FailMode = cfg.Server.FailMode
		}
	}
	if cfg.Facts == nil {
		cfg.Facts = &Facts{}
	}
	c := &Core{cfg: cfg, visible: map[string]bool{}, annotation: map[string]json.RawMessage{},
		tasks: map[string]*Call{}, logged: map[string]bool{}}
	c.blocks = cfg.Hooks != nil && mayBlock(cfg.Hooks) || cfg.Sink != nil && mayBlock(cfg.Sink)
	return c
}

// Config returns what the core governs with (a copy): the assembly's
// tests and tools read it; changing it changes nothing.
func (c *Core) Config() Config { return c.cfg }

// Mode returns the effective mode.
func (c *Core) Mode() catalog.Mode { return c.cfg.Mode }

func (c *Core) audit() bool { return c.cfg.Mode == catalog.ModeAudit }

// keeps reports whether the Sink keeps records of allowed calls.
func (c *Core) keeps() bool { return c.cfg.Sink != nil && c.cfg.Sink.Keeps() }

// record makes the record of a decision outside a call: a refused
// server, a hidden or flagged tool, an unreadable tools/list result.
func (c *Core) record(ctx context.Context, kind, tool, reason string, enforced bool) {
	if c.cfg.Sink == nil {
		return
	}
	if kind != audit.KindServerRefused {
		// A tool hidden on every tools/list is one record, not one per list.
		key := kind + "\x00" + tool + "\x00" + reason
		c.mu.Lock()
		dup := c.logged[key]
		c.logged[key] = true
		c.mu.Unlock()
		if dup {
			return
		}
	}
	rec := c.baseRecord(kind)
	rec.Tool, rec.Reason = tool, reason
	rec.Decision.Allow, rec.Decision.Enforced = false, enforced
	_ = c.append(ctx, rec)
}

// Refusal says why an upstream must not start. It is the JSON-RPC error
// every call of the connection gets.
type Refusal struct {
	Reason     string // one line: what and why
	Hint       string // how to get approval
	Rule       string // which check refused it
	Revision   string // the bundle revision
	RequestURL string // where to ask for approval
}

// Error returns the JSON-RPC error the client sees; it names mcpgov, so
// the user knows who refused, and its data explains (Explanation).
func (r *Refusal) Error() *jsonrpc.Error {
	msg := "mcpgov: " + r.Reason
	if r.Hint != "" {
		msg += "; " + r.Hint
	}
	return explained(&jsonrpc.Error{Code: CodeServerNotApproved, Message: msg},
		Explanation{Reason: r.Reason, Rule: r.Rule, BundleRevision: r.Revision, Remediation: r.Hint, RequestURL: r.RequestURL})
}

// WouldRefuse says whether Admit would refuse the upstream, without
// recording anything: a relay can then learn the client (initialize)
// before calling Admit, so the refusal's record names it.
func (c *Core) WouldRefuse() *Refusal {
	r := c.refusal()
	if r == nil || c.audit() || c.cfg.BundleErr != nil && c.cfg.FailMode == catalog.FailOpen {
		return nil
	}
	return r
}

// StartFailed records that the upstream could not be started (its
// command not found, its process not started, no HTTP connection): the
// client gets an error for every call, and the record says why.
func (c *Core) StartFailed(ctx context.Context, reason string) {
	c.record(ctx, audit.KindServerRefused, "", reason, true)
}

// Admit decides whether the upstream may be started. A nil Refusal means
// yes; in audit mode it is always nil and the would-be refusal is recorded.
func (c *Core) Admit(ctx context.Context) *Refusal {
	r := c.refusal()
	if r == nil {
		return nil
	}
	enforced := !c.audit()
	if c.cfg.BundleErr != nil && c.cfg.FailMode == catalog.FailOpen {
		enforced = false
	}
	c.record(ctx, audit.KindServerRefused, "", r.Reason, enforced)
	if !enforced {
		return nil
	}
	return r
}

func (c *Core) refusal() *Refusal {
	r := c.refusalReason()
	if r != nil {
		r.Revision, r.RequestURL = c.cfg.BundleRevision, c.cfg.RequestURL
	}
	return r
}

func (c *Core) refusalReason() *Refusal {
	hint := "ask for it to be reviewed and approved"
	if c.cfg.RequestURL != "" {
		hint = "request approval at " + c.cfg.RequestURL
	}
	s := c.cfg.Server
	switch {
	case c.cfg.AuditErr != nil:
		return &Refusal{Reason: fmt.Sprintf("the audit trail is unavailable, so %s may not start: %v", c.launchName(), c.cfg.AuditErr), Hint: "fix the audit directory (see `mcpgov help environment`) or ask your administrator", Rule: "audit-unavailable"}
	case c.cfg.BundleErr != nil:
		return &Refusal{Reason: fmt.Sprintf("no usable governance bundle, so %s may not start: %v", c.launchName(), c.cfg.BundleErr), Hint: "fix the bundle configuration or ask your administrator", Rule: "bundle-unavailable"}
	case s == nil:
		return &Refusal{Reason: fmt.Sprintf("MCP server %s is not in the catalog", c.launchName()), Hint: hint, Rule: "catalog-unknown"}
	case s.Status == catalog.StatusBlocked:
		return &Refusal{Reason: fmt.Sprintf("MCP server %s is blocked by the catalog", s.ID), Hint: "it may not be used; " + hint + " for an alternative", Rule: "catalog-blocked"}
	case s.Status != catalog.StatusApproved:
		return &Refusal{Reason: fmt.Sprintf("MCP server %s is %s, not approved", s.ID, s.Status), Hint: hint, Rule: "catalog-status"}
	case !c.cfg.VersionApproved:
		return &Refusal{Reason: fmt.Sprintf("this version of MCP server %s (%s) is not approved", s.ID, c.launchName()), Hint: hint, Rule: "catalog-version"}
	case c.cfg.GroupRBAC && !s.AllowsGroup(c.cfg.Identity.Groups):
		return &Refusal{Reason: fmt.Sprintf("%s may not use MCP server %s: it is for members of %s, and the caller's groups are %s",
			c.caller(), s.ID, strings.Join(s.Groups, ", "), groupsOf(c.cfg.Identity)), Hint: "ask the server's owner for access" + ownerOf(s), Rule: RuleGroups}
	}
	return nil
}

// caller names the identity in messages.
func (c *Core) caller() string {
	id := c.cfg.Identity
	for _, who := range []string{id.Email, id.Subject, id.Name} {
		if who != "" {
			return who
		}
	}
	if id.Method == "anonymous" {
		return "an anonymous caller"
	}
	return "a caller without an identity"
}

func groupsOf(id audit.Identity) string {
	if len(id.Groups) == 0 {
		return "none"
	}
	return strings.Join(id.Groups, ", ")
}

func ownerOf(s *catalog.Server) string {
	if s.Owner == "" {
		return ""
	}
	return " (" + s.Owner + ")"
}

// toolGroupBlocked says why the caller may not use tool, or "".
func (c *Core) toolGroupBlocked(tool string) string {
	if !c.cfg.GroupRBAC {
		return ""
	}
	ok, allowed := c.cfg.Server.ToolAllowsGroup(tool, c.cfg.Identity.Groups)
	if ok {
		return ""
	}
	return fmt.Sprintf("tool %s of %s is for members of %s, and the caller's groups are %s", tool, c.cfg.Server.ID, strings.Join(allowed, ", "), groupsOf(c.cfg.Identity))
}

func (c *Core) launchName() string {
	if c.cfg.Launch != "" {
		return fmt.Sprintf("%q", c.cfg.Launch)
	}
	if c.cfg.Server != nil {
		return c.cfg.Server.ID
	}
	return "(unknown)"
}

// Verdict is the core's answer for one call: pass it upstream, or answer
// the client locally with Error (a protocol error) or Result (a tool
// result with isError set, so the model can adapt).
type Verdict struct {
	Pass   bool
	Error  *jsonrpc.Error
	Result json.RawMessage
}

var pass = Verdict{Pass: true}

// toolBlocked returns why a tool may not be called and the rule, or "".
func (c *Core) toolBlocked(name string) (string, string) {
	if !c.cfg.Server.ToolAllowed(name) {
		return fmt.Sprintf("tool %s is not allowed by the catalog entry %s", name, c.cfg.Server.ID), "catalog-tools"
	}
	if reason := c.toolGroupBlocked(name); reason != "" {
		return reason, RuleToolGroups
	}
	c.mu.Lock()
	visible, seen := c.visible[name]
	c.mu.Unlock()
	if seen && !visible {
		return fmt.Sprintf("tool %s is hidden (its definition differs from the approved pin or failed review)", name), "tool-pin"
	}
	return "", ""
}

func deniedResult(text string) Verdict {
	type content struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	b, _ := json.Marshal(struct {
		Content []content `json:"content"`
		IsError bool      `json:"isError"`
	}{[]content{{"text", text}}, true})
	return Verdict{Result: b}
}
