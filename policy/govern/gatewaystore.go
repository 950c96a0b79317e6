package govern

import (
	"context"
	"fmt"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/limit"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/scan/fleet"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// GatewayStoreConfig is the [gateway] keys of the store that several
// gateway replicas share.
type GatewayStoreConfig struct {
	// Store is the Redis-protocol store's URL (redis://host:6379/0,
	// rediss:// for TLS, unix:///path): rate-limit counters, budgets,
	// issued tokens and their revocation, the credential vault, the fleet
	// inventory, session facts and the bundle revision are shared through
	// it. Empty: one gateway process, state of its own.
	Store string `toml:"store"`
	// StoreDown is what a replica does while the store is unreachable:
	// "enforce" (the default: calls that need a shared counter are
	// refused, tokens cannot be checked) or "audit" (rate limits counted
	// per replica, the outage reported).
	StoreDown string `toml:"store_down"`
}

// GatewayStore resolves the store settings: each key the managed config
// sets wins, else the user's; flags (store, down; "" when not given)
// override both.
func (c Configs) GatewayStore(store, down string) (url string, mode state.DownMode, err error) {
	mode = state.DownEnforce
	for _, cfg := range []Config{c.User, c.Managed} { // managed last: it wins
		g := cfg.Gateway.GatewayStoreConfig
		if g.Store != "" {
			url = g.Store
		}
		if g.StoreDown != "" {
			if mode, err = state.ParseDownMode(g.StoreDown); err != nil {
				return "", "", fmt.Errorf("config %s: invalid [gateway] store_down: %w", cfg.Path(), err)
			}
		}
	}
	if store != "" {
		url = store
	}
	if down != "" {
		if mode, err = state.ParseDownMode(down); err != nil {
			return "", "", err
		}
	}
	return url, mode, nil
}

// SharedState is what a gateway replica keeps in the store its replicas
// share: it counts rate limits (through the down mode's guard), keeps the
// issued tokens, and fans bundle revisions out.
type SharedState struct {
	Store  *state.Redis
	Limits *state.Guard
	Tokens *SharedTokenStore
	Mode   state.DownMode
	// Report is told what the replica cannot share (nil: nothing is).
	Report func(Notice)
}

// OpenSharedState opens the store at url for a replica; report is told
// when the store becomes unreachable and when it is back. It does not
// wait for the store: a replica starts while the store is down, under the
// down mode, and the first call after the store is back uses it. Close it
// when the gateway stops.
func OpenSharedState(env Env, url string, mode state.DownMode, report func(Notice)) (*SharedState, error) {
	r, err := state.OpenRedis(url)
	if err != nil {
		return nil, WithHint(err, "set [gateway] store (or --store) to redis://HOST:PORT/DB, rediss://… or unix:///PATH")
	}
	g := &state.Guard{Shared: r, Mode: mode, Report: func(err error) {
		if report == nil {
			return
		}
		if err != nil {
			what := "calls that need a rate-limit or budget counter, and sessions new to this replica, are refused until it is back (store_down = enforce)"
			if mode == state.DownAudit {
				what = "rate limits and budgets are counted by this replica alone, and sessions new to it start their taint facts over, until it is back (store_down = audit)"
			}
			report(Notice{"warning", fmt.Sprintf("%v; %s", err, what)})
			return
		}
		report(Notice{"note", "the shared state store " + r.String() + " answers again; rate limits and budgets are shared again"})
	}}
	return &SharedState{Store: r, Limits: g, Tokens: &SharedTokenStore{Store: r, Now: env.Now}, Mode: mode, Report: report}, nil
}

// Close closes the store's connections.
func (s *SharedState) Close() error { return s.Store.Close() }

// limitStore is the rate-limit store of the gateway's pipelines: the
// shared one when there is one.
func (s *SharedState) limitStore() limit.Store {
	if s == nil {
		return nil
	}
	return s.Limits
}

// Ticks merges the local watch interval with the revisions other
// replicas publish: a replica looks at its bundle at every interval and
// at once when another replica announces a revision, so a change one
// replica sees is enforced by all of them within the store's fan-out
// (milliseconds), not within their intervals.
func (s *SharedState) Ticks(ctx context.Context, interval time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	revs := s.Store.Revisions(ctx)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				send(out, now)
			case <-revs:
				send(out, time.Now())
			}
		}
	}()
	return out
}

// send delivers a tick unless one is already waiting.
func send(c chan time.Time, t time.Time) {
	select {
	case c <- t:
	default:
	}
}

// Announce publishes the revision that now governs this replica, for the
// others (Ticks). A store that is down loses the announcement: the
// others still see the change at their interval.
func (s *SharedState) Announce(ctx context.Context, rev string) error {
	return s.Store.PublishRevision(ctx, rev)
}

// gatewayPipeline is Pipeline with the rate limits counted in limits when
// it is set (the store gateway replicas share), and the budgets too when
// limits keeps them (limit.Spender), else in the state directory's file.
func gatewayPipeline(env Env, b *catalog.Bundle, limits limit.Store) (*policy.Pipeline, error) {
	if limits == nil {
		return Pipeline(env, b)
	}
	if sp, ok := limits.(limit.Spender); ok {
		// The replicas' store keeps the budgets too: a budget spent
		// through one replica is spent for all.
		return policy.Load(b, policy.Options{Limits: limits, Budgets: sp, Getenv: env.Getenv})
	}
	dir, err := StateDir(env, "limits")
	if err != nil {
		return nil, fmt.Errorf("rate limits: %w", err)
	}
	return policy.Load(b, policy.Options{Limits: limits, Budgets: &limit.Limiter{Dir: dir, Now: env.Now}, Getenv: env.Getenv})
}

// OpenGatewayTokens is the token store `mcpgov gateway token` works on:
// the shared store when [gateway] store names one (the replicas' tokens),
// else the state directory's file. done releases it.
func OpenGatewayTokens(env Env, c Configs) (tokens TokenStore, done func(), err error) {
	url, _, err := c.GatewayStore("", "")
	if err != nil {
		return nil, nil, err
	}
	if url == "" {
		fs, err := OpenTokenStore(env)
		return fs, func() {}, err
	}
	r, err := state.OpenRedis(url)
	if err != nil {
		return nil, nil, WithHint(err, "fix [gateway] store in config.toml (`mcpgov help config`)")
	}
	return &SharedTokenStore{Store: r, Now: env.Now}, func() { _ = r.Close() }, nil
}

// SharedWatchInterval is how often a replica looks at its bundle on its
// own when it shares a store: a second, so that a change reaches every
// replica within a second even when the one that saw it first could not
// announce it.
const SharedWatchInterval = time.Second

// TokenStore is the shared token store; nil (no store: the file) on a
// nil SharedState.
func (s *SharedState) TokenStore() TokenStore {
	if s == nil {
		return nil
	}
	return s.Tokens
}

// WatchOptions returns wo with the replica's ticks (Ticks at
// SharedWatchInterval); wo itself on a nil SharedState.
func (s *SharedState) WatchOptions(ctx context.Context, wo WatchOptions) WatchOptions {
	if s == nil {
		return wo
	}
	wo.Tick = s.Ticks(ctx, SharedWatchInterval)
	return wo
}

// AfterReload returns applied followed by the announcement of the
// revision now in use; applied itself on a nil SharedState.
func (s *SharedState) AfterReload(ctx context.Context, revision func() string, applied func()) func() {
	if s == nil {
		return applied
	}
	return func() {
		applied()
		_ = s.Announce(ctx, revision()) // lost when the store is down: the others look every second anyway
	}
}

// SessionKey is the key the replicas sign session ids with (kept in the
// store); nil on a nil SharedState (session ids of one process). A store
// that cannot be reached stops the replica from starting: sessions it
// opened could not be served by the others.
func (s *SharedState) SessionKey(ctx context.Context) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	key, err := s.Store.SessionKey(ctx)
	if err != nil {
		return nil, WithHint(fmt.Errorf("read the replicas' session key: %w", err), "start the store first; a replica needs it to serve the sessions other replicas opened")
	}
	return key, nil
}

// CallLog is the log of call answers the replicas share (a client's
// retry is answered from it); nil on a nil SharedState.
func (s *SharedState) CallLog() gateway.CallLog {
	if s == nil {
		return nil
	}
	return s.Store
}

// EventLog is the event log of sessions' streams the replicas share (a
// client resumes a broken stream through any replica), its events kept
// for idle after a session's last one (the gateway's idle timeout); nil
// on a nil SharedState: the gateway keeps its own in memory.
func (s *SharedState) EventLog(idle time.Duration) gateway.EventLog {
	if s == nil {
		return nil
	}
	if idle <= 0 {
		idle = gateway.DefaultIdleTimeout
	}
	return s.Store.EventLog(0, 0, idle)
}

// EndCopies calls end with the record id of each session a client ends
// through any replica (end ends this replica's copy), until ctx is done;
// nothing on a nil SharedState.
func (s *SharedState) EndCopies(ctx context.Context, end func(session string)) {
	if s == nil {
		return
	}
	s.Store.EndedSessions(ctx, end)
}

// FleetStore is where the replica keeps the fleet inventory machines
// upload: the shared store, so an upload to any replica is in every
// replica's inventory; the state directory's file on a nil SharedState.
func (s *SharedState) FleetStore(env Env) (fleet.Store, error) {
	if s == nil {
		return OpenFleetStore(env)
	}
	return s.Store.Fleet(), nil
}

// OpenGatewayFleet is the fleet inventory `mcpgov gateway inventory`
// reads: the store at url when given, else the one [gateway] store names
// (the replicas'), else the state directory's file. done releases it.
func OpenGatewayFleet(env Env, c Configs, url string) (inv fleet.Store, done func(), err error) {
	if url == "" {
		if url, _, err = c.GatewayStore("", ""); err != nil {
			return nil, nil, err
		}
	}
	if url == "" {
		fs, err := OpenFleetStore(env)
		return fs, func() {}, err
	}
	r, err := state.OpenRedis(url)
	if err != nil {
		return nil, nil, WithHint(err, "give --store redis://HOST:PORT/DB, or fix [gateway] store in config.toml (`mcpgov help config`)")
	}
	return r.Fleet(), func() { _ = r.Close() }, nil
}

// sessionFacts are the facts of session id for a replica: on a nil
// SharedState, new ones of its own; else those the replicas kept in the
// store, kept there again each time a call adds to them. A store that
// cannot be read fails the session's start in store_down = enforce (its
// taint rules would decide on less than the session did) and starts the
// facts over in audit, reported.
func (s *SharedState) sessionFacts(id string) (*enforce.Facts, error) {
	if s == nil {
		return &enforce.Facts{}, nil
	}
	save := func(st enforce.FactsState) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Store.SaveFacts(ctx, id, st); err != nil && s.Report != nil {
			s.Report(Notice{"warning", fmt.Sprintf("a session's facts could not be kept in the shared store (another replica resuming it would not know them): %v", err)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, _, err := s.Store.LoadFacts(ctx, id)
	if err != nil {
		if s.Mode == state.DownEnforce {
			return nil, fmt.Errorf("the session's facts (for its taint rules) cannot be read, so it is refused (store failure mode enforce): %w", err)
		}
		if s.Report != nil {
			s.Report(Notice{"warning", fmt.Sprintf("the session's facts cannot be read; its taint rules start over on this replica (store_down = audit): %v", err)})
		}
	}
	return enforce.RestoreFacts(st, save), nil
}
