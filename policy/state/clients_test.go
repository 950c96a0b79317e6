package state_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestRedisClientsAcrossReplicas: the client replica A registered itself
// as at a server's authorization server is what replica B reads (real
// redis-server); the store holds it sealed (no client id or secret in
// the clear), a registration copied under another server does not open,
// and a server nobody registered for is ErrNoClient.
func TestRedisClientsAcrossReplicas(t *testing.T) {
	r := startReplicas(t)
	ctx := await.Context(t)
	a, b := r.store(t).Clients(), r.store(t).Clients()
	if _, err := b.GetClient(ctx, "notes"); !errors.Is(err, oauthuser.ErrNoClient) {
		t.Fatalf("no registration yet: %v", err)
	}
	reg := oauthuser.Registration{Issuer: "https://as.example", RedirectURL: "https://gw.example/oauth/callback",
		ClientID: "dyn-client-7c1e", ClientSecret: "dyn-secret-93ab", AuthMethod: "client_secret_post"}
	if err := a.PutClient(ctx, "notes", reg); err != nil {
		t.Fatal(err)
	}
	if err := a.PutClient(ctx, "wiki", oauthuser.Registration{Issuer: "https://as.example", ClientID: "wiki-client-5d"}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetClient(ctx, "notes"); err != nil || got != reg {
		t.Fatalf("replica B reads %+v, %v; want A's %+v", got, err, reg)
	}
	if d := dump(t, r.srv); strings.Contains(d, "dyn-client-7c1e") || strings.Contains(d, "dyn-secret-93ab") || strings.Contains(d, "notes") {
		t.Fatalf("a registration in the clear:\n%s", d)
	}
	raw := rawClient(t, r.srv)
	key := func(server string) string {
		h := sha256.Sum256([]byte(server))
		return state.Prefix + "oauth-client:" + hex.EncodeToString(h[:16])
	}
	raw.Set(ctx, key("notes"), raw.Get(ctx, key("wiki")).Val(), 0)
	if _, err := b.GetClient(ctx, "notes"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("a registration moved to another server: %v", err)
	}
}
