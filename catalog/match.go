package catalog

import (
	"fmt"
	"strings"

	"github.com/mcpgov/mcpgov/scan/finding"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// Finding rule ids the catalog adds to scan reports.
const (
	RuleShadow             = "shadow"
	RuleBlocked            = "blocked"
	RulePending            = "pending"
	RuleVersionNotApproved = "version-not-approved"
)

// Rules describes the catalog's finding rules, for SARIF.
var Rules = []finding.Rule{
	{ID: RuleShadow, Severity: finding.SeverityHigh, Summary: "MCP server is not in the catalog (shadow server)",
		Help: "Request approval for it, or remove it from the client config."},
	{ID: RuleBlocked, Severity: finding.SeverityCritical, Summary: "MCP server is blocked in the catalog",
		Help: "Remove it from the client config; the catalog entry says why it is blocked."},
	{ID: RulePending, Severity: finding.SeverityMedium, Summary: "MCP server is awaiting review",
		Help: "It may be used once the catalog marks it approved."},
	{ID: RuleVersionNotApproved, Severity: finding.SeverityHigh, Summary: "MCP server runs a version the catalog has not approved",
		Help: "Switch to an approved version, or have this version reviewed."},
}

// packagePattern is a match rule over a package launch: ecosystem and name
// exactly, version as a glob ("" = any version).
type packagePattern struct {
	eco, name, version string
}

// ParsePackagePattern reads a match.packages rule as parsePackagePattern
// does: its ecosystem, name and version glob ("" = any version).
func ParsePackagePattern(p string) (eco, name, version string, err error) {
	pp, err := parsePackagePattern(p)
	return pp.eco, pp.name, pp.version, err
}

// parsePackagePattern reads "npm:name", "npm:@scope/name@1.2.*",
// "pypi:name==1.0", "pypi:name@1.0", "oci:image:tag", "oci:image@sha256:…".
func parsePackagePattern(p string) (packagePattern, error) {
	eco, rest, ok := strings.Cut(p, ":")
	if !ok || rest == "" {
		return packagePattern{}, fmt.Errorf(`want "ecosystem:name[@version]" with ecosystem npm, pypi or oci`)
	}
	pp := packagePattern{eco: eco, name: rest}
	switch eco {
	case "npm":
		if at := strings.LastIndex(rest, "@"); at > 0 {
			pp.name, pp.version = rest[:at], rest[at+1:]
		}
	case "pypi":
		if n, v, ok := strings.Cut(rest, "=="); ok {
			pp.name, pp.version = n, v
		} else if n, v, ok := strings.Cut(rest, "@"); ok {
			pp.name, pp.version = n, v
		}
		pp.name = strings.ToLower(pp.name)
	case "oci":
		if n, d, ok := strings.Cut(rest, "@"); ok {
			pp.name, pp.version = n, d
		} else if colon := strings.LastIndex(rest, ":"); colon > strings.LastIndex(rest, "/") {
			pp.name, pp.version = rest[:colon], rest[colon+1:]
		}
		pp.name = strings.TrimPrefix(strings.TrimPrefix(pp.name, "docker.io/"), "library/")
	default:
		return packagePattern{}, fmt.Errorf("unknown ecosystem %q: want npm, pypi or oci", eco)
	}
	if pp.name == "" {
		return packagePattern{}, fmt.Errorf("no package name")
	}
	if pp.version != "" {
		if _, err := compileGlob(pp.version); err != nil {
			return packagePattern{}, err
		}
	}
	return pp, nil
}

// MatchResult is how a launch matched a catalog server.
type MatchResult struct {
	Server *Server
	// VersionApproved is false when the package is registered but this
	// version is not among the approved ones.
	VersionApproved bool
	By              string // "catalog-id", "package", "url", "command"
}

// packageRules are a server's package patterns, its launch's own package
// included.
func (s *Server) packageRules() []packagePattern {
	var out []packagePattern
	if l := s.launchIdentity(); l.Ecosystem != "" {
		out = append(out, packagePattern{eco: l.Ecosystem, name: l.Package, version: l.Version})
	}
	for _, p := range s.Match.Packages {
		if pp, err := parsePackagePattern(p); err == nil {
			out = append(out, pp)
		}
	}
	return out
}

func (s *Server) launchIdentity() launch.Launch {
	return launch.Analyze(s.Launch.Command, s.Launch.Args, s.Launch.URL)
}

// Match finds the catalog server a scanned launch is, by launch identity —
// never by display name, which users choose freely.
func (c *Catalog) Match(l launch.Launch) (MatchResult, bool) {
	if l.CatalogID != "" {
		if s := c.Server(l.CatalogID); s != nil {
			return MatchResult{Server: s, VersionApproved: true, By: "catalog-id"}, true
		}
		return MatchResult{}, false
	}
	if l.Ecosystem != "" {
		var nameOnly *Server
		for _, s := range c.Servers {
			for _, p := range s.packageRules() {
				if p.eco != l.Ecosystem || p.name != l.Package {
					continue
				}
				if p.version == "" || l.Version != "" && globMatch(p.version, l.Version) {
					return MatchResult{Server: s, VersionApproved: true, By: "package"}, true
				}
				if nameOnly == nil {
					nameOnly = s
				}
			}
		}
		if nameOnly != nil {
			return MatchResult{Server: nameOnly, By: "package"}, true
		}
		return MatchResult{}, false
	}
	if l.URL != "" {
		for _, s := range c.Servers {
			if own := s.launchIdentity().URL; own != "" && own == l.URL {
				return MatchResult{Server: s, VersionApproved: true, By: "url"}, true
			}
			for _, p := range s.Match.URLs {
				if globMatch(p, l.URL) {
					return MatchResult{Server: s, VersionApproved: true, By: "url"}, true
				}
			}
		}
		return MatchResult{}, false
	}
	if l.Command != "" {
		line := strings.TrimSpace(l.Command + " " + strings.Join(l.Args, " "))
		for _, s := range c.Servers {
			own := s.launchIdentity()
			if own.Ecosystem == "" && own.URL == "" && own.Command != "" && strings.TrimSpace(own.Command+" "+strings.Join(own.Args, " ")) == line {
				return MatchResult{Server: s, VersionApproved: true, By: "command"}, true
			}
			for _, p := range s.Match.Commands {
				if globMatch(p, line) {
					return MatchResult{Server: s, VersionApproved: true, By: "command"}, true
				}
			}
		}
	}
	return MatchResult{}, false
}

// Enrich implements scan.Enricher: it returns the catalog entry an entry
// launching l (at line) matches, and its shadow, blocked, pending and
// version-not-approved findings.
func (c *Catalog) Enrich(l launch.Launch, line int) (id, status string, fs []finding.Finding) {
	m, ok := c.Match(l)
	if !ok {
		msg := "not in the catalog: nobody has reviewed what it can reach"
		if l.CatalogID != "" {
			msg = fmt.Sprintf("launched as catalog server %q, which this catalog does not have", l.CatalogID)
		}
		if c.Meta.RequestURL != "" {
			msg += "; request approval at " + c.Meta.RequestURL
		}
		return "", "", []finding.Finding{{Rule: RuleShadow, Severity: finding.SeverityHigh, Line: line, Message: msg}}
	}
	switch m.Server.Status {
	case StatusBlocked:
		fs = append(fs, finding.Finding{Rule: RuleBlocked, Severity: finding.SeverityCritical, Line: line,
			Message: fmt.Sprintf("catalog server %s is blocked; remove it from this config", m.Server.ID)})
	case StatusPending:
		fs = append(fs, finding.Finding{Rule: RulePending, Severity: finding.SeverityMedium, Line: line,
			Message: fmt.Sprintf("catalog server %s is awaiting review", m.Server.ID)})
	}
	if !m.VersionApproved {
		version := fmt.Sprintf("version %q", l.Version)
		if l.Version == "" {
			version = "an unpinned version"
		}
		fs = append(fs, finding.Finding{Rule: RuleVersionNotApproved, Severity: finding.SeverityHigh, Field: "args", Line: line,
			Message: fmt.Sprintf("%s %s runs %s, not one approved for catalog server %s", l.Ecosystem, l.Package, version, m.Server.ID)})
	}
	return m.Server.ID, string(m.Server.Status), fs
}
