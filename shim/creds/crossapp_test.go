package creds

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/login/vault"
)

// cross_app wiring: the caller's token goes to the identity provider as
// the ID token, with the server's authorization server as audience and
// the launch URL as resource; the ID-JAG goes to the authorization server
// as mcpgov's client there (Basic); its token reaches the upstream; the
// exchange is recorded without a token. The conformance scenario
// (login/oauthuser) proves the protocol against the reference harness.
func TestCrossAppWiring(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resource := srv.URL + "/mcp"
	meta := func(issuer string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "token_endpoint": issuer + "/token",
				"authorization_endpoint": issuer + "/authorize", "response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"},
				"grant_types_supported": []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}})
		}
	}
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"resource": resource, "authorization_servers": []string{srv.URL + "/as"}})
	})
	mux.HandleFunc("/.well-known/oauth-authorization-server/as", meta(srv.URL+"/as"))
	mux.HandleFunc("/idp/.well-known/openid-configuration", meta(srv.URL+"/idp")) // OpenID discovery
	mux.HandleFunc("/idp/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		got["subject"], got["audience"], got["resource"], got["idp_client"] = r.PostForm.Get("subject_token"), r.PostForm.Get("audience"), r.PostForm.Get("resource"), r.PostForm.Get("client_id")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"the-jag","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag","token_type":"N_A"}`))
	})
	mux.HandleFunc("/as/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		user, pass, _ := r.BasicAuth()
		mu.Lock()
		got["assertion"], got["as_client"] = r.PostForm.Get("assertion"), user+":"+pass
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"server-token","token_type":"Bearer","expires_in":300}`))
	})
	var events []vault.Event
	in := &Injector{Secrets: &secretref.Resolver{Getenv: func(k string) string { return map[string]string{"AS_SECRET": "as-secret"}[k] }},
		Audit: func(e vault.Event) { events = append(events, e) }}
	s := &catalog.Server{ID: "notes", Launch: catalog.Launch{URL: resource}, Auth: catalog.Auth{Type: catalog.AuthCrossApp, Issuer: srv.URL + "/idp",
		ClientID: "mcpgov-at-idp", ServerClientID: "mcpgov-at-as", ServerClientSecret: "env:AS_SECRET"}}
	c, err := in.For(context.Background(), Request{Server: s, User: "alice@example.com", Inbound: inbound(map[string][]string{"Authorization": {"Bearer alice-id-token"}})})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, resource, nil)
	if err := c.Apply(r); err != nil {
		t.Fatal(err)
	}
	if h := r.Header.Get("Authorization"); h != "Bearer server-token" {
		t.Errorf("upstream Authorization = %q", h)
	}
	want := map[string]string{"subject": "alice-id-token", "audience": srv.URL + "/as", "resource": resource, "idp_client": "mcpgov-at-idp",
		"assertion": "the-jag", "as_client": "mcpgov-at-as:as-secret"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(events) != 1 || events[0].Action != ActionExchange || events[0].Name != "cross_app" ||
		strings.Contains(events[0].Reason, "the-jag") || strings.Contains(events[0].Reason, "server-token") || strings.Contains(events[0].Reason, "alice-id-token") {
		t.Errorf("records: %+v", events)
	}

	// server_issuer pins the authorization server the secret goes to:
	// the same metadata naming another one is refused before any grant.
	mu.Lock()
	clear(got)
	mu.Unlock()
	s.Auth.ServerIssuer = "https://as.example"
	if _, err := in.For(context.Background(), Request{Server: s, User: "alice@example.com", Inbound: inbound(map[string][]string{"Authorization": {"Bearer alice-id-token"}})}); err == nil ||
		!strings.Contains(err.Error(), "not https://as.example (server_issuer)") {
		t.Fatalf("metadata naming another authorization server than server_issuer: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["as_client"] != "" || got["subject"] != "" {
		t.Fatalf("a grant was made though the metadata named another authorization server: %v", got)
	}
	// Pinned to the one the metadata names, it works.
	s.Auth.ServerIssuer = srv.URL + "/as"
	mu.Unlock()
	_, err = in.For(context.Background(), Request{Server: s, User: "alice@example.com", Inbound: inbound(map[string][]string{"Authorization": {"Bearer alice-id-token"}})})
	mu.Lock()
	if err != nil || got["as_client"] != "mcpgov-at-as:as-secret" {
		t.Fatalf("pinned to the metadata's authorization server: %v, %v", err, got)
	}
}
