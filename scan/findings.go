package scan

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/scan/finding"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// Rule ids. They are stable: reports, SARIF and suppressions refer to them.
const (
	RulePlaintextSecret   = "plaintext-secret"
	RuleUnpinnedPackage   = "unpinned-package"
	RuleInsecureTransport = "insecure-transport"
	RuleNotGoverned       = "not-governed"
	RuleWrappedByOther    = "wrapped-by-other"
)

// Rules lists the scan's own rules. Enrichers (the catalog) add theirs.
var Rules = []finding.Rule{
	{ID: RulePlaintextSecret, Severity: finding.SeverityCritical, Summary: "Secret written in plain text in an MCP config",
		Help: "Move the value into the environment or the OS keychain and reference it (${VAR}, ${env:VAR}, ${input:id}); rotate the leaked credential."},
	{ID: RuleUnpinnedPackage, Severity: finding.SeverityMedium, Summary: "MCP server package is not pinned to a version",
		Help: "Pin an exact version (pkg@1.2.3, pkg==1.2.3, image@sha256:…) so an upstream release cannot change what runs."},
	{ID: RuleInsecureTransport, Severity: finding.SeverityHigh, Summary: "MCP server reached over plain HTTP",
		Help: "Use https:// for servers that are not on this machine."},
	{ID: RuleNotGoverned, Severity: finding.SeverityLow, Summary: "MCP server does not run through mcpgov shim",
		Help: "Run `mcpgov wrap` so calls are checked against the catalog and audited."},
	{ID: RuleWrappedByOther, Severity: finding.SeverityMedium, Summary: "MCP server is wrapped by another gateway or bridge",
		Help: "Review the wrapper: it sees every call and may hold credentials."},
}

// movable is the wrap command that takes the secret in field of s into
// mcpgov's vault ("" for none): an env value of a JSON entry, a Codex
// (TOML) or a Continue (YAML) entry; an argument of such a stdio entry's
// command line (unless another bridge runs it: wrap leaves
// those); a header or the URL of a JSON, Codex or Continue Streamable
// HTTP entry (Continue's headers are its requestOptions.headers), which
// wrap --remote turns into `mcpgov shim --url`.
func movable(s *Server, field string, l launch.Analysis) string {
	ext := strings.ToLower(filepath.Ext(s.File))
	json, codex := ext == ".json", ext == ".toml" && s.Client == ClientCodex
	continueYAML := (ext == ".yaml" || ext == ".yml") && s.Client == ClientContinue
	local := json || codex || continueYAML
	switch {
	case strings.HasPrefix(field, "env.") && local:
		return "mcpgov wrap --move-secrets"
	case strings.HasPrefix(field, "args[") && local && s.Transport == TransportStdio && len(l.WrappedBy) == 0:
		return "mcpgov wrap --move-secrets"
	case (strings.HasPrefix(field, "headers.") || field == "url") && json && s.Transport == TransportHTTP,
		(strings.HasPrefix(field, "headers.") || field == "url") && codex && s.Transport == TransportHTTP,
		(strings.HasPrefix(field, "headers.") || field == "url") && continueYAML && s.Transport == TransportHTTP:
		return "mcpgov wrap --remote --move-secrets"
	}
	return ""
}

// findings applies the scan's rules to one entry. It returns the indexes of
// arguments that hold secrets so the report can mask them.
func findings(s *Server, f fields, l launch.Analysis) ([]finding.Finding, map[int]bool) {
	out := []finding.Finding{}
	var masked map[int]bool

	plain := func(field string, line int, m secret.Match) {
		sev := finding.SeverityHigh
		if m.Strong {
			sev = finding.SeverityCritical
		}
		remedy := "reference it from the environment instead"
		if cmd := movable(s, field, l); cmd != "" {
			// What wrap --move-secrets takes into the vault.
			remedy = "move it into mcpgov's vault with `" + cmd + "`, or reference it from the environment"
		}
		out = append(out, finding.Finding{
			Rule: RulePlaintextSecret, Severity: sev, Field: field, Line: line,
			Message: fmt.Sprintf("%s holds a plain-text %s; %s (value masked)", field, m.Kind, remedy),
		})
	}
	for _, v := range f.env {
		if !v.literal {
			continue
		}
		if m, ok := secret.Detect(v.key, v.value); ok {
			plain("env."+v.key, v.line, m)
		}
	}
	for _, h := range f.headers {
		if !h.literal {
			continue
		}
		if m, ok := secret.Detect(h.key, h.value); ok {
			plain("headers."+h.key, h.line, m)
		}
	}
	for _, v := range f.settings {
		if m, ok := secret.Detect(v.key, v.value); ok {
			plain("settings."+v.key, v.line, m)
		}
	}
	for i, m := range secret.Args(f.args) {
		if masked == nil {
			masked = map[int]bool{}
		}
		masked[i] = true
		plain(fmt.Sprintf("args[%d]", i), f.argsLine, m)
	}
	if f.url != "" {
		if m, ok := secret.Detect("url", f.url); ok {
			plain("url", f.urlLine, m)
		} else {
			// Query pairs are read from the text: net/url refuses URLs
			// with a ${VAR} password, and the query may still hold a key.
			for _, pair := range urlQueryPairs(f.url) {
				if m, ok := secret.Detect(pair[0], pair[1]); ok {
					plain("url", f.urlLine, m)
					break
				}
			}
		}
	}

	if p := l.Package; p != nil && !p.Pinned {
		what := "no version"
		if p.Version != "" {
			what = fmt.Sprintf("%q, which is not an exact version", p.Version)
		}
		out = append(out, finding.Finding{
			Rule: RuleUnpinnedPackage, Severity: finding.SeverityMedium, Field: "args", Line: f.argsLine,
			Message: fmt.Sprintf("%s package %s requests %s; every launch may run different code", p.Ecosystem, p.Name, what),
		})
	}

	if target := l.URL; target != "" {
		if u, err := url.Parse(target); err == nil && strings.EqualFold(u.Scheme, "http") && !launch.IsLoopback(u.Hostname()) {
			line := f.urlLine
			if line == 0 {
				line = f.argsLine
			}
			out = append(out, finding.Finding{
				Rule: RuleInsecureTransport, Severity: finding.SeverityHigh, Field: "url", Line: line,
				Message: fmt.Sprintf("%s is reached over plain http://; calls and credentials cross the network unencrypted", u.Host),
			})
		}
	}

	if len(l.WrappedBy) > 0 {
		sev, kind := finding.SeverityLow, "bridge"
		for _, w := range l.WrappedBy {
			if launch.IsGovernor(w) {
				sev, kind = finding.SeverityMedium, "gateway"
			}
		}
		out = append(out, finding.Finding{
			Rule: RuleWrappedByOther, Severity: sev, Field: "command", Line: s.Line,
			Message: fmt.Sprintf("launched through %s (%s); it sees every call", strings.Join(l.WrappedBy, " → "), kind),
		})
	}
	if !l.Governed {
		out = append(out, finding.Finding{
			Rule: RuleNotGoverned, Severity: finding.SeverityLow, Line: s.Line,
			Message: "not run through mcpgov shim; calls are neither checked nor audited",
		})
	}
	return out, masked
}

// urlQueryPairs splits a URL's query into unescaped name/value pairs without
// parsing the rest of the URL.
func urlQueryPairs(raw string) [][2]string {
	q := strings.IndexByte(raw, '?')
	if q < 0 {
		return nil
	}
	query := raw[q+1:]
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query = query[:h]
	}
	var out [][2]string
	for _, pair := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		out = append(out, [2]string{k, v})
	}
	return out
}
