package oauthuser_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// BenchmarkTokenFresh is the per-call cost of Token on a fresh grant (the
// hot path of every oauth_user call), beside BenchmarkStoreGet, the
// baseline: one read of the same in-memory store. Report the ratio.
func BenchmarkTokenFresh(b *testing.B) {
	m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}, Sink: oauthuser.SinkFunc(func(context.Context, oauthuser.Event) {})}
	if err := m.AddServer("gh", oauthuser.Config{AuthURL: "https://as.example/a", TokenURL: "https://as.example/t", ClientID: "c", RedirectURL: "https://gw.example/cb"}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	m.Store.Put(ctx, oauthuser.Key{User: "u", Server: "gh"}, oauthuser.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour), Scopes: []string{"repo"}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Token(ctx, "u", "gh"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreGet(b *testing.B) {
	s := &oauthuser.MemoryStore{}
	ctx := context.Background()
	k := oauthuser.Key{User: "u", Server: "gh"}
	s.Put(ctx, k, oauthuser.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour), Scopes: []string{"repo"}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}
