package guard

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// FileName is the guardrails file's name inside a bundle.
const FileName = "guardrails.toml"

// Kinds of guardrail.
const (
	KindSQL       = "sql"
	KindSecrets   = "secrets"
	KindPII       = "pii"
	KindCode      = "code"
	KindRegex     = "regex"
	KindInjection = "injection"
	KindPoisoning = "poisoning"
	KindExternal  = "external"
)

// kindHooks lists the hooks each kind can run on.
var kindHooks = map[string][]string{
	KindSQL:       {HookPre},
	KindSecrets:   {HookPre, HookPost},
	KindPII:       {HookPre, HookPost},
	KindCode:      {HookPre, HookPost},
	KindRegex:     {HookPre, HookPost},
	KindInjection: {HookPre, HookPost},
	KindPoisoning: {HookDescribe},
	KindExternal:  {HookPre, HookPost, HookDescribe},
}

// Redaction methods.
const (
	RedactNone  = "none"  // report (and block in enforce mode)
	RedactMask  = "mask"  // [REDACTED:email]
	RedactHash  = "hash"  // [email:HMAC prefix], stable for one key
	RedactToken = "token" // [EMAIL_1], the same value gets the same token within a session

	// redactRecord is RecordCopy's: secrets as secret.Mask masks them,
	// other categories as RedactMask. Not a configurable method.
	redactRecord = "record"
)

// DefaultMaxScanBytes bounds the string data one guardrail scans per
// payload; larger payloads are an error verdict (the mode decides).
const DefaultMaxScanBytes = 1 << 20

// Config is guardrails.toml.
type Config struct {
	Defaults   Defaults         `toml:"defaults"`
	Guardrails map[string]*Spec `toml:"guardrails"`
}

// Defaults apply to every guardrail that does not set its own value.
type Defaults struct {
	Mode         string `toml:"mode"`
	MaxScanBytes int    `toml:"max_scan_bytes"`
}

// Spec is one [guardrails.NAME] table.
type Spec struct {
	Name    string   `toml:"-"`
	Line    int      `toml:"-"`
	Kind    string   `toml:"kind"` // defaults to the name when that is a kind
	Mode    string   `toml:"mode"`
	Hooks   []string `toml:"hooks"`
	Servers []string `toml:"servers"` // globs over catalog ids; empty: every server
	Tools   []string `toml:"tools"`   // globs over tool names; empty: every tool
	// Sources narrow the post hook to some of the paths by which a
	// server's content reaches the model (tool, resource, prompt,
	// server_request); empty: every one of them.
	Sources []string `toml:"sources"`

	// pii
	Types       []string          `toml:"types"`
	Redact      string            `toml:"redact"`       // none | mask | hash | token (pii, regex, secrets on post)
	RedactTypes map[string]string `toml:"redact_types"` // per category
	HashKeyEnv  string            `toml:"hash_key_env"` // environment variable holding the HMAC key
	Identifiers map[string]string `toml:"identifiers"`  // custom identifiers: category -> RE2 with a literal prefix

	// regex
	Patterns        map[string]string `toml:"patterns"` // category -> RE2
	AllowUnanchored bool              `toml:"allow_unanchored"`

	// external
	Provider         string   `toml:"provider"`    // wire format: generic (default), azure_prompt_shields, aws_bedrock, google_model_armor, lakera, openai_moderation, openai_chat
	APIKeyEnv        string   `toml:"api_key_env"` // environment variable holding the provider's key or token
	Region           string   `toml:"region"`      // aws_bedrock: the region the request is signed for
	GuardrailID      string   `toml:"guardrail_id"`
	GuardrailVersion string   `toml:"guardrail_version"`
	Template         string   `toml:"template"`   // google_model_armor: projects/P/locations/L/templates/T
	ProjectID        string   `toml:"project_id"` // lakera
	Model            string   `toml:"model"`      // openai_moderation, openai_chat
	URL              string   `toml:"url"`
	Command          []string `toml:"command"`
	Timeout          string   `toml:"timeout"`
	Cache            int      `toml:"cache"` // verdicts kept by content hash

	timeout time.Duration
	res     []namedRE // compiled Patterns or Identifiers, sorted by name
}

type namedRE struct {
	name string
	re   *regexp.Regexp
	lit  string
}

// ConfigError lists every problem of a guardrails file with file:line.
type ConfigError struct {
	File     string
	Problems []string
}

func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return fmt.Sprintf("%s: %d problems:\n  %s", e.File, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// ParseConfig decodes guardrails.toml strictly: unknown keys, kinds, modes,
// hooks and bad patterns are errors naming file and line.
func ParseConfig(file string, text []byte) (*Config, error) {
	doc := tomldoc.Parse(string(text))
	var c Config
	md, err := toml.Decode(string(text), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{File: file, Problems: []string{fmt.Sprintf("%s:%d: %s", file, pe.Position.Line, pe.Message)}}
		}
		return nil, &ConfigError{File: file, Problems: []string{fmt.Sprintf("%s: %v", file, err)}}
	}
	ce := &ConfigError{File: file}
	add := func(path []string, format string, args ...any) {
		line := doc.Line(path...)
		for line == 0 && len(path) > 1 {
			path = path[:len(path)-1]
			line = doc.Line(path...)
		}
		ce.Problems = append(ce.Problems, fmt.Sprintf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	for _, k := range md.Undecoded() {
		add(k, "unknown key %q; see the comments in the starter %s for the keys each guardrail takes", k.String(), FileName)
	}
	switch c.Defaults.Mode {
	case "":
		c.Defaults.Mode = ModeAudit
	case ModeEnforce, ModeEnforceIgnoreError, ModeAudit:
	default:
		add([]string{"defaults", "mode"}, "mode %q: want enforce, enforce_ignore_error or audit", c.Defaults.Mode)
	}
	if c.Defaults.MaxScanBytes <= 0 {
		c.Defaults.MaxScanBytes = DefaultMaxScanBytes
	}
	names := make([]string, 0, len(c.Guardrails))
	for n := range c.Guardrails {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := c.Guardrails[n]
		s.Name = n
		s.Line = doc.Line("guardrails", n)
		p := func(key string) []string { return []string{"guardrails", n, key} }
		if s.Kind == "" {
			s.Kind = n
		}
		hooks, ok := kindHooks[s.Kind]
		if !ok {
			add(p("kind"), "guardrail %s: unknown kind %q; want one of sql, secrets, pii, code, regex, injection, poisoning, external", n, s.Kind)
			continue
		}
		if s.Mode == "" {
			s.Mode = c.Defaults.Mode
		}
		switch s.Mode {
		case ModeEnforce, ModeEnforceIgnoreError, ModeAudit:
		default:
			add(p("mode"), "guardrail %s: mode %q: want enforce, enforce_ignore_error or audit", n, s.Mode)
		}
		if len(s.Hooks) == 0 {
			s.Hooks = defaultHooks(s.Kind)
		}
		for _, h := range s.Hooks {
			if !slices.Contains(hooks, h) {
				add(p("hooks"), "guardrail %s: a %s guardrail does not run on hook %q; it runs on %s", n, s.Kind, h, strings.Join(hooks, ", "))
			}
		}
		for _, src := range s.Sources {
			if !slices.Contains(Sources, src) {
				add(p("sources"), "guardrail %s: unknown source %q; want one of %s", n, src, strings.Join(Sources, ", "))
			}
		}
		if len(s.Sources) > 0 && !slices.Contains(s.Hooks, HookPost) {
			add(p("sources"), "guardrail %s: sources narrow the post hook, which this guardrail does not run on", n)
		}
		for _, g := range append(slices.Clone(s.Servers), s.Tools...) {
			if _, err := path.Match(g, ""); err != nil {
				add(p("servers"), "guardrail %s: bad glob %q", n, g)
			}
		}
		switch s.Redact {
		case "", RedactNone, RedactMask, RedactHash, RedactToken:
		default:
			add(p("redact"), "guardrail %s: redact %q: want none, mask, hash or token", n, s.Redact)
		}
		for t, r := range s.RedactTypes {
			switch r {
			case RedactNone, RedactMask, RedactHash, RedactToken:
			default:
				add(p("redact_types"), "guardrail %s: redact_types.%s %q: want none, mask, hash or token", n, t, r)
			}
		}
		for _, t := range s.Types {
			switch t {
			case PIIEmail, PIICard, PIISSN, PIIIBAN, PIIPhone, PIIIP:
			default:
				add(p("types"), "guardrail %s: unknown pii type %q; want email, card, ssn, iban, phone or ip", n, t)
			}
		}
		pats := s.Patterns
		key := "patterns"
		if s.Kind == KindPII {
			pats, key = s.Identifiers, "identifiers"
		}
		if s.Kind == KindRegex && len(pats) == 0 {
			add(p("patterns"), "guardrail %s: a regex guardrail needs [guardrails.%s.patterns] with at least one pattern", n, n)
		}
		for cat, src := range pats {
			re, err := regexp.Compile(src)
			if err != nil {
				add([]string{"guardrails", n, key, cat}, "guardrail %s: pattern %s: %v", n, cat, err)
				continue
			}
			lit, _ := re.LiteralPrefix()
			if lit == "" && !s.AllowUnanchored {
				add([]string{"guardrails", n, key, cat}, "guardrail %s: pattern %s has no literal prefix, so it would run over every byte of every call (about 20 µs per KB); start it with fixed text, or set allow_unanchored = true", n, cat)
				continue
			}
			s.res = append(s.res, namedRE{cat, re, lit})
		}
		sort.Slice(s.res, func(i, j int) bool { return s.res[i].name < s.res[j].name })
		if s.Kind == KindExternal {
			if (s.URL == "") == (len(s.Command) == 0) {
				add(p("url"), "guardrail %s: an external guardrail needs exactly one of url or command", n)
			}
			if s.Provider == "" {
				s.Provider = ProviderGeneric
			}
			if !slices.Contains(Providers, s.Provider) {
				add(p("provider"), "guardrail %s: unknown provider %q; want one of %s", n, s.Provider, strings.Join(Providers, ", "))
			} else if s.Provider != ProviderGeneric && s.URL == "" {
				add(p("url"), "guardrail %s: provider %s needs url (the service's endpoint)", n, s.Provider)
			}
			switch {
			case s.Provider == ProviderBedrock && (s.Region == "" || s.GuardrailID == "" || s.GuardrailVersion == ""):
				add(p("provider"), "guardrail %s: provider %s needs region, guardrail_id and guardrail_version", n, s.Provider)
			case s.Provider == ProviderModelArmor && s.Template == "":
				add(p("provider"), "guardrail %s: provider %s needs template (projects/P/locations/L/templates/T)", n, s.Provider)
			case (s.Provider == ProviderAzure || s.Provider == ProviderModelArmor || s.Provider == ProviderLakera) && s.APIKeyEnv == "":
				add(p("provider"), "guardrail %s: provider %s needs api_key_env, the variable holding its key", n, s.Provider)
			}
			s.timeout = 500 * time.Millisecond
			if s.Timeout != "" {
				d, err := time.ParseDuration(s.Timeout)
				if err != nil || d <= 0 {
					add(p("timeout"), "guardrail %s: timeout %q: want a duration such as 200ms", n, s.Timeout)
				}
				s.timeout = d
			}
		}
	}
	if len(ce.Problems) > 0 {
		sort.SliceStable(ce.Problems, func(i, j int) bool { return lineOf(ce.Problems[i]) < lineOf(ce.Problems[j]) })
		return nil, ce
	}
	return &c, nil
}

// OverrideModes sets the mode of guardrails after parsing: over maps a
// guardrail's name or kind, or "" for every guardrail, to a mode. A name
// overrides a kind, which overrides "". A key that names no guardrail and
// no kind in c, or a mode that is not one, is an error.
func (c *Config) OverrideModes(over map[string]string) error {
	for k, m := range over {
		switch m {
		case ModeEnforce, ModeEnforceIgnoreError, ModeAudit:
		default:
			return fmt.Errorf("mode %q for %q: want enforce, enforce_ignore_error or audit", m, k)
		}
		if k == "" {
			continue
		}
		found := false
		for n, s := range c.Guardrails {
			found = found || n == k || s.Kind == k
		}
		if !found {
			return fmt.Errorf("no guardrail or kind of guardrail named %q in %s", k, FileName)
		}
	}
	for n, s := range c.Guardrails {
		for _, k := range []string{n, s.Kind, ""} {
			if m, ok := over[k]; ok {
				s.Mode = m
				break
			}
		}
	}
	return nil
}

func lineOf(problem string) int {
	parts := strings.SplitN(problem, ":", 3)
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
}

func defaultHooks(kind string) []string {
	switch kind {
	case KindSQL:
		return []string{HookPre}
	case KindPII, KindCode:
		return []string{HookPost}
	case KindPoisoning:
		return []string{HookDescribe}
	}
	return []string{HookPre, HookPost}
}

// Sources of a post payload: every path by which a server's content
// reaches the model.
const (
	SourceTool          = "tool"           // a tools/call or tasks/result result
	SourceResource      = "resource"       // a resources/read result
	SourcePrompt        = "prompt"         // a prompts/get result
	SourceServerRequest = "server_request" // sampling/createMessage, elicitation/create
)

// Sources lists every source, in the order documented.
var Sources = []string{SourceTool, SourceResource, SourcePrompt, SourceServerRequest}

// Covers reports whether a post guardrail runs on payloads from source
// (SourceTool when empty); other hooks have no sources.
func (s *Spec) Covers(hook, source string) bool {
	if hook != HookPost || len(s.Sources) == 0 {
		return true
	}
	if source == "" {
		source = SourceTool
	}
	return slices.Contains(s.Sources, source)
}

// Applies reports whether the guardrail runs for this hook, server and tool.
func (s *Spec) Applies(hook, server, tool string) bool {
	if !slices.Contains(s.Hooks, hook) {
		return false
	}
	return globAny(s.Servers, server) && globAny(s.Tools, tool)
}

func globAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}
