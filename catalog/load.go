package catalog

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/catalog/serverjson/schema"
	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// Problem is one thing wrong with a catalog file.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// ValidationError lists every problem found in a catalog, not just the first.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	return fmt.Sprintf("%s: %d problems, first: %s", e.File, len(e.Problems), e.Problems[0])
}

// fileModel is the on-disk layout of catalog.toml.
type fileModel struct {
	Catalog Meta                      `toml:"catalog"`
	Servers map[string]*Server        `toml:"servers"`
	Virtual map[string]*VirtualServer `toml:"virtual"`
}

// LoadFile reads and validates a catalog.toml.
func LoadFile(path string) (*Catalog, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, text)
}

// Parse decodes and validates catalog text; file names it in problems.
func Parse(file string, text []byte) (*Catalog, error) {
	doc := tomldoc.Parse(string(text))
	var m fileModel
	md, err := toml.Decode(string(text), &m)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ValidationError{File: file, Problems: []Problem{{File: file, Line: pe.Position.Line, Message: describeParseError(pe)}}}
		}
		// Type mismatches come as plain errors: "toml: line N (last key
		// "k"): msg".
		p := Problem{File: file, Message: err.Error()}
		if m := decodeErrorPattern().FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Message = fmt.Sprintf("%s: %s", m[2], m[3])
		}
		return nil, &ValidationError{File: file, Problems: []Problem{p}}
	}
	v := &validator{file: file, doc: doc}
	for _, k := range md.Undecoded() {
		v.add(k, "unknown key %q", k.String())
	}

	c := &Catalog{Meta: m.Catalog, File: file}
	for id, s := range m.Servers {
		s.ID = id
		s.Line = doc.Line("servers", id)
		c.Servers = append(c.Servers, s)
	}
	for id, vs := range m.Virtual {
		vs.ID = id
		vs.Line = doc.Line("virtual", id)
		c.Virtual = append(c.Virtual, vs)
	}
	sort.Slice(c.Servers, func(i, j int) bool { return c.Servers[i].Line < c.Servers[j].Line })
	sort.Slice(c.Virtual, func(i, j int) bool { return c.Virtual[i].Line < c.Virtual[j].Line })
	v.catalog(c)
	if len(v.problems) > 0 {
		sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
		return nil, &ValidationError{File: file, Problems: v.problems}
	}
	c.Warnings = v.warnings
	if c.Meta.Mode == "" {
		c.Meta.Mode = ModeEnforce
	}
	for _, s := range c.Servers {
		if s.FailMode == "" {
			s.FailMode = FailClosed
		}
	}
	return c, nil
}

// describeParseError keeps BurntSushi's message and names a redefined table
// as the duplicate id it usually is.
func describeParseError(pe toml.ParseError) string {
	msg := pe.Message
	if m := redefinedPattern().FindStringSubmatch(msg); m != nil {
		parts := tomldoc.SplitKey(m[1])
		if len(parts) == 2 && parts[0] == "servers" {
			return fmt.Sprintf("duplicate server id: %s (its table is defined twice)", parts[1])
		}
		if len(parts) == 2 && parts[0] == "virtual" {
			return fmt.Sprintf("duplicate virtual server id: %s (its table is defined twice)", parts[1])
		}
	}
	return msg
}

// Patterns over BurntSushi/toml's messages, which carry no structured key
// or line for these cases (pinned by TestDuplicateIDAndSyntaxErrors).
var (
	redefinedPattern   = lazyRegexp(`^Key '(.+)' has already been defined`)
	decodeErrorPattern = lazyRegexp(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)
)

type validator struct {
	file     string
	doc      *tomldoc.Doc
	problems []Problem
	warnings []Problem
}

func (v *validator) add(path []string, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.doc.Line(path...), Message: fmt.Sprintf(format, args...)})
}

// ValidID reports whether id can name a catalog server or virtual server:
// lower-case letters, digits, '.', '_' and '-', at most 63.
func ValidID(id string) bool { return idPattern().MatchString(id) }

var (
	idPattern     = lazyRegexp(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	digestPattern = lazyRegexp(`^sha256:[0-9a-f]{64}$`)
)

func (v *validator) catalog(c *Catalog) {
	switch c.Meta.Mode {
	case "", ModeEnforce, ModeAudit:
	default:
		v.add([]string{"catalog", "mode"}, "mode %q: want enforce or audit", c.Meta.Mode)
	}
	if b := c.Meta.Budgets; b.Session < 0 || b.UserPerDay < 0 {
		v.add([]string{"catalog", "budgets"}, "budgets must not be negative")
	}
	for team, n := range c.Meta.Budgets.TeamPerMonth {
		if n <= 0 {
			v.add([]string{"catalog", "budgets", "team_per_month", team}, "budget of team %q must be positive", team)
		}
	}
	ids := map[string]bool{}
	for _, s := range c.Servers {
		ids[s.ID] = true
		v.server(s)
	}
	for _, vs := range c.Virtual {
		v.virtual(vs, ids)
	}
}

func (v *validator) server(s *Server) {
	at := func(keys ...string) []string { return append([]string{"servers", s.ID}, keys...) }
	if !idPattern().MatchString(s.ID) {
		v.add(at(), "server id %q: use lower-case letters, digits, '.', '_' and '-' (at most 63)", s.ID)
	}
	switch s.Status {
	case StatusApproved, StatusPending, StatusBlocked:
	case "":
		v.add(at(), "server %s: status is required (approved, pending or blocked)", s.ID)
	default:
		v.add(at("status"), "server %s: status %q: want approved, pending or blocked", s.ID, s.Status)
	}
	switch s.Risk {
	case "", RiskLow, RiskMedium, RiskHigh, RiskCritical:
	default:
		v.add(at("risk"), "server %s: risk %q: want low, medium, high or critical", s.ID, s.Risk)
	}
	switch s.FailMode {
	case "", FailClosed, FailOpen:
	default:
		v.add(at("fail_mode"), "server %s: fail_mode %q: want closed or open", s.ID, s.FailMode)
	}
	v.launch(s, at("launch"))
	v.auth(s, at, func(path []string, format string, args ...any) {
		v.warnings = append(v.warnings, Problem{File: v.file, Line: v.doc.Line(path...), Message: fmt.Sprintf(format, args...)})
	})
	for _, p := range s.Match.Packages {
		if _, err := parsePackagePattern(p); err != nil {
			v.add(at("match", "packages"), "server %s: match package %q: %v", s.ID, p, err)
		}
	}
	for _, kind := range []struct {
		key  string
		list []string
	}{{"commands", s.Match.Commands}, {"urls", s.Match.URLs}} {
		for _, p := range kind.list {
			if _, err := compileGlob(p); err != nil {
				v.add(at("match", kind.key), "server %s: match %s: %v", s.ID, kind.key, err)
			}
		}
	}
	for _, kind := range []struct {
		key  string
		list []string
	}{{"allow", s.Tools.Allow}, {"deny", s.Tools.Deny}} {
		for _, p := range kind.list {
			if _, err := compileGlob(p); err != nil {
				v.add(at("tools", kind.key), "server %s: tools.%s: %v", s.ID, kind.key, err)
			}
		}
	}
	for glob, groups := range s.Tools.Groups {
		if _, err := compileGlob(glob); err != nil {
			v.add(at("tools", "groups", glob), "server %s: tools.groups: %v", s.ID, err)
		}
		if len(groups) == 0 || slices.Contains(groups, "") {
			v.add(at("tools", "groups", glob), "server %s: tools.groups %q: want a list of group names", s.ID, glob)
		}
	}
	for tool, fp := range s.Pins {
		if !digestPattern().MatchString(fp) {
			v.add(at("pins", tool), "server %s: pin for tool %q must be sha256:<64 hex digits>, got %q", s.ID, tool, fp)
		}
	}
	if s.Limits.CallsPerMinute < 0 {
		v.add(at("limits", "calls_per_minute"), "server %s: calls_per_minute must not be negative", s.ID)
	}
	if s.Prices.Call < 0 || s.Prices.ResultKB < 0 {
		v.add(at("prices"), "server %s: prices must not be negative", s.ID)
	}
	for tool, p := range s.Prices.Tools {
		if p < 0 {
			v.add(at("prices", "tools", tool), "server %s: price of tool %q must not be negative", s.ID, tool)
		}
	}
	for tool, n := range s.Limits.Tools {
		if n <= 0 {
			v.add(at("limits", "tools", tool), "server %s: limit for tool %q must be a positive number of calls per minute", s.ID, tool)
		}
	}
	for _, g := range s.Groups {
		if strings.TrimSpace(g) == "" {
			v.add(at("groups"), "server %s: empty group name", s.ID)
		}
	}
	if r := s.Registry; r != nil {
		if err := schema.Validate([]byte(r.ServerJSON)); err != nil {
			v.add(at("registry", "server_json"), "server %s: registry.server_json: %v", s.ID, err)
		}
	}
	if r := s.Review; r != nil {
		if r.Reviewer == "" {
			v.add(at("review"), "server %s: review without a reviewer", s.ID)
		}
		if r.FindingsDigest != "" && !digestPattern().MatchString(r.FindingsDigest) {
			v.add(at("review", "findings_digest"), "server %s: findings_digest must be sha256:<64 hex digits>", s.ID)
		}
	}
}

func (v *validator) launch(s *Server, at []string) {
	l := s.Launch
	switch {
	case l.Command != "" && l.URL != "":
		v.add(at, "server %s: launch has both command and url; use one", s.ID)
	case l.URL != "" && !strings.HasPrefix(l.URL, "https://") && !strings.HasPrefix(l.URL, "http://"):
		v.add(append(at, "url"), "server %s: launch url %q must start with https:// or http://", s.ID, l.URL)
	}
	switch l.Transport {
	case "", "stdio", "http", "sse":
	default:
		v.add(append(at, "transport"), "server %s: transport %q: want stdio, http or sse", s.ID, l.Transport)
	}
	if l.Transport == "stdio" && l.URL != "" || (l.Transport == "http" || l.Transport == "sse") && l.Command != "" {
		v.add(append(at, "transport"), "server %s: transport %s does not fit the launch parameters", s.ID, l.Transport)
	}
	switch {
	case l.Protocol == "":
	case !slices.Contains(protocols, l.Protocol):
		v.add(append(at, "protocol"), "server %s: protocol %q: want one of %s", s.ID, l.Protocol, strings.Join(protocols, ", "))
	case l.Protocol == ProtocolStateless && (l.URL == "" || l.Transport == "sse"):
		v.add(append(at, "protocol"), "server %s: protocol %s needs a Streamable HTTP url (a stdio or SSE server is called in a session)", s.ID, l.Protocol)
	}
}

func (v *validator) virtual(vs *VirtualServer, servers map[string]bool) {
	at := func(keys ...string) []string { return append([]string{"virtual", vs.ID}, keys...) }
	if !idPattern().MatchString(vs.ID) {
		v.add(at(), "virtual server id %q: use lower-case letters, digits, '.', '_' and '-'", vs.ID)
	}
	if servers[vs.ID] {
		v.add(at(), "virtual server %s has the id of a registered server", vs.ID)
	}
	if len(vs.Tools) == 0 {
		v.add(at(), "virtual server %s: tools is empty; list \"server/tool\" references", vs.ID)
	}
	for _, ref := range vs.Tools {
		server, tool, ok := strings.Cut(ref, "/")
		switch {
		case !ok || server == "" || tool == "":
			v.add(at("tools"), "virtual server %s: tool reference %q: want \"server/tool\" (tool may be a glob)", vs.ID, ref)
		case !servers[server]:
			v.add(at("tools"), "virtual server %s: tool reference %q: no server %q in the catalog", vs.ID, ref, server)
		default:
			if _, err := compileGlob(tool); err != nil {
				v.add(at("tools"), "virtual server %s: tool reference %q: %v", vs.ID, ref, err)
			}
		}
	}
}
