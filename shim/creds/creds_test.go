package creds

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login/secretref"
)

func inbound(h map[string][]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	for k, vs := range h {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func TestParseHeadersStrict(t *testing.T) {
	ok, err := ParseHeaders(inbound(map[string][]string{HeadersHeader: {`{"a": {"authorization": "Bearer x"}, "b": {}}`}}))
	if err != nil || ok["a"]["Authorization"] != "Bearer x" {
		t.Fatalf("ParseHeaders = %v, %v", ok, err)
	}
	for name, val := range map[string][]string{
		"duplicate server":   {`{"a": {"X-K": "1"}, "a": {"X-K": "2"}}`},
		"duplicate header":   {`{"a": {"X-K": "1", "x-k": "2"}}`},
		"two header lines":   {`{}`, `{}`},
		"forbidden header":   {`{"a": {"Host": "evil"}}`},
		"protocol header":    {`{"a": {"Mcp-Session-Id": "s"}}`},
		"not strings":        {`{"a": {"X-K": 1}}`},
		"bad name":           {`{"a": {"X K": "v"}}`},
		"control in value":   {`{"a": {"X-K": "v\r\nX-Evil: 1"}}`},
		"not json":           {`{"a": `},
		"secret not echoed ": {`{"a": {"X-K": "tok-SECRET-123"}, "a": 5}`},
	} {
		_, err := ParseHeaders(inbound(map[string][]string{HeadersHeader: val}))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the error echoes a value: %v", name, err)
		}
	}
}

func jwt(claims any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

func TestAudiences(t *testing.T) {
	for tok, want := range map[string]string{
		jwt(map[string]any{"aud": "x"}):                "x",
		jwt(map[string]any{"aud": []string{"x", "y"}}): "x,y",
	} {
		got, err := audiences(tok)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("audiences = %v, %v; want %s", got, err, want)
		}
	}
	for _, tok := range []string{"opaque-token", jwt(map[string]any{"sub": "a"}), "a.!!!.c"} {
		if _, err := audiences(tok); err == nil {
			t.Errorf("audiences(%q) accepted", tok)
		}
	}
}

func TestUserOf(t *testing.T) {
	for id, want := range map[*audit.Identity]string{
		{Method: "jwt", Subject: "s", Email: "a@x"}: "a@x",
		{Method: "pat", Subject: "s"}:               "s",
		{Method: "anonymous", Subject: "s"}:         "",
		{Method: "none"}:                            "",
	} {
		if got := UserOf(*id); got != want {
			t.Errorf("UserOf(%+v) = %q, want %q", *id, got, want)
		}
	}
}

// A key's place must fit the transport: env for stdio, header or query
// for HTTP; a mismatch refuses rather than dropping the key.
func TestPlaceFitsTransport(t *testing.T) {
	in := &Injector{Secrets: &secretref.Resolver{Getenv: func(string) string { return "k-123" }}}
	ctx := context.Background()
	envKey := &catalog.Server{ID: "s", Auth: catalog.Auth{Type: catalog.AuthAPIKey, Secret: "env:K", Env: "K"}}
	var ce *Error
	if _, err := in.For(ctx, Request{Server: envKey}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "needs a stdio server") {
		t.Fatalf("env key over HTTP: %v", err)
	}
	hdrKey := &catalog.Server{ID: "s", Auth: catalog.Auth{Type: catalog.AuthAPIKey, Secret: "env:K", Header: "X-K"}}
	if _, err := in.For(ctx, Request{Server: hdrKey, Stdio: true}); err == nil {
		t.Fatal("header key for a stdio server accepted")
	}
	perUser := &catalog.Server{ID: "s", Auth: catalog.Auth{Type: catalog.AuthAPIKeyPerUser, Header: "X-K"}}
	if _, err := in.For(ctx, Request{Server: perUser}); err == nil || !strings.Contains(err.Error(), "anonymous") {
		t.Fatalf("per-user key for nobody: %v", err)
	}
}

// Token exchange (RFC 8693): the caller's token goes to the token
// endpoint as subject_token with the server's audience, and what comes
// back — not the caller's token — reaches the upstream.
func TestTokenExchange(t *testing.T) {
	exchanged := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"https://up.example"}`)) + ".sig"
	var form map[string][]string
	var user, pass string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.PostForm
		user, pass, _ = r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"` + exchanged + `","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer"}`))
	}))
	defer ts.Close()
	in := &Injector{Secrets: &secretref.Resolver{Getenv: func(string) string { return "cs-1" }}}
	s := &catalog.Server{ID: "s", Auth: catalog.Auth{Type: catalog.AuthTokenExchange, TokenURL: ts.URL, ClientID: "gw", ClientSecret: "env:CS", Audience: "https://up.example"}}
	c, err := in.For(context.Background(), Request{Server: s, Inbound: inbound(map[string][]string{"Authorization": {"Bearer caller-tok"}})})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "http://up.example/mcp", nil)
	if err := c.Apply(r); err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+exchanged {
		t.Fatalf("upstream Authorization = %q", got)
	}
	if form["subject_token"][0] != "caller-tok" || form["audience"][0] != "https://up.example" ||
		form["grant_type"][0] != "urn:ietf:params:oauth:grant-type:token-exchange" || user != "gw" || pass != "cs-1" {
		t.Fatalf("exchange request: form %v, client %s", form, user)
	}
	if _, err := in.For(context.Background(), Request{Server: s}); err == nil {
		t.Fatal("token exchange without a caller token accepted")
	}
}
