package limit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Budget scopes.
const (
	ScopeSession   = "session"    // one MCP session, never resets
	ScopeUserDay   = "user_day"   // one user, a UTC day
	ScopeTeamMonth = "team_month" // one team (identity group), a UTC month
)

// BudgetFileName is the budget state file's name in the state directory.
const BudgetFileName = "budgets.json"

// sessionKeep is how long a session's spending is kept after its last
// call: a session has no period to end it.
const sessionKeep = 7 * 24 * time.Hour

// Budget is one spending cap: whose (Subject within Scope), for which
// period, and its limit in the catalog's currency.
type Budget struct {
	Scope   string
	Subject string
	// Period names the current period ("2026-12-07", "2026-12"; "" for a
	// session); a stored counter of another period starts again at zero.
	Period string
	// Resets is when the period ends; zero for a session.
	Resets time.Time
	Limit  float64
}

func (b Budget) id() string { return b.Scope + "\x00" + b.Subject }

// BudgetsFor are the budgets a call counts against at t.
func BudgetsFor(session, user string, teams map[string]float64, groups []string, sessionCap, userCap float64, t time.Time) []Budget {
	t = t.UTC()
	var out []Budget
	if sessionCap > 0 && session != "" {
		out = append(out, Budget{Scope: ScopeSession, Subject: session, Limit: sessionCap})
	}
	if userCap > 0 {
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		out = append(out, Budget{Scope: ScopeUserDay, Subject: user, Period: day.Format("2006-01-02"), Resets: day.AddDate(0, 0, 1), Limit: userCap})
	}
	month := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, g := range groups {
		if n := teams[g]; n > 0 {
			out = append(out, Budget{Scope: ScopeTeamMonth, Subject: g, Period: month.Format("2006-01"), Resets: month.AddDate(0, 1, 0), Limit: n})
		}
	}
	return out
}

// OverBudget says which budget a call would exceed, and when it resets.
type OverBudget struct {
	Budget   Budget
	Spent    float64
	Amount   float64
	Currency string
}

func (e *OverBudget) Error() string {
	var what, resets string
	switch e.Budget.Scope {
	case ScopeSession:
		what, resets = "the session budget", "it does not reset; a new session starts with a fresh one"
	case ScopeUserDay:
		what, resets = "your daily budget", "it resets at "+e.Budget.Resets.Format(time.RFC3339)
	default:
		what, resets = "the monthly budget of team "+e.Budget.Subject, "it resets at "+e.Budget.Resets.Format(time.RFC3339)
	}
	return fmt.Sprintf("%s of %.2f %s is spent (%.2f so far; this call costs %.2f); %s", what, e.Budget.Limit, e.Currency, e.Spent, e.Amount, resets)
}

// Spender keeps what budgets have spent. Spend adds amount to every
// budget; with check, it adds to none and returns an *OverBudget when any
// would go past its limit. Any other error means it could not count.
// Limiter (a file shared by the machine's shims) and Memory implement it;
// a store replicas share can replace them.
type Spender interface {
	Spend(ctx context.Context, budgets []Budget, amount float64, check bool) error
}

var (
	_ Spender = (*Limiter)(nil)
	_ Spender = (*Memory)(nil)
)

type spent struct {
	Period  string  `json:"period"`
	Spent   float64 `json:"spent"`
	Expires int64   `json:"expires"` // unix seconds; the entry is dropped after
}

// spend applies one Spend to the counters.
func spend(m map[string]spent, budgets []Budget, amount float64, check bool, now time.Time) error {
	for id, e := range m {
		if e.Expires < now.Unix() {
			delete(m, id)
		}
	}
	cur := func(b Budget) spent {
		e := m[b.id()]
		if e.Period != b.Period {
			e = spent{Period: b.Period}
		}
		return e
	}
	if check {
		for _, b := range budgets {
			if e := cur(b); e.Spent+amount > b.Limit+1e-9 {
				return &OverBudget{Budget: b, Spent: e.Spent, Amount: amount}
			}
		}
	}
	for _, b := range budgets {
		e := cur(b)
		e.Spent += amount
		e.Expires = b.Resets.Unix()
		if b.Resets.IsZero() {
			e.Expires = now.Add(sessionKeep).Unix()
		}
		m[b.id()] = e
	}
	return nil
}

// Spend implements Spender in the state directory's budget file.
func (l *Limiter) Spend(_ context.Context, budgets []Budget, amount float64, check bool) error {
	if len(budgets) == 0 {
		return nil
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return fmt.Errorf("budgets: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(l.Dir, BudgetFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("budgets: %w", err)
	}
	defer f.Close()
	if err := lock(f); err != nil {
		return fmt.Errorf("budgets: lock %s: %w", f.Name(), err)
	}
	defer unlock(f)
	st := map[string]spent{}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("budgets: %w", err)
	}
	if len(data) > 0 && json.Unmarshal(data, &st) != nil {
		// Unlike rate limits, spending must not start afresh silently: a
		// torn file would reopen every budget.
		return fmt.Errorf("budgets: %s is not a budget state file", f.Name())
	}
	over := spend(st, budgets, amount, check, now)
	if over != nil {
		return over
	}
	out, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("budgets: %w", err)
	}
	if _, err := f.WriteAt(out, 0); err != nil {
		return fmt.Errorf("budgets: %w", err)
	}
	return nil
}

// Spend implements Spender in memory.
func (m *Memory) Spend(_ context.Context, budgets []Budget, amount float64, check bool) error {
	if len(budgets) == 0 {
		return nil
	}
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spent == nil {
		m.spent = map[string]spent{}
	}
	return spend(m.spent, budgets, amount, check, now)
}
