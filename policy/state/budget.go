package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/policy/limit"
)

var _ limit.Spender = (*Redis)(nil)

// sessionBudgetKeep is how long a session's spending is kept after its
// last call (limit's embedded stores keep it as long): a session has no
// period that ends it.
const sessionBudgetKeep = 7 * 24 * time.Hour

// spendScript is limit's spend, run in the store: each budget is a hash
// {period, spent}; a counter of another period starts again at zero.
// With check (ARGV[2] = "1"), it adds to none and returns the index of
// the first budget the amount would take past its limit, and what that
// one has spent. Otherwise it adds the amount to every budget and sets
// each key to expire when its period ends. Atomic: two replicas cannot
// both spend the last of a budget.
var spendScript = redis.NewScript(`
local amount = tonumber(ARGV[1])
local spent, same = {}, {}
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'period', 'spent')
  same[i] = v[1] == ARGV[3 * i]
  spent[i] = same[i] and tonumber(v[2] or '0') or 0
end
if ARGV[2] == '1' then
  for i = 1, #KEYS do
    if spent[i] + amount > tonumber(ARGV[3 * i + 1]) + 1e-9 then
      return {i, tostring(spent[i])}
    end
  end
end
for i = 1, #KEYS do
  if not same[i] then redis.call('HSET', KEYS[i], 'period', ARGV[3 * i], 'spent', '0') end
  redis.call('HINCRBYFLOAT', KEYS[i], 'spent', ARGV[1])
  redis.call('EXPIREAT', KEYS[i], ARGV[3 * i + 2])
end
return {0, ''}
`)

// budgetKey is the store key of one budget's counter: its scope and
// subject (a session, user or team) hashed, no personal value in a key
// name.
func budgetKey(b limit.Budget) string {
	h := sha256.Sum256([]byte(b.Scope + "\x00" + b.Subject))
	return Prefix + "budget:" + hex.EncodeToString(h[:12])
}

// Spend implements limit.Spender in one round trip. The period's end
// (for a session, a week after its last spending) is the key's expiry.
func (r *Redis) Spend(ctx context.Context, budgets []limit.Budget, amount float64, check bool) error {
	if len(budgets) == 0 {
		return nil
	}
	keys := make([]string, len(budgets))
	args := make([]any, 0, 2+3*len(budgets))
	chk := "0"
	if check {
		chk = "1"
	}
	args = append(args, strconv.FormatFloat(amount, 'g', -1, 64), chk)
	now := time.Now()
	for i, b := range budgets {
		keys[i] = budgetKey(b)
		expires := b.Resets
		if expires.IsZero() {
			expires = now.Add(sessionBudgetKeep)
		}
		args = append(args, b.Period, strconv.FormatFloat(b.Limit, 'g', -1, 64), expires.Unix())
	}
	res, err := spendScript.Run(ctx, r.c, keys, args...).Slice()
	if err != nil {
		return r.unavailable(err)
	}
	if len(res) != 2 {
		return r.unavailable(fmt.Errorf("budget script answered %v", res))
	}
	i, _ := res[0].(int64)
	if i <= 0 {
		return nil
	}
	if int(i) > len(budgets) {
		return r.unavailable(fmt.Errorf("budget script answered %v", res))
	}
	s, _ := res[1].(string)
	spent, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return r.unavailable(fmt.Errorf("budget script answered %v", res))
	}
	return &limit.OverBudget{Budget: budgets[i-1], Spent: spent, Amount: amount}
}
