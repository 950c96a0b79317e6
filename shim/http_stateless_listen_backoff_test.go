package shim

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestStatelessListenBackoff: a server that breaks the upstream's
// subscriptions/listen again and again (its stream ends unanswered, or it
// refuses for the moment with 503) gets it opened again after a delay
// that starts at a second and doubles up to a minute; the listen that
// holds delivers its list change. The delays are recorded, not waited.
func TestStatelessListenBackoff(t *testing.T) {
	const breaks = 8
	var listens atomic.Int64
	url := rawJSONRPC(t, func(w http.ResponseWriter, r *http.Request, m *rpc.Message) {
		switch m.Method {
		case "server/discover":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(rpc.ResultResponse(m.ID, json.RawMessage(`{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{"listChanged":true}}}`)))
		case "subscriptions/listen":
			n := listens.Add(1)
			if n <= breaks && n%2 == 0 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte(`data: {"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":{"toolsListChanged":true}}}` + "\n\n"))
			if n <= breaks {
				return // the stream ends before the listen's answer
			}
			_, _ = w.Write([]byte(`data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}` + "\n\n"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			http.Error(w, "not served here", http.StatusBadRequest)
		}
	})

	up := openStateless(t, url, true)
	var mu sync.Mutex
	var delays []time.Duration
	up.stateless.listenWait = func(ctx context.Context, d time.Duration) bool {
		mu.Lock()
		delays = append(delays, d)
		mu.Unlock()
		return ctx.Err() == nil
	}
	got := frames(t, up)
	up.Listen(true)
	for {
		m := await.Recv(t, got, "the list change of the listen opened again")
		if m == nil {
			t.Fatal("the upstream ended before the list change")
		}
		if m.Method == "notifications/tools/list_changed" {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	if !slices.Equal(delays, want) {
		t.Errorf("the listen was opened again after %v, want %v", delays, want)
	}
	if n := listens.Load(); n != breaks+1 {
		t.Errorf("the server got %d listens, want %d: one for each break and the one that held", n, breaks+1)
	}
}
