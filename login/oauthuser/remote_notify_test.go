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
