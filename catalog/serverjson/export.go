package serverjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/serverjson/schema"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// sjGovernance is the _meta["io.mcpgov/governance"] block. Keys follow
// catalog.toml's. Title, description, launch and match appear only when
// the catalog's value differs from what the document implies, and then
// replace it on import.
type sjGovernance struct {
	Version     int               `json:"version"`
	ID          string            `json:"id,omitempty"`
	Status      catalog.Status    `json:"status,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	Risk        catalog.Risk      `json:"risk,omitempty"`
	DataScope   []string          `json:"data_scope,omitempty"`
	Auth        catalog.Auth      `json:"auth,omitzero"`
	Groups      []string          `json:"groups,omitempty"`
	FailMode    catalog.FailMode  `json:"fail_mode,omitempty"`
	Tools       *sjGovTools       `json:"tools,omitempty"`
	Limits      *sjGovLimits      `json:"limits,omitempty"`
	Pins        map[string]string `json:"pins,omitempty"`
	Review      *sjGovReview      `json:"review,omitempty"`
	Title       *string           `json:"title,omitempty"`
	Description *string           `json:"description,omitempty"`
	Launch      *sjGovLaunch      `json:"launch,omitempty"`
	Match       *sjGovMatch       `json:"match,omitempty"`
}

type sjGovTools struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

type sjGovLimits struct {
	CallsPerMinute int            `json:"calls_per_minute,omitempty"`
	Tools          map[string]int `json:"tools,omitempty"`
}

type sjGovReview struct {
	Reviewer       string `json:"reviewer,omitempty"`
	Date           string `json:"date,omitempty"` // YYYY-MM-DD
	FindingsDigest string `json:"findings_digest,omitempty"`
	Notes          string `json:"notes,omitempty"`
}

type sjGovLaunch struct {
	Transport string   `json:"transport,omitempty"`
	Command   string   `json:"command,omitempty"`
	Args      []string `json:"args,omitempty"`
	Env       []string `json:"env,omitempty"`
	URL       string   `json:"url,omitempty"`
	Headers   []string `json:"headers,omitempty"`
	Protocol  string   `json:"protocol,omitempty"`
}

type sjGovMatch struct {
	Packages []string `json:"packages,omitempty"`
	Commands []string `json:"commands,omitempty"`
	URLs     []string `json:"urls,omitempty"`
}

const sjGovernanceVersion = 1

// sjReadGovernance decodes the governance block strictly: an unknown key
// or a wrong type is a problem at its path.
func sjReadGovernance(meta map[string]json.RawMessage) (*sjGovernance, *schema.Problem) {
	raw, ok := meta[GovernanceMetaKey]
	if !ok {
		return nil, nil
	}
	at := "_meta." + GovernanceMetaKey
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var g sjGovernance
	if err := dec.Decode(&g); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return nil, &schema.Problem{Path: at + "." + te.Field, Message: fmt.Sprintf("must be %s, not a JSON %s", sjGoKind(te.Type.Kind().String()), te.Value)}
		case errors.As(err, &te):
			return nil, &schema.Problem{Path: at, Message: fmt.Sprintf("must be an object, not a JSON %s", te.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, &schema.Problem{Path: at, Message: "unknown key " + strings.TrimPrefix(err.Error(), "json: unknown field ")}
		}
		return nil, &schema.Problem{Path: at, Message: err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &schema.Problem{Path: at, Message: "unexpected data after the object"}
	}
	switch {
	case g.Version == 0:
		g.Version = sjGovernanceVersion
	case g.Version > sjGovernanceVersion:
		return nil, &schema.Problem{Path: at + ".version", Message: fmt.Sprintf("version %d was written by a newer mcpgov; this one reads version %d", g.Version, sjGovernanceVersion)}
	case g.Version < 0:
		return nil, &schema.Problem{Path: at + ".version", Message: fmt.Sprintf("version %d: want %d", g.Version, sjGovernanceVersion)}
	}
	return &g, nil
}

func sjGoKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int64":
		return "an integer"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return k
}

// apply restores the governance data onto s, which holds what the
// document implies.
func (g *sjGovernance) apply(s *catalog.Server) error {
	if g == nil {
		return nil
	}
	if g.ID != "" {
		if !catalog.ValidID(g.ID) {
			return fmt.Errorf("id %q: use lower-case letters, digits, '.', '_' and '-' (at most 63)", g.ID)
		}
		s.ID = g.ID
	}
	if g.Status != "" {
		s.Status = g.Status
	}
	s.Owner, s.Risk, s.DataScope, s.Groups, s.FailMode = g.Owner, g.Risk, g.DataScope, g.Groups, g.FailMode
	s.Auth = g.Auth
	if g.Tools != nil {
		s.Tools = catalog.ToolRules{Allow: g.Tools.Allow, Deny: g.Tools.Deny}
	}
	if g.Limits != nil {
		s.Limits = catalog.Limits{CallsPerMinute: g.Limits.CallsPerMinute, Tools: g.Limits.Tools}
	}
	s.Pins = g.Pins
	if r := g.Review; r != nil {
		s.Review = &catalog.Review{Reviewer: r.Reviewer, FindingsDigest: r.FindingsDigest, Notes: r.Notes}
		if r.Date != "" {
			d, err := time.Parse("2006-01-02", r.Date)
			if err != nil {
				if d, err = time.Parse(time.RFC3339, r.Date); err != nil {
					return fmt.Errorf("review.date %q: want YYYY-MM-DD", r.Date)
				}
			}
			s.Review.Date = d
		}
	}
	if g.Title != nil {
		s.Title = *g.Title
	}
	if g.Description != nil {
		s.Description = *g.Description
	}
	if l := g.Launch; l != nil {
		s.Launch = catalog.Launch{Transport: l.Transport, Command: l.Command, Args: l.Args, Env: l.Env, URL: l.URL, Headers: l.Headers, Protocol: l.Protocol}
	}
	if m := g.Match; m != nil {
		s.Match = catalog.Match{Packages: m.Packages, Commands: m.Commands, URLs: m.URLs}
	}
	return nil
}

// sjGovernanceFor is s's governance block, given what its document implies.
func sjGovernanceFor(s *catalog.Server, derived *catalog.Server) *sjGovernance {
	g := &sjGovernance{
		Version: sjGovernanceVersion, ID: s.ID, Status: s.Status, Owner: s.Owner, Risk: s.Risk,
		DataScope: s.DataScope, Auth: s.Auth, Groups: s.Groups, FailMode: s.FailMode, Pins: s.Pins,
	}
	if len(s.Tools.Allow)+len(s.Tools.Deny) > 0 {
		g.Tools = &sjGovTools{Allow: s.Tools.Allow, Deny: s.Tools.Deny}
	}
	if s.Limits.CallsPerMinute != 0 || len(s.Limits.Tools) > 0 {
		g.Limits = &sjGovLimits{CallsPerMinute: s.Limits.CallsPerMinute, Tools: s.Limits.Tools}
	}
	if r := s.Review; r != nil {
		g.Review = &sjGovReview{Reviewer: r.Reviewer, FindingsDigest: r.FindingsDigest, Notes: r.Notes}
		if !r.Date.IsZero() {
			g.Review.Date = r.Date.Format("2006-01-02")
		}
	}
	if s.Title != derived.Title {
		g.Title = &s.Title
	}
	if s.Description != derived.Description {
		g.Description = &s.Description
	}
	if !sjLaunchEqual(s.Launch, derived.Launch) {
		l := s.Launch
		g.Launch = &sjGovLaunch{Transport: l.Transport, Command: l.Command, Args: l.Args, Env: l.Env, URL: l.URL, Headers: l.Headers, Protocol: l.Protocol}
	}
	if !slices.Equal(s.Match.Packages, derived.Match.Packages) || !slices.Equal(s.Match.Commands, derived.Match.Commands) ||
		!slices.Equal(s.Match.URLs, derived.Match.URLs) {
		g.Match = &sjGovMatch{Packages: s.Match.Packages, Commands: s.Match.Commands, URLs: s.Match.URLs}
	}
	return g
}

func sjLaunchEqual(a, b catalog.Launch) bool {
	return a.Transport == b.Transport && a.Command == b.Command && a.URL == b.URL && a.Protocol == b.Protocol &&
		slices.Equal(a.Args, b.Args) && slices.Equal(a.Env, b.Env) && slices.Equal(a.Headers, b.Headers)
}

// Export writes s as a server.json document (schema 2025-12-11)
// with its governance data under _meta["io.mcpgov/governance"]. An entry
// imported from the registry (reg holds its document) comes back as that
// document, every field and _meta key kept in order, only the governance
// block added or replaced. Any other entry gets a document built from the
// catalog: name io.mcpgov.catalog/<id>, packages from its launch and exact
// match packages, remotes from its launch URL. The result is validated.
func Export(s *catalog.Server, reg *catalog.RegistryRecord) ([]byte, error) {
	if s == nil {
		return nil, errors.New("export server.json: no server")
	}
	var (
		members []sjMember
		err     error
	)
	if reg != nil && strings.TrimSpace(reg.ServerJSON) != "" {
		raw := []byte(reg.ServerJSON)
		if err := schema.Validate(raw); err != nil {
			return nil, fmt.Errorf("server %s: registry.server_json: %w", s.ID, err)
		}
		if members, err = sjParseObject(raw); err != nil {
			return nil, fmt.Errorf("server %s: registry.server_json: %w", s.ID, err)
		}
	} else {
		if members, err = sjSynthesize(s); err != nil {
			return nil, fmt.Errorf("server %s: %w", s.ID, err)
		}
	}
	var doc sjServer
	if err := json.Unmarshal(sjWriteObject(members), &doc); err != nil {
		return nil, fmt.Errorf("server %s: %w", s.ID, err)
	}
	derived, _ := sjDerive(&doc)
	gov, err := json.Marshal(sjGovernanceFor(s, derived))
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", s.ID, err)
	}
	if members, err = sjSetMeta(members, GovernanceMetaKey, gov); err != nil {
		return nil, fmt.Errorf("server %s: registry.server_json: %w", s.ID, err)
	}
	text, err := sjIndent(sjWriteObject(members))
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", s.ID, err)
	}
	if err := schema.Validate([]byte(text)); err != nil {
		return nil, fmt.Errorf("server %s: exported server.json is invalid: %w", s.ID, err)
	}
	return []byte(text), nil
}

// sjSynthesize builds a server.json for an entry that was never imported.
func sjSynthesize(s *catalog.Server) ([]sjMember, error) {
	doc := sjServer{
		Schema:      schema.URL,
		Name:        CatalogNamespace + "/" + s.ID,
		Title:       sjTruncate(s.Title, 100),
		Description: sjTruncate(s.Description, 100),
	}
	if doc.Description == "" {
		doc.Description = sjTruncate(s.Title, 100)
	}
	if doc.Description == "" {
		doc.Description = "MCP server " + s.ID + " from the mcpgov catalog"
	}
	l := launch.Analyze(s.Launch.Command, s.Launch.Args, s.Launch.URL)
	type key struct{ eco, name, version string }
	seen := map[key]bool{}
	if l.Ecosystem != "" {
		p := sjPackageFor(l.Ecosystem, l.Package, l.Version)
		for _, a := range l.Args {
			if a != "" {
				p.PackageArguments = append(p.PackageArguments, sjArgument{Type: "positional", Value: a})
			}
		}
		for _, e := range s.Launch.Env {
			p.EnvironmentVariables = append(p.EnvironmentVariables, sjKeyValue{Name: e})
		}
		doc.Packages = append(doc.Packages, p)
		seen[key{l.Ecosystem, l.Package, l.Version}] = true
		doc.Version = l.Version
	}
	for _, pat := range s.Match.Packages {
		eco, name, version, err := catalog.ParsePackagePattern(pat)
		if err != nil || strings.ContainsAny(version, "*?") || seen[key{eco, name, version}] {
			continue // a version glob approves a range; only the governance block can say that
		}
		seen[key{eco, name, version}] = true
		doc.Packages = append(doc.Packages, sjPackageFor(eco, name, version))
		if doc.Version == "" {
			doc.Version = version
		}
	}
	if doc.Version == "" || strings.HasPrefix(doc.Version, "sha256:") {
		doc.Version = "0.0.0"
	}
	urls := []string{}
	if u := s.Launch.URL; u != "" {
		urls = append(urls, u)
	} else if l.URL != "" {
		urls = append(urls, l.URL)
	}
	for _, u := range s.Match.URLs {
		if !strings.ContainsAny(u, "*?") {
			urls = sjAppendNew(urls, u)
		}
	}
	for i, u := range urls {
		r := sjTransport{Type: "streamable-http", URL: u}
		if i == 0 && s.Launch.URL != "" {
			if s.Launch.Transport == "sse" {
				r.Type = "sse"
			}
			for _, h := range s.Launch.Headers {
				r.Headers = append(r.Headers, sjKeyValue{Name: h})
			}
		} else if strings.HasSuffix(strings.TrimRight(u, "/"), "/sse") {
			r.Type = "sse"
		}
		doc.Remotes = append(doc.Remotes, r)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return sjParseObject(raw)
}

func sjPackageFor(eco, name, version string) sjPackage {
	p := sjPackage{RegistryType: eco, Identifier: name, Version: version, Transport: sjTransport{Type: "stdio"}}
	switch eco {
	case "npm":
		p.RuntimeHint = "npx"
	case "pypi":
		p.RuntimeHint = "uvx"
	case "oci":
		p.RuntimeHint, p.Version = "docker", ""
		switch {
		case strings.HasPrefix(version, "sha256:"):
			p.Identifier = name + "@" + version
		case version != "":
			p.Identifier = name + ":" + version
		}
	}
	return p
}

// sjTruncate shortens s to at most n characters, marking the cut.
func sjTruncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// sjMember is one key of a JSON object, in document order; values keep
// their bytes, so nothing the publisher wrote is re-encoded.
type sjMember struct {
	Key   string
	Value json.RawMessage
}

// sjParseObject splits a JSON object into its members in order. Duplicate
// keys are refused: which one counts is undefined, and export edits by key.
func sjParseObject(raw []byte) ([]sjMember, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []sjMember
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		if seen[k] {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, sjMember{Key: k, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON object")
	}
	return out, nil
}

// sjWriteObject joins members back into a compact-keyed JSON object.
func sjWriteObject(members []sjMember) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.Key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// sjSetMeta sets _meta[key] = value, keeping every other _meta key and the
// position of both _meta and key when they exist.
func sjSetMeta(members []sjMember, key string, value json.RawMessage) ([]sjMember, error) {
	for i, m := range members {
		if m.Key != "_meta" {
			continue
		}
		meta, err := sjParseObject(m.Value)
		if err != nil {
			return nil, fmt.Errorf("_meta: %w", err)
		}
		found := false
		for j := range meta {
			if meta[j].Key == key {
				meta[j].Value, found = value, true
			}
		}
		if !found {
			meta = append(meta, sjMember{Key: key, Value: value})
		}
		members[i].Value = sjWriteObject(meta)
		return members, nil
	}
	return append(members, sjMember{Key: "_meta", Value: sjWriteObject([]sjMember{{Key: key, Value: value}})}), nil
}
