package creds

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/login/vault"
)

// A token exchange sends the subject token type and the connector the
// catalog names; a token issued for another audience than the one asked
// for is not sent upstream; each exchange and refusal is recorded, never
// with a token.
func TestTokenExchangeChecks(t *testing.T) {
	jwtFor := func(aud string) string {
		p := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"` + aud + `","sub":"alice"}`))
		return "eyJhbGciOiJub25lIn0." + p + ".sig"
	}
	var form map[string][]string
	issued := jwtFor("up")
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.PostForm
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("connector_id") == "nope" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"Requested connector does not exist."}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"` + issued + `","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"bearer"}`))
	}))
	defer ts.Close()
	var events []vault.Event
	in := &Injector{Secrets: &secretref.Resolver{Getenv: func(string) string { return "cs-1" }}, Audit: func(e vault.Event) { events = append(events, e) }}
	auth := catalog.Auth{Type: catalog.AuthTokenExchange, TokenURL: ts.URL, ClientID: "gw", ClientSecret: "env:CS", Audience: "up",
		SubjectTokenType: "id_token", ConnectorID: "idp"}
	call := func(a catalog.Auth) error {
		_, err := in.For(context.Background(), Request{Server: &catalog.Server{ID: "s", Auth: a}, User: "alice@example.com",
			Inbound: inbound(map[string][]string{"Authorization": {"Bearer caller-tok"}})})
		return err
	}
	if err := call(auth); err != nil {
		t.Fatal(err)
	}
	if form["subject_token_type"][0] != "urn:ietf:params:oauth:token-type:id_token" || form["connector_id"][0] != "idp" {
		t.Errorf("exchange request: %v", form)
	}
	if len(events) != 1 || events[0].Action != ActionExchange || events[0].User != "alice@example.com" || !strings.Contains(events[0].Reason, "for audience up") {
		t.Errorf("records after an exchange: %+v", events)
	}

	issued = jwtFor("someone-else")
	err := call(auth)
	if err == nil || !strings.Contains(err.Error(), `gave a token for "someone-else", not for the audience "up"`) {
		t.Fatalf("a token for another audience: %v", err)
	}
	// An opaque token, or a JWT with no aud, cannot be checked against
	// the audience asked for: refused, with a hint, and recorded.
	for _, tok := range []string{"opaque-777", "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice"}`)) + ".sig"} {
		issued = tok
		err = call(auth)
		if err == nil || !strings.Contains(err.Error(), `gave a token whose audience cannot be read`) || !strings.Contains(err.Error(), `the audience "up"`) {
			t.Fatalf("a token with no readable audience: %v", err)
		}
		if ce, ok := err.(*Error); !ok || !strings.Contains(ce.Hint, "drop audience") {
			t.Errorf("hint for an unreadable audience: %#v", err)
		}
	}
	if n := len(events); n != 4 || events[2].Action != vault.ActionRefused || events[3].Action != vault.ActionRefused || !strings.Contains(events[3].Reason, "audience cannot be read") {
		t.Fatalf("records after unreadable audiences: %+v", events)
	}
	// Without an audience in the catalog, no check is promised: an opaque
	// token is sent.
	noAud := auth
	noAud.Audience, noAud.Resource = "", "https://up.example"
	if err := call(noAud); err != nil {
		t.Fatalf("an opaque token with no audience asked: %v", err)
	}
	issued = jwtFor("up")
	bad := auth
	bad.ConnectorID = "nope"
	err = call(bad)
	if err == nil || !strings.Contains(err.Error(), "invalid_request (Requested connector does not exist.)") || !strings.Contains(err.Error(), `for audience "up"`) {
		t.Fatalf("an unknown connector: %v", err)
	}
	if ce, ok := err.(*Error); !ok || !strings.Contains(ce.Hint, "connector_id (nope)") {
		t.Errorf("hint for an unknown connector: %#v", err)
	}
	if len(events) != 6 || events[1].Action != vault.ActionRefused || events[5].Action != vault.ActionRefused {
		t.Fatalf("records after the refusals: %+v", events)
	}
	for _, e := range events {
		if strings.Contains(e.Reason, "caller-tok") || strings.Contains(e.Reason, "eyJ") || strings.Contains(e.Reason, "opaque-777") {
			t.Errorf("a token in a record: %+v", e)
		}
	}
}
