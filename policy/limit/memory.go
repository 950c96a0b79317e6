package limit

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store that keeps the counters in the process: for one
// process that serves every session (a gateway replica without peers,
// tests). The zero value is ready to use.
type Memory struct {
	Now func() time.Time

	mu    sync.Mutex
	calls map[string][]int64 // key id -> call times (unix ms), oldest first
	spent map[string]spent   // budget id -> spending in its period
}

// Take implements Store.
func (m *Memory) Take(_ context.Context, keys []Key) error {
	if len(keys) == 0 {
		return nil
	}
	t := time.Now()
	if m.Now != nil {
		t = m.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls == nil {
		m.calls = map[string][]int64{}
	}
	if worst := take(m.calls, keys, t); worst != nil {
		return worst
	}
	return nil
}
