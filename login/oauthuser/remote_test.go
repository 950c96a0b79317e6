package oauthuser_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// readCountingStore counts the reads that reach the store (a keyring read is
// a D-Bus round trip).
type readCountingStore struct {
	oauthuser.MemoryStore
	gets atomic.Int32
}

func (s *readCountingStore) Get(ctx context.Context, k oauthuser.Key) (oauthuser.Token, error) {
	s.gets.Add(1)
	return s.MemoryStore.Get(ctx, k)
}

// TestRemoteReadsTheStoreOnce: a server that never challenges costs one
// read of the store per run, not one per request; with a grant, calls
// with its fresh token do not read the store either.
func TestRemoteReadsTheStoreOnce(t *testing.T) {
	ctx := context.Background()
	empty := &readCountingStore{}
	r := &oauthuser.Remote{Server: "http://127.0.0.1:1/mcp", User: "local", Store: empty, Config: oauthuser.Config{Resource: "http://127.0.0.1:1/mcp"}}
	defer r.Close()
	for range 100 {
		if v, err := r.Authorization(ctx); err != nil || v != "" {
			t.Fatalf("no grant: %q %v", v, err)
		}
	}
	if n := empty.gets.Load(); n != 1 {
		t.Errorf("100 requests without a grant read the store %d times, want 1", n)
	}

	granted := &readCountingStore{}
	k := oauthuser.Key{User: "local", Server: "http://127.0.0.1:1/mcp"}
	if err := granted.Put(ctx, k, oauthuser.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r2 := &oauthuser.Remote{Server: k.Server, User: "local", Store: granted,
		Config: oauthuser.Config{ClientID: "c", AuthURL: "http://127.0.0.1:1/authorize", TokenURL: "http://127.0.0.1:1/token", Resource: k.Server}}
	defer r2.Close()
	for range 100 {
		if v, err := r2.Authorization(ctx); err != nil || v != "Bearer at-1" {
			t.Fatalf("with a grant: %q %v", v, err)
		}
	}
	if n := granted.gets.Load(); n > 2 {
		t.Errorf("100 requests with a fresh grant read the store %d times, want at most 2", n)
	}
}
