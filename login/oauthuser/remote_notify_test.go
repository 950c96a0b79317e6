package oauthuser

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestCompletionNotifyBounded: a session whose client does not read (its
// delivery blocks) has one completion notification in flight, not a
// goroutine per consent granted meanwhile; once delivery moves again, the
// next grant is announced.
func TestCompletionNotifyBounded(t *testing.T) {
	m := &Manager{}
	g := m.Authorizer("ann", "notes").(*grantAuthorizer)
	var mu sync.Mutex
	var entered []string
	release := make(chan struct{})
	delivered := make(chan string, 16)
	g.SetNotify(func(frame []byte) {
		msg, err := rpc.Parse(frame)
		if err != nil {
			t.Error(err)
			return
		}
		var p struct {
			ElicitationID string `json:"elicitationId"`
		}
		_ = json.Unmarshal(msg.Params, &p)
		mu.Lock()
		entered = append(entered, p.ElicitationID)
		mu.Unlock()
		<-release // the client does not read until released
		delivered <- p.ElicitationID
	})
	grant := func(id string) {
		g.notifyOnGrant(&ConsentRequired{ElicitationID: id, Expires: time.Now().Add(time.Hour)})
		m.completed(id)
	}
	for i := range 5 {
		grant(fmt.Sprint(i))
	}
	close(release)
	if id := await.Recv(t, delivered, "the first completion"); id != "0" {
		t.Fatalf("first delivered %q, want 0", id)
	}
	// The first delivery has returned only once its goroutine clears
	// the session's busy mark; wait for that, then a new grant is told.
	await.Until(t, "the session's delivery to finish", func() bool { return !g.busy.Load() })
	grant("5")
	if id := await.Recv(t, delivered, "the completion of a grant made after delivery moved"); id != "5" {
		t.Fatalf("delivered %q, want 5", id)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(entered) != "[0 5]" {
		t.Errorf("notifications started %v, want [0 5]: the four granted while the first was blocked dropped, not each left on a goroutine", entered)
	}
}

// TestCompletionOncePerSession: a session challenged again and again for
// the same consent (a client retrying a call before the person consents)
// is kept once, not once per call; other sessions are added up to a cap
// per consent; and a consent that expired is dropped when a new one is
// added. The grant tells each session once.
func TestCompletionOncePerSession(t *testing.T) {
	now := time.Now()
	m := &Manager{Now: func() time.Time { return now }}
	g := m.Authorizer("ann", "notes").(*grantAuthorizer)
	told := make(chan string, 4)
	g.SetNotify(func([]byte) { told <- "g" })
	cr := &ConsentRequired{ElicitationID: "e1", Expires: now.Add(time.Minute)}
	for range 1000 {
		g.notifyOnGrant(cr)
	}
	entries := func(id string) int {
		m.mu.Lock()
		defer m.mu.Unlock()
		if c := m.completions[id]; c != nil {
			return len(c.sessions)
		}
		return 0
	}
	if n := entries("e1"); n != 1 {
		t.Fatalf("1000 challenges of one session: %d entries, want 1", n)
	}
	for range 2 * maxWaitingSessions {
		o := m.Authorizer("ann", "notes").(*grantAuthorizer)
		o.SetNotify(func([]byte) {})
		o.notifyOnGrant(cr)
	}
	if n := entries("e1"); n != maxWaitingSessions {
		t.Fatalf("sessions kept for one consent: %d, want the cap %d", n, maxWaitingSessions)
	}
	m.completed("e1")
	if got := await.Recv(t, told, "the session told of the grant"); got != "g" {
		t.Fatal(got)
	}
	// An expired consent goes when another is added.
	g.notifyOnGrant(&ConsentRequired{ElicitationID: "e2", Expires: now.Add(time.Minute)})
	now = now.Add(2 * time.Minute)
	g.notifyOnGrant(&ConsentRequired{ElicitationID: "e3", Expires: now.Add(time.Minute)})
	if entries("e2") != 0 || entries("e3") != 1 {
		t.Fatalf("after expiry: e2 %d entries (want 0), e3 %d (want 1)", entries("e2"), entries("e3"))
	}
}
