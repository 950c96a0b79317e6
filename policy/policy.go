// Package policy is mcpgov's decision pipeline (DESIGN §4): for each
// governed tools/call it runs the pre guardrails on the arguments, the rate
// limits and the bundle's Rego policies (package mcpgov.authz, prepared
// once), and for each result the post guardrails (redaction, output
// checks); for each tool definition the describe guardrails. A Pipeline
// implements the enforcement core's Hooks (pre, post and describe);
// `mcpgov policy eval` runs the same Pipeline on one input.
package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/guard"
	"github.com/mcpgov/mcpgov/policy/limit"
)

// Options configure a Pipeline.
type Options struct {
	// Limits keeps the rate-limit counters; nil means a file under
	// StateDir, shared by every shim process of the machine.
	Limits limit.Store
	// StateDir holds the rate-limit counters when Limits is nil; both
	// empty disables rate limits.
	StateDir string
	// Budgets keeps what the catalog's budgets have spent; nil means
	// Limits when it is a limit.Spender, else a file under StateDir; none
	// of them disables budgets (costs are still recorded).
	Budgets limit.Spender
	// Now is the clock of budget periods; nil means time.Now.
	Now func() time.Time
	// Getenv reads variables named in guardrails.toml (hash_key_env).
	Getenv func(string) string
	// NoDecisionCache evaluates the policy on every call even when its
	// decisions could be cached (benchmarks, policy debugging).
	NoDecisionCache bool
	// GuardrailModes overrides the modes guardrails.toml sets: a
	// guardrail's name or kind, or "" for all, to a mode
	// (guard.Config.OverrideModes). `policy eval --guardrail-mode`.
	GuardrailModes map[string]string
}

// Pipeline is the loaded policy and guardrails of one bundle. It is safe
// for concurrent use; Reload swaps in a new bundle atomically.
type Pipeline struct {
	opts Options
	st   atomic.Pointer[state]
}

type state struct {
	bundle *catalog.Bundle
	set    *guard.Set
	query  *rego.PreparedEvalQuery // nil: the bundle has no policies
	// use is what the policies read of their input; usesArgs: some
	// policy reads input.arguments.
	use      inputUse
	usesArgs bool
	// cacheDecisions: decisions depend only on the input without its
	// arguments; they are kept in decisions, keyed by the canonical
	// encoding of the part of the input the policies read.
	cacheDecisions bool
	decMu          sync.Mutex
	decisions      map[string]regoDecision
	limiter        limit.Store
	spender        limit.Spender
	now            func() time.Time
	revMu          sync.Mutex
	reviews        map[string]enforce.Decision // server ID + tool fingerprint -> ReviewTool's verdict
}

// Load parses the bundle's guardrails.toml strictly and compiles its
// policies. A bundle without either gets an empty pipeline that allows.
func Load(b *catalog.Bundle, opts Options) (*Pipeline, error) {
	p := &Pipeline{opts: opts}
	if err := p.Reload(b); err != nil {
		return nil, err
	}
	return p, nil
}

// Reload prepares b and swaps it in; on error the old bundle stays.
func (p *Pipeline) Reload(b *catalog.Bundle) error {
	st, err := load(context.Background(), b, p.opts)
	if err != nil {
		return err
	}
	p.st.Store(st)
	return nil
}

func load(ctx context.Context, b *catalog.Bundle, opts Options) (*state, error) {
	if b == nil {
		return nil, errors.New("policy: no bundle")
	}
	cfg, err := LoadGuardrails(b.Dir)
	if err != nil {
		return nil, err
	}
	if cfg != nil && len(opts.GuardrailModes) > 0 {
		if err := cfg.OverrideModes(opts.GuardrailModes); err != nil {
			return nil, fmt.Errorf("guardrails: %w", err)
		}
	}
	set, err := guard.NewSet(cfg, guard.Options{Getenv: opts.Getenv})
	if err != nil {
		return nil, err
	}
	q, use, pure, err := compilePolicies(ctx, b.Dir)
	if err != nil {
		return nil, err
	}
	usesArgs := use.reads("arguments")
	st := &state{bundle: b, set: set, query: q, use: use, usesArgs: usesArgs}
	// A policy that reads neither the arguments nor the clock decides the
	// same for the same facts: cache its decisions for this bundle.
	st.cacheDecisions = q != nil && !usesArgs && pure && !opts.NoDecisionCache
	st.now = opts.Now
	if st.now == nil {
		st.now = time.Now
	}
	switch {
	case opts.Limits != nil:
		st.limiter = opts.Limits
	case opts.StateDir != "":
		st.limiter = &limit.Limiter{Dir: opts.StateDir, Now: opts.Now}
	}
	st.spender = opts.Budgets
	if sp, ok := st.limiter.(limit.Spender); ok && st.spender == nil {
		st.spender = sp
	}
	return st, nil
}

// LoadGuardrails reads dir/guardrails.toml; nil when there is none.
func LoadGuardrails(dir string) (*guard.Config, error) {
	path := filepath.Join(dir, guard.FileName)
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("guardrails: %w", err)
	}
	return guard.ParseConfig(path, text)
}

// Bundle returns the bundle in use.
func (p *Pipeline) Bundle() *catalog.Bundle { return p.st.Load().bundle }

// Guardrails returns the guardrails in use, in name order.
func (p *Pipeline) Guardrails() []*guard.Spec { return p.st.Load().set.Specs() }

// HasPolicies reports whether the bundle has Rego policies.
func (p *Pipeline) HasPolicies() bool { return p.st.Load().query != nil }

// Active reports whether the pipeline has anything to do for calls of
// server: policies, guardrails, or rate limits in its catalog entry. A
// relay need not consult an inactive pipeline.
func (p *Pipeline) Active(server *catalog.Server) bool {
	st := p.st.Load()
	if st.query != nil || len(st.set.Specs()) > 0 {
		return true
	}
	return server != nil && (server.Prices.Priced() ||
		st.limiter != nil && (server.Limits.CallsPerMinute > 0 || len(server.Limits.Tools) > 0))
}

// MayBlock implements enforce.Blocker: the pipeline waits on something
// outside the process only for a guardrail that calls a remote detector.
// Rego and the other guardrails run in memory, and a rate-limit counter
// is a local file.
func (p *Pipeline) MayBlock() bool { return p.st.Load().set.Remote() }

// maxCachedDecisions bounds the decision cache; it is cleared when full.
const maxCachedDecisions = 4096

// maxCachedReviews bounds the tool-review cache; it is cleared when full.
const maxCachedReviews = 4096

// decide evaluates the policies on in, the input as they read it
// (buildInputFor with st.use), or takes the decision cached for it.
func (st *state) decide(ctx context.Context, in map[string]any) (regoDecision, error) {
	if !st.cacheDecisions {
		return evalDecision(ctx, st.query, in)
	}
	var buf [512]byte
	k, ok := appendKey(buf[:0], in)
	if !ok {
		return evalDecision(ctx, st.query, in)
	}
	st.decMu.Lock()
	d, ok := st.decisions[string(k)] // looked up without a copy of the key
	st.decMu.Unlock()
	if ok {
		return d, nil
	}
	d, err := evalDecision(ctx, st.query, in)
	if err != nil {
		return d, err
	}
	st.decMu.Lock()
	if st.decisions == nil || len(st.decisions) >= maxCachedDecisions {
		st.decisions = map[string]regoDecision{}
	}
	st.decisions[string(k)] = d
	st.decMu.Unlock()
	return d, nil
}
