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
}

// Meta is the [catalog] table.
type Meta struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	Mode        Mode   `toml:"mode"`
	RequestURL  string `toml:"request_url"` // where people ask for a server to be approved
}

// Server is one registered MCP server.
type Server struct {
	ID          string    `toml:"-"`
	Title       string    `toml:"title"`
	Description string    `toml:"description"`
	Owner       string    `toml:"owner"`
	Status      Status    `toml:"status"`
	Risk        Risk      `toml:"risk"`
	DataScope   []string  `toml:"data_scope"`
	Auth        string    `toml:"auth"`
	Groups      []string  `toml:"groups"`
	FailMode    FailMode  `toml:"fail_mode"`
	Launch      Launch    `toml:"launch"`
	Match       Match     `toml:"match"`
	Limits      Limits    `toml:"limits"`
	Tools       ToolRules `toml:"tools"`
	// Pins maps a tool name to the fingerprint of the definition approved at
	// review ("sha256:…", see Fingerprint).
	Pins   map[string]string `toml:"pins"`
	Review *Review           `toml:"review"`

	Line int `toml:"-"` // line of its [servers.ID] header
}

// Launch is how clients start or reach the server: a stdio command line or a
// remote URL. Env and Headers name variables the user supplies; values never
// live in the catalog.
type Launch struct {
	Transport string   `toml:"transport"` // stdio | http | sse; derived when empty
	Command   string   `toml:"command"`
	Args      []string `toml:"args"`
	Env       []string `toml:"env"`
	URL       string   `toml:"url"`
	Headers   []string `toml:"headers"`
}

// Match lists what else recognises this server in scanned configs, beyond
// its own launch parameters: packages ("npm:name", "npm:name@1.2.*",
// "pypi:name==1.0", "oci:image:tag"), command lines ("node */server.js") and
// URLs ("https://mcp.example.com/*"), all globs.
type Match struct {
	Packages []string `toml:"packages"`
	Commands []string `toml:"commands"`
	URLs     []string `toml:"urls"`
}

// Limits are rate limits enforced per user by the shim.
type Limits struct {
	CallsPerMinute int            `toml:"calls_per_minute"` // per user, whole server
	Tools          map[string]int `toml:"tools"`            // per user, per tool (calls per minute)
}

// ToolRules are glob allow/deny lists over tool names; deny wins, and an
// empty allow list allows every tool not denied.
type ToolRules struct {
	Allow []string `toml:"allow"`
	Deny  []string `toml:"deny"`
}

// Review is the evidence of the last vetting.
type Review struct {
	Reviewer       string    `toml:"reviewer"`
	Date           time.Time `toml:"date"`
	FindingsDigest string    `toml:"findings_digest"`
	Notes          string    `toml:"notes"`
}

// VirtualServer is a curated tool set composed from registered servers:
// what a team is exposed to, without deploying anything.
type VirtualServer struct {
	ID          string   `toml:"-"`
	Title       string   `toml:"title"`
	Description string   `toml:"description"`
	Groups      []string `toml:"groups"`
	Tools       []string `toml:"tools"` // "server/tool-glob"
	Line        int      `toml:"-"`
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
