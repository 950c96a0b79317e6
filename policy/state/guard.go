package state

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mcpgov/mcpgov/policy/limit"
)

// Guard is the limit.Store a replica uses in front of its shared store:
// it applies the down mode while the store is unreachable and tries the
// store again on every call, so that the replica recovers as soon as the
// store is back, without a restart.
type Guard struct {
	// Shared is the store the replicas share.
	Shared limit.Store
	// Mode is what to do while Shared is unreachable.
	Mode DownMode
	// Report, when set, is told when an outage starts (err is why) and
	// when it ends (err is nil), once each.
	Report func(err error)

	local limit.Memory // the counters and budgets of DownAudit

	mu   sync.Mutex
	down bool
}

var _ limit.Store = (*Guard)(nil)

// Take implements limit.Store.
func (g *Guard) Take(ctx context.Context, keys []limit.Key) error {
	err := g.Shared.Take(ctx, keys)
	if err == nil {
		g.set(false, nil)
		return nil
	}
	if _, ok := limit.AsExceeded(err); ok || !errors.Is(err, ErrUnavailable) {
		g.set(false, nil)
		return err
	}
	g.set(true, err)
	if g.Mode == DownAudit {
		return g.local.Take(ctx, keys)
	}
	return fmt.Errorf("rate limits cannot be counted, so the call is refused (store failure mode enforce): %w", err)
}

var _ limit.Spender = (*Guard)(nil)

// Spend implements limit.Spender: the budgets in Shared when it keeps
// them (limit.Spender), under the same down mode as the rate limits —
// enforce refuses a call whose spending cannot be counted, audit counts
// it in this replica alone meanwhile.
func (g *Guard) Spend(ctx context.Context, budgets []limit.Budget, amount float64, check bool) error {
	sp, ok := g.Shared.(limit.Spender)
	if !ok {
		return g.local.Spend(ctx, budgets, amount, check)
	}
	err := sp.Spend(ctx, budgets, amount, check)
	var over *limit.OverBudget
	if err == nil || errors.As(err, &over) || !errors.Is(err, ErrUnavailable) {
		if len(budgets) > 0 {
			g.set(false, nil)
		}
		return err
	}
	g.set(true, err)
	if g.Mode == DownAudit {
		return g.local.Spend(ctx, budgets, amount, check)
	}
	return fmt.Errorf("budgets cannot be counted, so the call is refused (store failure mode enforce): %w", err)
}

// Down reports whether the last call found the store unreachable.
func (g *Guard) Down() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.down
}

// set notes the store's state and reports a change.
func (g *Guard) set(down bool, err error) {
	g.mu.Lock()
	changed := g.down != down
	g.down = down
	g.mu.Unlock()
	if changed && g.Report != nil {
		g.Report(err)
	}
}
