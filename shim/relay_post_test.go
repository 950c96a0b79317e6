package shim

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

type recordSink struct {
	mu      sync.Mutex
	recs    []*audit.Record
	waiters []recordWaiter
}

// recordWaiter is a channel closed once the sink holds n records.
type recordWaiter struct {
	n    int
	done chan struct{}
}

func (s *recordSink) Append(_ context.Context, r *audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
	s.waiters = slices.DeleteFunc(s.waiters, func(w recordWaiter) bool {
		if len(s.recs) >= w.n {
			close(w.done)
			return true
		}
		return false
	})
	return nil
}

func (s *recordSink) snapshot() []*audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*audit.Record(nil), s.recs...)
}

// atLeast returns a channel closed once the sink holds n records.
func (s *recordSink) atLeast(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := recordWaiter{n: n, done: make(chan struct{})}
	if len(s.recs) >= n {
		close(w.done)
	} else {
		s.waiters = append(s.waiters, w)
	}
	return w.done
}

func (s *recordSink) outcomes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.recs {
		out = append(out, r.Tool+":"+r.Outcome)
	}
	return out
}

type maskDigits struct{}

func (maskDigits) FilterResult(_ context.Context, _ *catalog.Server, _ *enforce.Call, result json.RawMessage) (enforce.ResultDecision, error) {
	out := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, string(result))
	if out == string(result) {
		return enforce.ResultDecision{Allow: true}, nil
	}
	return enforce.ResultDecision{Allow: true, Result: json.RawMessage(out), Redactions: 1}, nil
}

// TestRelayPostHooks: a governed call's result passes the post hook
// before the client sees it, every call leaves one record (answered,
// cancelled, failed by the upstream's exit) with the client's name from
// initialize, and other responses pass untouched.
func TestRelayPostHooks(t *testing.T) {
	sink := &recordSink{}
	srv := &catalog.Server{ID: "s", Status: catalog.StatusApproved}
	s := startSession(t, enforce.New(enforce.Config{Server: srv, VersionApproved: true, Sink: enforce.Tee{Store: sink}, Hooks: enforce.HookFuncs{Post: maskDigits{}.FilterResult}}))

	s.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"clientInfo":{"name":"cursor","version":"2.1"}}}`)
	s.upRecv()
	s.upSend(`{"jsonrpc":"2.0","id":1,"result":{"n":123}}`)
	expect(t, "initialize result untouched", s.recv(), `{"jsonrpc":"2.0","id":0,"result":{"n":123}}`)

	s.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"card"}}`)
	s.upRecv()
	s.upSend(`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"4111"}]},"x":1}`)
	got := s.recv()
	if !strings.Contains(got, `"text":"####"`) || !strings.Contains(got, `"x":1`) {
		t.Fatalf("result not filtered before the client: %s", got)
	}

	s.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow"}}`)
	s.upRecv()
	s.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}`)
	s.upRecv()
	s.send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"hang"}}`)
	s.upRecv()
	s.up.exit()
	if got := s.recv(); !strings.Contains(got, `"id":3,"error"`) {
		t.Fatalf("pending call after exit: %s", got)
	}
	<-s.done
	await.Recv(t, sink.atLeast(3), "three audit records")
	want := []string{"card:redacted", "hang:error", "slow:cancelled"}
	outcomes := sink.outcomes()
	slices.Sort(outcomes)
	if strings.Join(outcomes, " ") != strings.Join(want, " ") {
		t.Errorf("records %v, want %v", outcomes, want)
	}
	if c := sink.recs[0].Client; c.Name != "cursor" || c.Version != "2.1" {
		t.Errorf("client %+v", c)
	}
}

// TestRelayClientGoneMidCall: a governed call the upstream was running
// when the client closed its input still has its record, once the drain
// has waited for an answer that never came.
func TestRelayClientGoneMidCall(t *testing.T) {
	sink := &recordSink{}
	srv := &catalog.Server{ID: "s", Status: catalog.StatusApproved}
	// The upstream never answers, so the outcome is the same whatever the
	// drain; a short one keeps the test short.
	s := startSessionDrain(t, enforce.New(enforce.Config{Server: srv, VersionApproved: true, Sink: enforce.Tee{Store: sink}}), 10*time.Millisecond)
	s.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"long","arguments":{}}}`)
	s.upRecv()
	s.in.Close()
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	recs := sink.snapshot()
	if len(recs) != 1 || recs[0].Tool != "long" || recs[0].Outcome != audit.OutcomeError || !strings.Contains(recs[0].Reason, "client closed its input before the upstream answered") {
		t.Fatalf("records: %+v", recs)
	}
}
