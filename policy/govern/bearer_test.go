package govern

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login"
)

type fakeVerifier map[string]login.Identity

func (f fakeVerifier) VerifyToken(_ context.Context, raw string) (login.Identity, time.Time, error) {
	if id, ok := f[raw]; ok {
		return id, time.Now().Add(time.Hour), nil
	}
	return login.Identity{}, time.Time{}, errors.New("signature invalid")
}

// TestBearerToken: each request's token is verified on its own; none, or
// a bad one, is an error and never an anonymous identity that passes.
func TestBearerToken(t *testing.T) {
	v := fakeVerifier{"good": {Subject: "sub-1", Email: "ann@example.com", Groups: []string{"eng"}, Issuer: "https://idp"}}
	ctx := context.Background()
	id, err := BearerToken{Verifier: v, Token: "good"}.Identity(ctx)
	if err != nil || id.Subject != "sub-1" || id.Method != "token" || !id.Authenticated() {
		t.Fatalf("good: %+v, %v", id, err)
	}
	if id, err := (BearerToken{Verifier: v}).Identity(ctx); !errors.Is(err, ErrNoToken) || id.Authenticated() {
		t.Fatalf("none: %+v, %v", id, err)
	}
	if id, err := (BearerToken{Verifier: v, Token: "forged"}).Identity(ctx); err == nil || id.Authenticated() {
		t.Fatalf("forged: %+v, %v", id, err)
	}
	if !(BearerToken{}).Required() {
		t.Fatal("a bearer identity must be required")
	}
}
