package oauthuser_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/mcpgov/mcpgov/login/oauthuser"
)

func TestErrorAnswer(t *testing.T) {
	for _, c := range []struct{ code, desc, want string }{
		{"invalid_grant", "the code expired", "invalid_grant (the code expired)"},
		{"invalid_grant", "", "invalid_grant"},
		{"", "ignored without a code", "no error code"},
		{"invalid_request", "line\nbreak \x1b[31mred é", "invalid_request (line?break ?[31mred ?)"},
		{"x", strings.Repeat("d", 300), "x (" + strings.Repeat("d", 256) + "...)"},
	} {
		if got := oauthuser.ErrorAnswer(c.code, c.desc); got != c.want {
			t.Errorf("ErrorAnswer(%q, %q) = %q, want %q", c.code, c.desc, got, c.want)
		}
	}
}

// A token endpoint's refusal, as golang.org/x/oauth2 reports it, keeps
// the status, code and description, never the body (which echoes what was
// sent here) or the RetrieveError whose text is the body.
func TestTokenError(t *testing.T) {
	for _, c := range []struct {
		status     int
		body, want string
	}{
		{http.StatusUnauthorized, `{"error":"invalid_client","error_description":"unknown client","echo":"s3cret-value"}`,
			"the token endpoint answered 401 Unauthorized: invalid_client (unknown client)"},
		{http.StatusServiceUnavailable, `down, you sent s3cret-value`, "the token endpoint answered 503 Service Unavailable: no error code"},
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
		}))
		cc := clientcredentials.Config{ClientID: "c", ClientSecret: "s3cret-value", TokenURL: ts.URL}
		_, err := cc.Token(context.Background())
		ts.Close()
		got := oauthuser.TokenError(err)
		var re *oauth2.RetrieveError
		if got == nil || got.Error() != c.want || errors.As(got, &re) || strings.Contains(got.Error(), "s3cret") {
			t.Errorf("TokenError(%v) = %v, want %q and no RetrieveError", err, got, c.want)
		}
	}
	other := errors.New("dial tcp: connection refused")
	if got := oauthuser.TokenError(other); got != other {
		t.Errorf("TokenError(%v) = %v, want it as it is", other, got)
	}
}
