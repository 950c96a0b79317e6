package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// taggedLog shares one memory log between two handlers of this test, as
// the Redis log is shared between replicas.
type taggedLog struct {
	*gateway.MemoryEventLog
	tag string
}

func (l taggedLog) ReplicaTag() string { return l.tag }

func (taggedLog) Live(context.Context, string, string, time.Duration) error { return nil }

func (taggedLog) Running(context.Context, string, string) (bool, error) { return true, nil }

// TestSharedEventLogCopies: with a shared log, a replica names its POST
// streams with its tag; its copy of a session that ends idle leaves the
// session's events to the other replicas, where a client resumes the
// stream (replayed up to the answer, once); the client's DELETE through
// another replica drops them.
func TestSharedEventLogCopies(t *testing.T) {
	gov := twoServers(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	mem := gateway.NewMemoryEventLog(0, 0)
	a, ha := newGateway(t, gov, gateway.Options{SessionKey: key, EventLog: taggedLog{mem, "aaaaaa"}, IdleTimeout: 300 * time.Millisecond})
	b, _ := newGateway(t, gov, gateway.Options{SessionKey: key, EventLog: taggedLog{mem, "bbbbbb"}})

	status, body, hdr := post(t, a.URL+"/servers/alpha/mcp", "", initBody, "X-Test-User", "ada")
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || sid == "" {
		t.Fatalf("initialize on replica a: %d %s", status, body)
	}
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{}}}`
	status, body, _ = post(t, a.URL+"/servers/alpha/mcp", sid, call, "X-Test-User", "ada")
	if status != 200 || !strings.Contains(body, "id: p2-aaaaaa_1\n") || !strings.Contains(body, "alpha:echo") {
		t.Fatalf("streamed call on replica a: %d %q, want its event id named with a's tag (p2: the initialize was p1)", status, body)
	}
	await.Until(t, "replica a's copy of the session to end idle", func() bool { return ha.Sessions() == 0 })
	ctx := context.Background()
	if got, err := mem.After(ctx, sid, "p2-aaaaaa", 0); err != nil || len(got) != 1 {
		t.Fatalf("the shared log after a's copy ended: %d events, %v; want the answer kept", len(got), err)
	}

	req, _ := http.NewRequest(http.MethodGet, b.URL+"/servers/alpha/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Last-Event-ID", "p2-aaaaaa_0")
	req.Header.Set("X-Test-User", "ada")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	replay, _ := io.ReadAll(resp.Body) // the stream ends after the answer
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(replay), "alpha:echo") != 1 || !strings.Contains(string(replay), "id: p2-aaaaaa_1\n") {
		t.Fatalf("resume on replica b: %d %q, want the answer once under its id", resp.StatusCode, replay)
	}

	req, _ = http.NewRequest(http.MethodDelete, b.URL+"/servers/alpha/mcp", nil)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("X-Test-User", "ada")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	await.Until(t, "the client's DELETE to drop the session's events", func() bool {
		_, err := mem.After(ctx, sid, "p2-aaaaaa", 1)
		return errors.Is(err, gateway.ErrEventNotInLog)
	})
}
