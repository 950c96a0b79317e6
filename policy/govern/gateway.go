package govern

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/policy"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/shim/creds"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// GatewayGovernance is the gateway's governance from one bundle, loaded
// at start as the shim loads it and reloaded when it changes (Reload,
// Watch): the catalog says which servers are served and how to reach
// them; the policy pipeline, the audit trail and the stderr lines are
// shared by every session's cores. It implements gateway.Governance, so
// the HTTP transport asks the assembly, not the CLI, for each session's
// core.
type GatewayGovernance struct {
	env      Env
	settings BundleSettings
	explicit bool // --bundle: neither kept as the last good copy nor replaced by it
	// state is the bundle in use and its pipeline, swapped together.
	state    atomic.Pointer[gatewayState]
	stale    atomic.Pointer[error] // why a changed bundle is not in use
	store    *audit.Store
	auditErr error
	lines    *enforce.Lines
	// shared is the store the replicas share; nil for one process.
	shared *SharedState

	// WrapSink, when set before serving, wraps every core's Sink (the
	// gateway's metrics count the records through it).
	WrapSink func(enforce.Sink) enforce.Sink
	// Creds, when set before serving, gives upstreams the outbound
	// credentials their catalog entries ask for (credentials.go).
	Creds *creds.Injector

	// oauth is the per-user OAuth of OAuthUsers, which a reload tells of
	// the oauth_user servers it adds; nil when there is none.
	oauthMu       sync.Mutex
	oauth         *oauthuser.Manager
	oauthRedirect string

	// shadow is the candidate bundle (shadow_bundle) every call is also
	// decided under, and recorded, without changing it; nil when none.
	shadow *gatewayState
	// facts are each MCP session's facts, shared by the cores of its
	// routes, so taint rules see what the session did on every server.
	factsMu sync.Mutex
	facts   map[string]*enforce.Facts
}

// maxSessionFacts bounds the sessions whose facts are kept; past it the
// oldest are forgotten all at once (a session that still runs starts
// over, as after a reload of its process).
const maxSessionFacts = 100_000

// sessionFacts returns the facts of MCP session id, shared by its cores.
// With a shared store, a session this replica has not served yet starts
// from the facts its other replicas kept there, and what its calls
// establish is kept there before their answers go out.
func (g *GatewayGovernance) sessionFacts(id string) (*enforce.Facts, error) {
	g.factsMu.Lock()
	f, ok := g.facts[id]
	g.factsMu.Unlock()
	if ok {
		return f, nil
	}
	// Read from the store without the lock: other sessions' cores do not
	// wait for this one's round trip.
	f, err := g.shared.sessionFacts(id)
	if err != nil {
		return nil, err
	}
	g.factsMu.Lock()
	defer g.factsMu.Unlock()
	if had, ok := g.facts[id]; ok {
		return had, nil // another core of the session got there first
	}
	if g.facts == nil || len(g.facts) >= maxSessionFacts {
		g.facts = map[string]*enforce.Facts{}
	}
	g.facts[id] = f
	return f, nil
}

// gatewayState is one usable bundle and the pipeline loaded from it.
type gatewayState struct {
	bundle   *catalog.Bundle
	pipeline *policy.Pipeline
}

var _ gateway.Governance = (*GatewayGovernance)(nil)

// NewGatewayGovernance loads the bundle (bundleFlag, else the configured
// one) and opens the audit trail. A bundle that cannot be used stops the
// gateway from starting: it would refuse every server anyway, and a
// gateway that fails later is harder to see. An audit trail that cannot
// be opened is a warning notice: servers in enforce mode are refused.
// log receives the records' diagnostic lines.
func NewGatewayGovernance(env Env, c Configs, bundleFlag string, log io.Writer, warn func(string)) (*GatewayGovernance, []Notice, error) {
	return NewReplicaGovernance(env, c, bundleFlag, log, warn, nil)
}

// NewReplicaGovernance is NewGatewayGovernance for one replica of several:
// its rate limits are counted in shared (nil: by this process alone).
func NewReplicaGovernance(env Env, c Configs, bundleFlag string, log io.Writer, warn func(string), shared *SharedState) (*GatewayGovernance, []Notice, error) {
	g := &GatewayGovernance{env: env, lines: &enforce.Lines{W: log}, explicit: bundleFlag != "", shared: shared}
	s, err := ResolveBundleSettings(env, c, bundleFlag)
	if err != nil {
		return nil, nil, fmt.Errorf("governance bundle: %w", err)
	}
	g.settings = s
	st, notices, err := g.load()
	if err != nil {
		return nil, nil, fmt.Errorf("governance bundle: %w", err)
	}
	g.state.Store(st)
	g.store, g.auditErr = OpenAuditor(env, c, warn)
	if g.auditErr != nil {
		notices = append(notices, Notice{"warning", fmt.Sprintf("%v; servers in enforce mode will be refused", g.auditErr)})
	}
	if dir, from := c.ShadowBundle(); dir != "" {
		b, p, err := LoadShadow(env, c, BundleSource{Dir: dir, From: from})
		if err != nil {
			notices = append(notices, Notice{"warning", fmt.Sprintf("the shadow bundle is not evaluated: %v", err)})
		} else {
			g.shadow = &gatewayState{bundle: b, pipeline: p}
		}
	}
	return g, notices, nil
}

// Close closes the audit trail.
func (g *GatewayGovernance) Close() {
	if g.store != nil {
		_ = g.store.Close()
	}
}

// load loads the bundle as the shim does (signature first, then its
// policies and guardrails), with the last good copy standing in for an
// unreachable configured bundle.
func (g *GatewayGovernance) load() (*gatewayState, []Notice, error) {
	st := &gatewayState{}
	b, notices, err := g.settings.LoadLive(g.env, g.explicit, func(b *catalog.Bundle) error {
		var perr error
		st.pipeline, perr = gatewayPipeline(g.env, b, g.shared.limitStore())
		return perr
	})
	if err != nil {
		return nil, notices, err
	}
	st.bundle = b
	return st, notices, nil
}

// cur is the bundle in use.
func (g *GatewayGovernance) cur() *gatewayState { return g.state.Load() }

// Revision is the bundle's revision.
func (g *GatewayGovernance) Revision() string { return g.cur().bundle.Revision }

// Source is the bundle directory the gateway governs with (watched).
func (g *GatewayGovernance) Source() string { return g.settings.Source.Dir }

// Ready implements gateway.Governance: the bundle loaded at start (or the
// gateway would not have started; a last good copy stood in for an
// unreachable one is warned about at start and still governs), and a
// changed bundle that cannot be used leaves it governing (Stale says why).
// What makes a replica unready is its audit trail: one that could not be
// opened, or cannot keep records now (a full disk, a failed fsync), would
// have every call to a server in enforce mode refused, so the load
// balancer should send them to a replica whose trail works.
func (g *GatewayGovernance) Ready() error {
	if g.auditErr != nil {
		return fmt.Errorf("audit trail unavailable: %w", g.auditErr)
	}
	if g.store != nil {
		if err := g.store.Healthy(); err != nil {
			return fmt.Errorf("audit trail cannot keep records: %w", err)
		}
	}
	return nil
}

// Stale implements gateway.Stale: why the bundle changed into one that is
// not in use (nil when the one in use is the source's latest).
func (g *GatewayGovernance) Stale() error {
	if p := g.stale.Load(); p != nil {
		return *p
	}
	return nil
}

// Reload loads the bundle again: a usable bundle with a new revision
// replaces the one in use atomically (new sessions and, through the
// transport's Reload, every open one get their cores from it) and
// changed is true; one that cannot be used (unsigned, invalid, a broken
// policy) leaves the last good one serving, and err says why (Stale
// keeps saying it until a usable bundle is back).
func (g *GatewayGovernance) Reload() (changed bool, notices []Notice, err error) {
	st, notices, err := g.load()
	if err != nil {
		err = fmt.Errorf("the changed governance bundle cannot be used (revision %s still governs): %w", g.Revision(), err)
		g.stale.Store(&err)
		return false, notices, err
	}
	g.stale.Store(nil)
	if st.bundle.Revision == g.Revision() {
		return false, notices, nil
	}
	notices = append(notices, g.reloadOAuthUsers(st)...)
	g.state.Store(st)
	return true, notices, nil
}

// Watch looks at the bundle source at every tick and, when its content
// changed, reloads it (Reload); after a swap it calls applied, which
// hands the new cores to every open session. Notices (a reload, a bundle
// that cannot be used, the last good copy in use) go to wo.Notify. It
// returns when ctx is done.
func (g *GatewayGovernance) Watch(ctx context.Context, wo WatchOptions, applied func()) {
	dir := g.Source()
	if dir == "" {
		return
	}
	tick := wo.Tick
	if tick == nil {
		d := wo.Interval
		if d <= 0 {
			d = DefaultWatchInterval
		}
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	notify := func(n Notice) {
		if wo.Notify != nil {
			wo.Notify(n)
		}
	}
	last := sourceRevision(dir)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		rev := sourceRevision(dir)
		if rev == last {
			continue
		}
		last = rev
		changed, notices, err := g.Reload()
		for _, n := range notices {
			notify(n)
		}
		switch {
		case err != nil:
			notify(Notice{"warning", err.Error()})
		case changed:
			notify(Notice{"reload", "bundle revision " + g.Revision() + " governs every session"})
			applied()
		}
	}
}

// Server implements gateway.Governance: any catalog entry, approved or
// not (its core refuses what is not approved, and records why).
func (g *GatewayGovernance) Server(id string) (gateway.Server, error) {
	s := g.cur().bundle.Catalog.Server(id)
	if s == nil {
		return gateway.Server{}, fmt.Errorf("server %q is not in the catalog: %w", id, gateway.ErrNotFound)
	}
	return gatewayServer(s), nil
}

func gatewayServer(s *catalog.Server) gateway.Server {
	srv := gateway.Server{ID: s.ID, URL: s.Launch.URL, Protocol: s.Launch.Protocol}
	if s.Launch.Command != "" {
		srv.Command = append([]string{s.Launch.Command}, s.Launch.Args...)
	}
	return srv
}

// Servers implements gateway.Governance: the approved entries, in
// catalog order.
func (g *GatewayGovernance) Servers() []gateway.Server {
	var out []gateway.Server
	for _, s := range g.cur().bundle.Catalog.Servers {
		if s.Status == catalog.StatusApproved && (s.Launch.URL != "" || s.Launch.Command != "") {
			out = append(out, gatewayServer(s))
		}
	}
	return out
}

// Virtual implements gateway.Governance. The engine takes a virtual
// server's tools as exact names, so tool globs cannot be served yet.
func (g *GatewayGovernance) Virtual(id string) (gateway.Virtual, error) {
	c := g.cur().bundle.Catalog
	vs := c.VirtualServer(id)
	if vs == nil {
		return gateway.Virtual{}, fmt.Errorf("virtual server %q is not in the catalog: %w", id, gateway.ErrNotFound)
	}
	v := gateway.Virtual{Tools: map[string]bool{}, Groups: vs.Groups}
	seen := map[string]bool{}
	for _, ref := range vs.Tools {
		server, tool, _ := strings.Cut(ref, "/")
		if strings.ContainsAny(tool, "*?[") {
			return v, fmt.Errorf("virtual server %q names its tools with a pattern (%s); the gateway serves exact tool names only so far", id, ref)
		}
		s := c.Server(server)
		if s == nil {
			continue // validated at load; kept safe
		}
		v.Tools[server+enforce.Separator+tool] = true
		if !seen[server] {
			seen[server] = true
			v.Servers = append(v.Servers, gatewayServer(s))
		}
	}
	return v, nil
}

// Core implements gateway.Governance: the shim's core for one session of
// server id, with the session's identity.
func (g *GatewayGovernance) Core(id string, info gateway.SessionInfo) (*enforce.Core, error) {
	st := g.cur()
	c := st.bundle.Catalog
	s := c.Server(id)
	facts, err := g.sessionFacts(info.ID)
	if err != nil {
		return nil, err
	}
	cfg := enforce.Config{
		Mode: c.Meta.Mode, Server: s, Launch: id,
		// The gateway launches exactly what the entry says, so there is
		// no other version to approve.
		VersionApproved: s != nil,
		BundleRevision:  st.bundle.Revision, RequestURL: c.Meta.RequestURL,
		Identity: info.Identity, Session: info.ID,
		Facts:    facts,
		Sink:     g.lines,
		AuditErr: g.auditErr,
		// Every gateway request's identity is verified, so its groups
		// decide which servers and tools the caller may use.
		GroupRBAC: true,
	}
	if g.store != nil {
		cfg.Sink = enforce.Tee{Store: g.store, Lines: g.lines}
	}
	if g.WrapSink != nil {
		cfg.Sink = g.WrapSink(cfg.Sink)
	}
	if s != nil {
		srv := gatewayServer(s)
		cfg.ServerRef = ServerRef(s, srv.Command, srv.URL, g.env.Home)
	}
	addPipeline(&cfg, st.pipeline)
	if sh := g.shadow; sh != nil {
		cfg.Shadow, cfg.ShadowRevision = sh.pipeline, sh.bundle.Revision
		cfg.ShadowServer = sh.bundle.Catalog.Server(id)
	}
	return enforce.New(cfg), nil
}

// AuthRefused records a tools/call the gateway refused because its
// request carried no valid identity: the attempt is in the trail with
// identity method "none" and the reason, though no session or core
// exists for it.
func (g *GatewayGovernance) AuthRefused(ctx context.Context, a gateway.AuthRefusal) {
	b := g.cur().bundle
	rec := &audit.Record{
		Version: audit.SchemaVersion, Kind: audit.KindToolCall, Time: time.Now().UTC(),
		Identity: audit.Identity{Method: "none"},
		Server:   audit.ServerRef{ID: a.Server, Transport: "http", Launch: a.Endpoint},
		Method:   a.Method, Tool: a.Tool, Outcome: audit.OutcomeDenied,
		Reason: fmt.Sprintf("authentication failed from %s: %s", a.Addr, a.Reason),
		Decision: audit.Decision{Allow: false, Enforced: true, Mode: string(b.Catalog.Meta.Mode),
			Reasons: []string{a.Reason}, RuleIDs: []string{"authentication"}, Revision: b.Revision},
	}
	if g.store != nil {
		_ = enforce.Tee{Store: g.store, Lines: g.lines}.Record(ctx, rec)
		return
	}
	_ = g.lines.Record(ctx, rec)
}
