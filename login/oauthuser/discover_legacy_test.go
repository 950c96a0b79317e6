package oauthuser_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// TestLegacyFallbackOnlyOn404: a resource server that publishes no
// protected-resource metadata (404 at both well-known locations) is taken
// for one of MCP 2025-03-26, its authorization server at its own origin;
// one whose metadata location fails otherwise (503) gets that failure
// reported, not a consent at its origin.
func TestLegacyFallbackOnlyOn404(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
	}{{"absent", http.StatusNotFound}, {"failing", http.StatusServiceUnavailable}} {
		t.Run(c.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource") {
					w.WriteHeader(c.status)
					return
				}
				http.NotFound(w, r)
			}))
			defer ts.Close()
			m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}, LockDir: t.TempDir()}
			if err := m.AddServer("s", oauthuser.Config{ClientID: "c", Resource: ts.URL + "/mcp", RedirectURL: "http://127.0.0.1:1/callback"}); err != nil {
				t.Fatal(err)
			}
			_, err := m.Token(context.Background(), "u", "s")
			var cr *oauthuser.ConsentRequired
			switch c.status {
			case http.StatusNotFound:
				if !errors.As(err, &cr) || !strings.HasPrefix(cr.URL, ts.URL+"/authorize?") {
					t.Errorf("no metadata: %v, want a consent at %s/authorize (the 2025-03-26 default)", err, ts.URL)
				}
			default:
				if errors.As(err, &cr) || err == nil || !strings.Contains(err.Error(), "bad status 503") || !strings.Contains(err.Error(), "find the authorization server") {
					t.Errorf("metadata location answering 503: %v, want that failure reported, no consent", err)
				}
			}
		})
	}
}

// TestLegacyMetadataDuplicateMembers: the metadata a 2025-03-26 server
// publishes at its origin is read as every other metadata document is: a
// member given twice (an authorization endpoint the reader would take
// from either copy) is refused, and no consent link is made; the same
// document without the second copy gives a consent at its endpoint.
func TestLegacyMetadataDuplicateMembers(t *testing.T) {
	for _, dup := range []bool{false, true} {
		ts := httptest.NewServer(nil)
		extra := ""
		if dup {
			extra = `,"authorization_endpoint":"https://elsewhere.example/authorize"`
		}
		ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/oauth-authorization-server" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"issuer":"` + ts.URL + `","authorization_endpoint":"` + ts.URL + `/a","token_endpoint":"` + ts.URL + `/t"` + extra + `}`))
		})
		m := &oauthuser.Manager{Store: &oauthuser.MemoryStore{}, LockDir: t.TempDir()}
		if err := m.AddServer("s", oauthuser.Config{ClientID: "c", Resource: ts.URL + "/mcp", RedirectURL: "http://127.0.0.1:1/callback"}); err != nil {
			t.Fatal(err)
		}
		_, err := m.Token(context.Background(), "u", "s")
		ts.Close()
		var cr *oauthuser.ConsentRequired
		if !dup && (!errors.As(err, &cr) || !strings.HasPrefix(cr.URL, ts.URL+"/a?")) {
			t.Errorf("legacy metadata: %v, want a consent at %s/a", err, ts.URL)
		}
		if dup && (errors.As(err, &cr) || err == nil || !strings.Contains(err.Error(), "duplicate")) {
			t.Errorf("legacy metadata naming authorization_endpoint twice: %v, want it refused as a duplicate, no consent", err)
		}
	}
}
