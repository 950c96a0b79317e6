// Package catalog is the governance bundle's registry of MCP servers: which
// servers are approved, pending or blocked, who owns them, what data they
// reach, how they authenticate and launch, which tools are allowed and which
// tool definitions were pinned at review — plus virtual servers, curated tool
// sets composed from several registered servers.
//
// A bundle is a directory kept in git (DESIGN §2): catalog.toml here, with
// guardrails.toml, policies/ and an optional signature beside it. Loading is
// strict: unknown keys, bad values, bad globs and dangling references are
// all reported, each with its file and line, and nothing half-valid is used.
package catalog

import (
	"time"
)

// Status is a server's approval state.
type Status string

// Statuses.
const (
	StatusApproved Status = "approved"
	StatusPending  Status = "pending"
	StatusBlocked  Status = "blocked"
)

// Risk is the reviewer's risk tier.
type Risk string

// Risk tiers.
const (
	RiskLow      Risk = "low"
	RiskMedium   Risk = "medium"
	RiskHigh     Risk = "high"
	RiskCritical Risk = "critical"
)

// FailMode says what the shim does when it cannot decide (bundle, policy or
// guardrail unavailable): refuse (closed) or let the call through (open).
type FailMode string

// Fail modes.
const (
	FailClosed FailMode = "closed"
	FailOpen   FailMode = "open"
)

// Mode is how enforcement treats a decision to block.
type Mode string

// Modes.
const (
	ModeEnforce Mode = "enforce"
	ModeAudit   Mode = "audit"
)

// Catalog is the parsed catalog.toml.
type Catalog struct {
	Meta    Meta
	Servers []*Server        // in file order
	Virtual []*VirtualServer // in file order
	File    string           // where it was loaded from
	// Warnings are what loads but is deprecated (the old free-text auth).
	Warnings []Problem
}

// Meta is the [catalog] table.
type Meta struct {
	Name        string `toml:"name" json:"name,omitempty"`
	Description string `toml:"description" json:"description,omitempty"`
	Mode        Mode   `toml:"mode" json:"mode,omitempty"`
	RequestURL  string `toml:"request_url" json:"requestUrl,omitempty"` // where people ask for a server to be approved
	// Budgets cap what tool calls may cost (servers' prices).
	Budgets Budgets `toml:"budgets" json:"budgets,omitzero"`
}

// Budgets cap the cost of tool calls, in the catalog's currency: per MCP
// session, per user per UTC day, and per team (an identity group) per UTC
// month. Zero means no cap.
type Budgets struct {
	Currency     string             `toml:"currency" json:"currency,omitempty"` // a label for amounts ("USD" when empty)
	Session      float64            `toml:"session" json:"session,omitempty"`
	UserPerDay   float64            `toml:"user_per_day" json:"userPerDay,omitempty"`
	TeamPerMonth map[string]float64 `toml:"team_per_month" json:"teamPerMonth,omitempty"` // group -> cap
}

// Any reports whether some budget is set.
func (b Budgets) Any() bool { return b.Session > 0 || b.UserPerDay > 0 || len(b.TeamPerMonth) > 0 }

// CurrencyOrDefault is the currency label.
func (b Budgets) CurrencyOrDefault() string {
	if b.Currency == "" {
		return "USD"
	}
	return b.Currency
}

// Prices are what a server's tool calls cost: a price per call (per tool
// where Tools names it) and per KiB of result.
type Prices struct {
	Call     float64            `toml:"call" json:"call,omitempty"`
	ResultKB float64            `toml:"result_kb" json:"resultKb,omitempty"`
	Tools    map[string]float64 `toml:"tools" json:"tools,omitempty"`
}

// CallPrice is the price of one call of tool.
func (p Prices) CallPrice(tool string) float64 {
	if v, ok := p.Tools[tool]; ok {
		return v
	}
	return p.Call
}

// Priced reports whether calls of the server cost anything.
func (p Prices) Priced() bool { return p.Call > 0 || p.ResultKB > 0 || len(p.Tools) > 0 }

// Server is one registered MCP server.
type Server struct {
	ID          string    `toml:"-" json:"id"`
	Title       string    `toml:"title" json:"title,omitempty"`
	Description string    `toml:"description" json:"description,omitempty"`
	Owner       string    `toml:"owner" json:"owner,omitempty"`
	Status      Status    `toml:"status" json:"status"`
	Risk        Risk      `toml:"risk" json:"risk,omitempty"`
	DataScope   []string  `toml:"data_scope" json:"dataScope,omitempty"`
	Auth        Auth      `toml:"auth" json:"auth,omitzero"` // outbound credentials (auth.go)
	Groups      []string  `toml:"groups" json:"groups,omitempty"`
	FailMode    FailMode  `toml:"fail_mode" json:"failMode,omitempty"`
	Launch      Launch    `toml:"launch" json:"launch,omitempty"`
	Match       Match     `toml:"match" json:"match,omitempty"`
	Limits      Limits    `toml:"limits" json:"limits,omitempty"`
	Prices      Prices    `toml:"prices" json:"prices,omitzero"`
	Tools       ToolRules `toml:"tools" json:"tools,omitempty"`
	// Pins maps a tool name to the fingerprint of the definition approved at
	// review ("sha256:…", see Fingerprint).
	Pins   map[string]string `toml:"pins" json:"pins,omitempty"`
	Review *Review           `toml:"review" json:"review,omitempty"`
	// Registry is the server.json this entry was imported from, kept so
	// export reproduces it (see serverjson.Import).
	Registry *RegistryRecord `toml:"registry" json:"-"`

	Line int `toml:"-" json:"line"` // line of its [servers.ID] header
}

// Launch is how clients start or reach the server: a stdio command line or a
// remote URL. Env and Headers name variables the user supplies; values never
// live in the catalog.
type Launch struct {
	Transport string   `toml:"transport" json:"transport,omitempty"` // stdio | http | sse; derived when empty
	Command   string   `toml:"command" json:"command,omitempty"`
	Args      []string `toml:"args" json:"args,omitempty"`
	Env       []string `toml:"env" json:"env,omitempty"`
	URL       string   `toml:"url" json:"url,omitempty"`
	Headers   []string `toml:"headers" json:"headers,omitempty"`
	// Protocol, for a url server, is the MCP revision the gateway calls
	// it with: "2026-07-28" calls it statelessly (no session; the
	// protocol version, client and capabilities in each request's
	// _meta), once its server/discover confirms the revision; empty
	// (or an earlier revision) opens a session with initialize.
	Protocol string `toml:"protocol" json:"protocol,omitempty"`
}

// ProtocolStateless is the MCP revision without sessions (SEP-2575).
const ProtocolStateless = "2026-07-28"

// protocols are the revisions launch.protocol may name.
var protocols = []string{ProtocolStateless, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// Match lists what else recognises this server in scanned configs, beyond
// its own launch parameters: packages ("npm:name", "npm:name@1.2.*",
// "pypi:name==1.0", "oci:image:tag"), command lines ("node */server.js") and
// URLs ("https://mcp.example.com/*"), all globs.
type Match struct {
	Packages []string `toml:"packages" json:"packages,omitempty"`
	Commands []string `toml:"commands" json:"commands,omitempty"`
	URLs     []string `toml:"urls" json:"urls,omitempty"`
}

// Limits are rate limits enforced per user by the shim.
type Limits struct {
	CallsPerMinute int            `toml:"calls_per_minute" json:"callsPerMinute,omitempty"` // per user, whole server
	Tools          map[string]int `toml:"tools" json:"tools,omitempty"`                     // per user, per tool (calls per minute)
}

// ToolRules are glob allow/deny lists over tool names; deny wins, and an
// empty allow list allows every tool not denied. Groups limits tools to
// members of groups: a tool matching a glob key may be used only by a
// member of one of its groups (of every matching key's, when several
// match).
type ToolRules struct {
	Allow  []string            `toml:"allow" json:"allow,omitempty"`
	Deny   []string            `toml:"deny" json:"deny,omitempty"`
	Groups map[string][]string `toml:"groups" json:"groups,omitempty"`
	// Egress are globs over the tools that can send data out (post a
	// message, open an issue, fetch a URL it was given): policies refuse
	// them in a session that read private data and ingested untrusted
	// content (input.tool.egress).
	Egress []string `toml:"egress" json:"egress,omitempty"`
	// Untrusted are globs over the tools whose results carry content from
	// outside (web pages, issues, mail): calling one taints the session
	// with untrusted content, as a tool annotated openWorldHint does.
	Untrusted []string `toml:"untrusted" json:"untrusted,omitempty"`
}

// ToolEgress reports whether the catalog marks tool as able to send data
// out.
func (s *Server) ToolEgress(tool string) bool { return globAny(s.Tools.Egress, tool) }

// ToolUntrusted reports whether the catalog marks tool's results as
// untrusted content.
func (s *Server) ToolUntrusted(tool string) bool { return globAny(s.Tools.Untrusted, tool) }

func globAny(globs []string, s string) bool {
	for _, g := range globs {
		if globMatch(g, s) {
			return true
		}
	}
	return false
}

// Review is the evidence of the last vetting.
type Review struct {
	Reviewer       string    `toml:"reviewer" json:"reviewer,omitempty"`
	Date           time.Time `toml:"date" json:"date,omitempty"`
	FindingsDigest string    `toml:"findings_digest" json:"findingsDigest,omitempty"`
	Notes          string    `toml:"notes" json:"notes,omitempty"`
}

// VirtualServer is a curated tool set composed from registered servers:
// what a team is exposed to, without deploying anything.
type VirtualServer struct {
	ID          string   `toml:"-" json:"id"`
	Title       string   `toml:"title" json:"title,omitempty"`
	Description string   `toml:"description" json:"description,omitempty"`
	Groups      []string `toml:"groups" json:"groups,omitempty"`
	Tools       []string `toml:"tools" json:"tools,omitempty"` // "server/tool-glob"
	Line        int      `toml:"-" json:"line"`
}

// Server returns the server with id, or nil.
func (c *Catalog) Server(id string) *Server {
	for _, s := range c.Servers {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// VirtualServer returns the virtual server with id, or nil.
func (c *Catalog) VirtualServer(id string) *VirtualServer {
	for _, v := range c.Virtual {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// ToolAllowed applies the server's allow/deny globs to a tool name.
func (s *Server) ToolAllowed(tool string) bool {
	for _, g := range s.Tools.Deny {
		if globMatch(g, tool) {
			return false
		}
	}
	if len(s.Tools.Allow) == 0 {
		return true
	}
	for _, g := range s.Tools.Allow {
		if globMatch(g, tool) {
			return true
		}
	}
	return false
}

// AllowsGroup reports whether a member of groups may use the server; an
// empty allowed list admits everyone.
func (s *Server) AllowsGroup(groups []string) bool { return groupsIntersect(s.Groups, groups) }

// ToolAllowsGroup reports whether a member of groups may use tool: every
// [servers.ID.tools] groups glob that matches the tool must list one of
// them. It returns the groups that were missing, for messages.
func (s *Server) ToolAllowsGroup(tool string, groups []string) (bool, []string) {
	for g, allowed := range s.Tools.Groups {
		if globMatch(g, tool) && !groupsIntersect(allowed, groups) {
			return false, allowed
		}
	}
	return true, nil
}

// AllowsGroup reports whether a member of groups may use the virtual server.
func (v *VirtualServer) AllowsGroup(groups []string) bool { return groupsIntersect(v.Groups, groups) }

func groupsIntersect(allowed, have []string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, a := range allowed {
		for _, h := range have {
			if a == h {
				return true
			}
		}
	}
	return false
}

// RegistryRecord is the server.json document a catalog entry was imported
// from, kept so export reproduces it. In catalog.toml it is the
// [servers.ID.registry] table: server_json = ”'…”'. Package
// catalog/serverjson imports and exports it; Load validates it.
type RegistryRecord struct {
	ServerJSON string `toml:"server_json"`
}
