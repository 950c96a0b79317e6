package govern

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// Options are what one governed upstream is assembled from.
type Options struct {
	Env     Env
	Configs Configs
	// ConfigErr is why the configs could not be read: there is then no
	// bundle, identity or audit store to govern with, and the Config says
	// so.
	ConfigErr error
	// Bundle is a bundle directory given explicitly (--bundle): used as
	// is, neither kept as the last good copy nor replaced by it.
	Bundle string
	// ID names the catalog entry whose launch parameters start the
	// upstream (`mcpgov shim ID`).
	ID string
	// Server names the catalog entry of Command when its launch identity
	// cannot say it (--server).
	Server string
	// Name is the upstream's name in the client's config, for records.
	Name string
	// Mode overrides the catalog's mode ("" keeps it).
	Mode catalog.Mode
	// Command is the upstream's command line, or URL its Streamable HTTP
	// endpoint.
	Command []string
	URL     string
	// Identity tells who is behind the connection; nil for nobody
	// (Method "none", never required).
	Identity IdentitySource
	// Log, when set, receives one line per record that blocked or would
	// have blocked (the shim's stderr): the audit store and these lines
	// are two sinks of one record.
	Log io.Writer
	// Store, when set, is used instead of the local audit store the
	// configs name (a gateway's shared store).
	Store enforce.Store
	// AuditWarn receives what the local audit store reports in the
	// background (a witness that cannot be reached).
	AuditWarn func(string)
	// Session names the connection in records; a random id when empty.
	Session string
}

// Engine is one governed upstream, assembled: the enforce.Config of its
// core, the upstream's launch, and what to tell the user.
type Engine struct {
	// Config is what enforce.New builds the core from.
	Config enforce.Config
	// Command and URL are the upstream's launch: with ID, the catalog
	// entry's; otherwise Options.Command and Options.URL.
	Command []string
	URL     string
	// Notices are what the assembly wants shown, in order (running on the
	// last good bundle, whom calls are attributed to).
	Notices []Notice
	// Source is the bundle directory in use (watched for changes); empty
	// when none is configured.
	Source string

	opts     Options
	store    *audit.Store
	launched bool // Command and URL are resolved
	core     *enforce.Core
}

// Build assembles the governance of one upstream. It does not fail: what
// cannot be had (a bundle, an identity, the audit store) is put in the
// Config (BundleErr, IdentityErr, AuditErr), so the core decides whether
// to start anyway (audit mode) and records why.
func Build(ctx context.Context, opts Options) *Engine {
	e := &Engine{opts: opts, Command: opts.Command, URL: opts.URL}
	cfg, notices := e.governed()
	e.launched = true
	e.Notices = append(e.Notices, notices...)
	e.Config = cfg
	if opts.ConfigErr != nil {
		e.Config.Identity = audit.Identity{Method: "none"}
		e.Config.IdentityErr = fmt.Errorf("identity: %w", opts.ConfigErr)
	} else if opts.Identity != nil {
		id, err := opts.Identity.Identity(ctx)
		if err == nil && id.Authenticated() {
			e.Notices = append(e.Notices, Notice{"identity", DescribeIdentity(id)})
		}
		e.Config.Identity = id
		if err != nil && opts.Identity.Required() {
			var le *LoginError
			if errors.As(err, &le) {
				err = le.Err // the core adds its own "run `mcpgov login`"
			}
			e.Config.IdentityErr = err
		}
	}
	var lines *enforce.Lines
	if opts.Log != nil {
		lines = &enforce.Lines{W: opts.Log}
		e.Config.Sink = lines
	}
	e.Config.Facts = &enforce.Facts{}
	e.Config.Session = opts.Session
	if e.Config.Session == "" {
		e.Config.Session = NewSessionID()
	}
	e.Config.ServerRef = ServerRef(e.Config.Server, e.Command, e.URL, opts.Env.Home)
	e.Config.ServerRef.ConfigName = opts.Name
	switch {
	case opts.ConfigErr != nil:
		e.Config.AuditErr = opts.ConfigErr
	case opts.Store != nil:
		e.Config.Sink = enforce.Tee{Store: opts.Store, Lines: lines}
	default:
		store, err := OpenAuditor(opts.Env, opts.Configs, opts.AuditWarn)
		if err != nil {
			e.Config.AuditErr = err
		} else {
			e.store, e.Config.Sink = store, enforce.Tee{Store: store, Lines: lines}
		}
	}
	return e
}

// NewCore builds the enforcement core of the Config; Core returns it
// afterwards.
func (e *Engine) NewCore() *enforce.Core {
	e.core = enforce.New(e.Config)
	return e.core
}

// Core is the core NewCore built (nil before).
func (e *Engine) Core() *enforce.Core { return e.core }

// Close closes the audit store Build opened.
func (e *Engine) Close() error {
	if e.store == nil {
		return nil
	}
	return e.store.Close()
}

// Reload re-resolves the bundle and returns a new complete Config: the
// catalog entry re-matched, a new pipeline (policies, guardrails,
// limits), mode, request URL and bundle revision, all from the same
// bundle, with the connection's identity, session and record sink (audit
// store and lines) kept. The upstream's launch is the one Build resolved (it is
// running). The configs are the ones Build was given: a changed config
// file takes a new connection.
func (e *Engine) Reload() (enforce.Config, []Notice) {
	cfg, notices := e.governed()
	keep := e.Config
	cfg.Identity, cfg.IdentityErr = keep.Identity, keep.IdentityErr
	cfg.Sink, cfg.Session, cfg.Facts = keep.Sink, keep.Session, keep.Facts
	cfg.AuditErr = keep.AuditErr
	cfg.ServerRef = ServerRef(cfg.Server, e.Command, e.URL, e.opts.Env.Home)
	cfg.ServerRef.ConfigName = e.opts.Name
	return cfg, notices
}

// governed is the bundle's part of the Config: the bundle (or why there is
// none), the catalog entry, mode and the pipeline's hooks. On the first
// call it resolves e.Command and e.URL of `shim ID` and sets e.Source.
func (e *Engine) governed() (enforce.Config, []Notice) {
	opts := e.opts
	// Launch is quoted to the client, on stderr and in records: masked by
	// scan's rules (issue 12), never the raw command line or URL.
	cfg := enforce.Config{Mode: opts.Mode, Launch: secret.MaskCommandLine(opts.Command)}
	if opts.URL != "" {
		cfg.Launch = secret.MaskCommandLine([]string{opts.URL})
	}
	// Policies, guardrails and rate limits: a bundle whose Rego or
	// guardrails.toml is broken is no usable bundle (enforce mode then
	// starts nothing).
	var p *policy.Pipeline
	b, notices, err := e.loadBundle(func(b *catalog.Bundle) error {
		var perr error
		p, perr = Pipeline(opts.Env, b)
		return perr
	})
	if err != nil {
		cfg.BundleErr = err
		if opts.ID != "" {
			cfg.Launch = opts.ID
		}
		return cfg, notices
	}
	c := b.Catalog
	cfg.BundleRevision, cfg.RequestURL = b.Revision, c.Meta.RequestURL
	if cfg.Mode == "" {
		cfg.Mode = c.Meta.Mode
	}
	cfg.Server, cfg.VersionApproved = CatalogEntry(c, opts.ID, opts.Server, opts.URL, opts.Command)
	switch {
	case opts.ID != "":
		cfg.Launch = opts.ID
		if s := cfg.Server; s != nil && !e.launched {
			if s.Launch.Command != "" {
				e.Command = append([]string{s.Launch.Command}, s.Launch.Args...)
			}
			e.URL = s.Launch.URL
		}
	case opts.Server != "" && cfg.Server == nil:
		cfg.Launch = opts.Server
	}
	addPipeline(&cfg, p)
	notices = append(notices, e.addShadow(&cfg)...)
	return cfg, notices
}

// addShadow loads the shadow bundle (shadow_bundle) into cfg, verified as
// the bundle is. A shadow that cannot be loaded is a warning: it never
// stops a call.
func (e *Engine) addShadow(cfg *enforce.Config) []Notice {
	dir, from := e.opts.Configs.ShadowBundle()
	if dir == "" {
		return nil
	}
	b, p, err := LoadShadow(e.opts.Env, e.opts.Configs, BundleSource{Dir: dir, From: from})
	if err != nil {
		return []Notice{{"warning", fmt.Sprintf("the shadow bundle is not evaluated: %v", err)}}
	}
	cfg.Shadow, cfg.ShadowRevision = p, b.Revision
	cfg.ShadowServer, _ = CatalogEntry(b.Catalog, e.opts.ID, e.opts.Server, e.opts.URL, e.opts.Command)
	if e.opts.ID == "" && e.opts.Server == "" && cfg.Server != nil && cfg.ShadowServer == nil {
		// The same catalog entry by ID when the launch matches none.
		cfg.ShadowServer = b.Catalog.Server(cfg.Server.ID)
	}
	return nil
}

// LoadShadow loads a shadow bundle, verified against the trusted keys as
// the enforced bundle is, and its pipeline, which counts no rate limits.
func LoadShadow(env Env, c Configs, src BundleSource) (*catalog.Bundle, *policy.Pipeline, error) {
	s, err := WithTrustedKeys(c, src)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.Load()
	if err != nil {
		return nil, nil, err
	}
	p, err := policy.Load(b, policy.Options{Getenv: env.Getenv})
	if err != nil {
		return nil, nil, fmt.Errorf("shadow bundle %s: %w", src.Dir, err)
	}
	return b, p, nil
}

// addPipeline puts p's hooks in cfg. A bundle with no policies,
// guardrails or limits for the server adds no hook.
func addPipeline(cfg *enforce.Config, p *policy.Pipeline) {
	if p.Active(cfg.Server) {
		cfg.Hooks = p
	}
}

// loadBundle resolves and loads the bundle as LoadLive does, and notes
// the directory to watch.
func (e *Engine) loadBundle(usable Usable) (*catalog.Bundle, []Notice, error) {
	if e.opts.ConfigErr != nil {
		return nil, nil, e.opts.ConfigErr
	}
	s, err := ResolveBundleSettings(e.opts.Env, e.opts.Configs, e.opts.Bundle)
	if err != nil {
		return nil, nil, err
	}
	if e.Source == "" {
		e.Source = s.Source.Dir
	}
	return s.LoadLive(e.opts.Env, e.opts.Bundle != "", usable)
}

// Pipeline loads b's policies and guardrails: the pipeline is the core's
// Hooks (pre, post and describe). Rate-limit counters live in the
// state directory's limits, shared by every shim process of the user.
func Pipeline(env Env, b *catalog.Bundle) (*policy.Pipeline, error) {
	dir, err := StateDir(env, "limits")
	if err != nil {
		return nil, fmt.Errorf("rate limits: %w", err)
	}
	return policy.Load(b, policy.Options{StateDir: dir, Getenv: env.Getenv})
}

// CatalogEntry is the catalog entry a connection governs, and whether the
// version it launches is approved: the entry named by id (`shim ID`) or
// server (--server), else the one the URL or command line matches by
// launch identity — never by display name. wrap predicts verdicts with
// it, so what wrap says is what the shim does.
func CatalogEntry(c *catalog.Catalog, id, server, url string, command []string) (*catalog.Server, bool) {
	var m catalog.MatchResult
	ok := false
	switch {
	case id != "":
		m.Server = c.Server(id)
		return m.Server, m.Server != nil
	case server != "":
		// --server names the entry for launches whose identity cannot say
		// it; a package launch must still be an approved version of that
		// entry's package, or --server would approve any version.
		s := c.Server(server)
		if s == nil {
			return nil, false
		}
		if len(command) > 0 {
			if l := launch.Analyze(command[0], command[1:], ""); l.Ecosystem != "" {
				m, ok := (&catalog.Catalog{Servers: []*catalog.Server{s}}).Match(l)
				return s, ok && m.VersionApproved
			}
		}
		return s, true
	case url != "":
		m, ok = c.Match(launch.Analyze("", nil, url))
	case len(command) > 0:
		m, ok = c.Match(launch.Analyze(command[0], command[1:], ""))
	}
	if !ok {
		return nil, false
	}
	return m.Server, m.VersionApproved
}

// NewSessionID names one connection in records.
func NewSessionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServerRef names the upstream for records: the catalog entry, the
// transport and the launch identity (secrets masked by the scanner's
// rules, never the raw command line).
func ServerRef(server *catalog.Server, command []string, url, home string) audit.ServerRef {
	ref := audit.ServerRef{Transport: "stdio"}
	if server != nil {
		ref.ID, ref.Name = server.ID, server.Title
	}
	switch {
	case url != "":
		ref.Transport = "http"
		ref.Launch = launch.Identity("", nil, url, home)
	case len(command) > 0:
		ref.Launch = launch.Identity(command[0], command[1:], "", home)
	}
	return ref
}

// RefusalError is the error a client gets for every request when the
// upstream could not be started.
func RefusalError(err error) *jsonrpc.Error {
	return &jsonrpc.Error{Code: enforce.CodeServerNotApproved, Message: "mcpgov: " + err.Error()}
}
