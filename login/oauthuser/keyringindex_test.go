package oauthuser_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// mapSecrets is a SecretStore in memory; failDelete makes Delete of one
// service fail.
type mapSecrets struct {
	m          map[[2]string]string
	failDelete string
}

func (s *mapSecrets) Get(service, user string) (string, error) {
	v, ok := s.m[[2]string{service, user}]
	if !ok {
		return "", login.ErrSecretNotFound
	}
	return v, nil
}

func (s *mapSecrets) Set(service, user, secret string) error {
	s.m[[2]string{service, user}] = secret
	return nil
}

func (s *mapSecrets) Delete(service, user string) error {
	if service == s.failDelete {
		return errors.New("locked")
	}
	delete(s.m, [2]string{service, user})
	return nil
}

// TestIndexedKeyringForget: every server the shim stored a grant or a
// registered client for is noted once; Forget removes both items of each
// and the index; one whose removal fails stays in the index, reported.
func TestIndexedKeyringForget(t *testing.T) {
	ctx := context.Background()
	sec := &mapSecrets{m: map[[2]string]string{}}
	kr := oauthuser.IndexedKeyring{KeyringStore: oauthuser.KeyringStore{Secrets: sec}, Index: filepath.Join(t.TempDir(), "shim-oauth", "servers")}
	a, b := "https://a.example/mcp", "https://b.example/mcp"
	for range 2 {
		if err := kr.Put(ctx, oauthuser.Key{User: "local", Server: a}, oauthuser.Token{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := kr.PutClient(ctx, a, oauthuser.Registration{ClientID: "ca"}); err != nil {
		t.Fatal(err)
	}
	if err := kr.PutClient(ctx, b, oauthuser.Registration{ClientID: "cb"}); err != nil {
		t.Fatal(err)
	}
	if got, err := kr.Servers(); err != nil || !slices.Equal(got, []string{a, b}) {
		t.Fatalf("index: %q %v", got, err)
	}
	sec.failDelete = "mcpgov-oauth-client:" + b
	done, err := kr.Forget(ctx, "local")
	if !slices.Equal(done, []string{a}) || err == nil {
		t.Errorf("Forget with b's client locked: %q %v, want a done and an error", done, err)
	}
	if _, err := kr.Get(ctx, oauthuser.Key{User: "local", Server: a}); !errors.Is(err, oauthuser.ErrNoToken) {
		t.Errorf("a's grant after Forget: %v", err)
	}
	if _, err := kr.GetClient(ctx, a); !errors.Is(err, oauthuser.ErrNoClient) {
		t.Errorf("a's client after Forget: %v", err)
	}
	if got, _ := kr.Servers(); !slices.Equal(got, []string{b}) {
		t.Errorf("index after a partial Forget: %q, want only b", got)
	}
	sec.failDelete = ""
	if done, err := kr.Forget(ctx, "local"); err != nil || !slices.Equal(done, []string{b}) {
		t.Errorf("second Forget: %q %v", done, err)
	}
	if len(sec.m) != 0 {
		t.Errorf("keyring items left: %v", sec.m)
	}
	if got, err := kr.Servers(); err != nil || len(got) != 0 {
		t.Errorf("index after Forget: %q %v", got, err)
	}
}
