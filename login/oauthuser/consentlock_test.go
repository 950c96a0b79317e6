package oauthuser_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// stuckPending is a PendingStore whose Put for one user hangs until
// released: a store slow for that write.
type stuckPending struct {
	oauthuser.MemoryPending
	user             string
	once             sync.Once
	entered, release chan struct{}
}

func (p *stuckPending) Put(ctx context.Context, state, user, server string, record []byte, ttl time.Duration) error {
	if user == p.user {
		p.once.Do(func() { close(p.entered) })
		<-p.release
	}
	return p.MemoryPending.Put(ctx, state, user, server, record, ttl)
}

// TestConsentOfOneUserDoesNotWaitForAnother: while the store hangs on
// one user's consent, another user's consent (and the same user's for
// another server) is made; the waiting user's concurrent call then gets
// the one link made for it.
func TestConsentOfOneUserDoesNotWaitForAnother(t *testing.T) {
	m, _, _ := newManager(t, "https://as.example/token")
	if err := m.AddServer("jira", oauthuser.Config{AuthURL: "https://as.example/authorize", TokenURL: "https://as.example/token",
		ClientID: "cid", RedirectURL: "https://gw.example/oauth/callback"}); err != nil {
		t.Fatal(err)
	}
	p := &stuckPending{user: "slow", entered: make(chan struct{}), release: make(chan struct{})}
	m.Pending = p
	ctx := await.Context(t)
	type result struct {
		cr  *oauthuser.ConsentRequired
		err error
	}
	slow := make(chan result, 2)
	for range 2 {
		go func() {
			cr, err := m.ConsentURL(ctx, "slow", "gh")
			slow <- result{cr, err}
		}()
	}
	await.Recv(t, p.entered, "the store hanging on slow's consent")
	others := make(chan result, 2)
	go func() {
		cr, err := m.ConsentURL(ctx, "bob", "gh")
		others <- result{cr, err}
	}()
	if r := await.Recv(t, others, "bob's consent while slow's hangs"); r.err != nil || r.cr.User != "bob" {
		t.Fatalf("bob's consent: %+v %v", r.cr, r.err)
	}
	close(p.release)
	a, b := await.Recv(t, slow, "slow's consent"), await.Recv(t, slow, "slow's second call")
	if a.err != nil || b.err != nil || a.cr.URL != b.cr.URL {
		t.Fatalf("slow's two calls: %v %v, same link %v", a.err, b.err, a.err == nil && b.err == nil && a.cr.URL == b.cr.URL)
	}
}
