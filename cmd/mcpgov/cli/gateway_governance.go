package cli

import (
	"fmt"
	"strings"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// bundleGovernance is the gateway's governance from one bundle, loaded at
// start as the shim loads it (shimConfig): the catalog says which servers
// are served and how to reach them, the policy pipeline and the audit
// trail are shared by every session's cores. It stands in until the
// assembly moves to its own package (with reloads).
type bundleGovernance struct {
	f        *Factory
	bundle   *catalog.Bundle
	pipeline *policy.Pipeline
	store    *audit.Store
	auditErr error
	log      *enforce.LogRecorder
}

var _ gateway.Governance = (*bundleGovernance)(nil)

// newBundleGovernance loads the bundle and opens the audit trail. A bundle
// that cannot be used stops the gateway from starting: it would refuse
// every server anyway, and a gateway that fails later is harder to see.
func newBundleGovernance(f *Factory, flag string) (*bundleGovernance, error) {
	g := &bundleGovernance{f: f, log: &enforce.LogRecorder{W: f.IO.ErrOut}}
	b, err := loadShimBundle(f, flag, func(b *catalog.Bundle) error {
		var perr error
		g.pipeline, perr = shimPolicy(f, b)
		return perr
	})
	if err != nil {
		return nil, fmt.Errorf("governance bundle: %w", err)
	}
	g.bundle = b
	g.store, g.auditErr = openShimAuditor(f)
	if g.auditErr != nil {
		fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: %v; servers in enforce mode will be refused\n", g.auditErr)
	}
	return g, nil
}

// Close closes the audit trail.
func (g *bundleGovernance) Close() {
	if g.store != nil {
		_ = g.store.Close()
	}
}

// Revision is the bundle's revision.
func (g *bundleGovernance) Revision() string { return g.bundle.Revision }

// Ready implements gateway.Governance: the bundle loaded at start (or the
// gateway would not have started; a last good copy stood in for an
// unreachable one is warned about at start and still governs).
func (g *bundleGovernance) Ready() error { return nil }

// Server implements gateway.Governance: any catalog entry, approved or
// not (its core refuses what is not approved, and records why).
func (g *bundleGovernance) Server(id string) (gateway.Server, error) {
	s := g.bundle.Catalog.Server(id)
	if s == nil {
		return gateway.Server{}, fmt.Errorf("server %q is not in the catalog: %w", id, gateway.ErrNotFound)
	}
	return gatewayServer(s), nil
}

func gatewayServer(s *catalog.Server) gateway.Server {
	srv := gateway.Server{ID: s.ID, URL: s.Launch.URL}
	if s.Launch.Command != "" {
		srv.Command = append([]string{s.Launch.Command}, s.Launch.Args...)
	}
	return srv
}

// Servers implements gateway.Governance: the approved entries, in
// catalog order.
func (g *bundleGovernance) Servers() []gateway.Server {
	var out []gateway.Server
	for _, s := range g.bundle.Catalog.Servers {
		if s.Status == catalog.StatusApproved && (s.Launch.URL != "" || s.Launch.Command != "") {
			out = append(out, gatewayServer(s))
		}
	}
	return out
}

// Virtual implements gateway.Governance. The engine takes a virtual
// server's tools as exact names, so tool globs cannot be served yet.
func (g *bundleGovernance) Virtual(id string) (gateway.Virtual, error) {
	c := g.bundle.Catalog
	vs := c.VirtualServer(id)
	if vs == nil {
		return gateway.Virtual{}, fmt.Errorf("virtual server %q is not in the catalog: %w", id, gateway.ErrNotFound)
	}
	v := gateway.Virtual{Tools: map[string]bool{}}
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
func (g *bundleGovernance) Core(id string, info gateway.SessionInfo) (*enforce.Core, error) {
	c := g.bundle.Catalog
	s := c.Server(id)
	cfg := enforce.Config{
		Mode: c.Meta.Mode, Server: s, Launch: id,
		// The gateway launches exactly what the entry says, so there is
		// no other version to approve.
		VersionApproved: s != nil,
		BundleRevision:  g.bundle.Revision, RequestURL: c.Meta.RequestURL,
		Identity: info.Identity, Session: info.ID,
		Recorders: []enforce.Recorder{g.log},
		AuditErr:  g.auditErr,
	}
	if g.store != nil {
		cfg.Auditor = g.store
	}
	if s != nil {
		srv := gatewayServer(s)
		cfg.ServerRef = serverRef(cfg, srv.Command, srv.URL, g.f.Getenv("HOME"))
	}
	if g.pipeline.Active(s) {
		cfg.Deciders = append(cfg.Deciders, g.pipeline)
		cfg.ResultFilters = append(cfg.ResultFilters, g.pipeline)
		cfg.ToolReviewers = append(cfg.ToolReviewers, g.pipeline)
	}
	return enforce.New(cfg), nil
}
