package scan

import (
	"time"

	"github.com/mcpgov/mcpgov/scan/finding"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// SchemaVersion is the version of the JSON inventory format. It changes only
// when a field is removed or changes meaning.
const SchemaVersion = 1

// Scope says which configuration layer of a client an entry comes from.
type Scope string

// Scopes, from the most personal to the most central.
const (
	ScopeLocal   Scope = "local"   // per-user, per-project (Claude Code projects[…])
	ScopeProject Scope = "project" // checked into a repository or workspace
	ScopeUser    Scope = "user"    // the user's global client config
	ScopeManaged Scope = "managed" // machine-wide, usually written by MDM
)

// Transport is how the client talks to a server.
type Transport string

// Transports.
const (
	TransportStdio Transport = "stdio"
	TransportHTTP  Transport = "http"
	TransportSSE   Transport = "sse"
	TransportWS    Transport = "ws"
)

// Report is the inventory of one machine. Its JSON form is a versioned API.
type Report struct {
	SchemaVersion int         `json:"schemaVersion"`
	Host          Host        `json:"host"`
	Servers       []Server    `json:"servers"`
	Errors        []FileError `json:"errors"`
}

// Host describes the machine and the scan.
type Host struct {
	Name      string    `json:"name"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	User      string    `json:"user,omitempty"`
	Home      string    `json:"home"`
	ScannedAt time.Time `json:"scannedAt"`
	Scanner   string    `json:"scanner"`
	Projects  []string  `json:"projects"`
	Files     int       `json:"files"`
}

// Server is one configured MCP server entry.
type Server struct {
	Client    string            `json:"client"`
	Scope     Scope             `json:"scope"`
	File      string            `json:"file"`
	Line      int               `json:"line"`
	Project   string            `json:"project,omitempty"`
	Name      string            `json:"name"`
	Transport Transport         `json:"transport"`
	Command   string            `json:"command,omitempty"`
	Args      []string          `json:"args"`
	URL       string            `json:"url,omitempty"`
	Env       []string          `json:"env"`
	Headers   []string          `json:"headers,omitempty"`
	Disabled  bool              `json:"disabled"`
	Identity  string            `json:"identity"`
	Governed  bool              `json:"governed"`
	WrappedBy []string          `json:"wrappedBy"`
	Catalog   *CatalogRef       `json:"catalog,omitempty"`
	Findings  []finding.Finding `json:"findings"`

	// launch is what the entry really starts once wrappers are peeled away;
	// enrichers (the catalog) match on it.
	launch launch.Analysis
}

// CatalogRef is the catalog entry a server matched, filled by an Enricher.
type CatalogRef struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// FileError is a config file that could not be read or understood.
type FileError struct {
	File    string `json:"file"`
	Client  string `json:"client,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// Enricher adds facts a static scan cannot know by itself — the catalog
// issue's match of each server to an approved entry and its findings
// (shadow, blocked, pending, version-not-approved). It sees what an entry
// launches and the entry's line, never its display name; it returns the
// catalog entry matched (id "" for none) and findings to add. It speaks
// only scan/launch and scan/finding, so the catalog implements it without
// importing the scanner.
type Enricher interface {
	Enrich(l launch.Launch, line int) (id, status string, findings []finding.Finding)
}

// Launch describes what a server entry starts after wrappers are peeled away.
func (s *Server) Launch() launch.Launch { return s.launch.Launch() }
