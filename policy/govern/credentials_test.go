package govern

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// Bug guard: with `wrap --gateway` the shim runs `--server ID --url
// GATEWAY/servers/ID/mcp`; the entry's key must not be sent to the
// gateway (nor replace the login's token there). Only the server's own
// URL gets it.
func TestShimCredentialsOnlyForTheServersOwnURL(t *testing.T) {
	s := &catalog.Server{ID: "notes", Launch: catalog.Launch{URL: "https://notes.example/mcp"},
		Auth: catalog.Auth{Type: catalog.AuthAPIKey, Secret: "env:NOTES_KEY", Header: "X-Api-Key"}}
	env := Env{Getenv: func(k string) string {
		return map[string]string{"NOTES_KEY": "k-9a8b7c", "MCPGOV_VAULT": t.TempDir() + "/v.json"}[k]
	}, Home: t.TempDir()}
	for url, want := range map[string]string{
		"https://notes.example/mcp":                 "k-9a8b7c",
		"https://gateway.example/servers/notes/mcp": "",
	} {
		e := &Engine{Config: enforce.Config{Server: s}, URL: url, opts: Options{Env: env}}
		c, err := e.Credentials(context.Background(), nil, false)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		r := httptest.NewRequest(http.MethodPost, url, nil)
		if c.Apply != nil {
			if err := c.Apply(r); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.Header.Get("X-Api-Key"); got != want {
			t.Errorf("%s: X-Api-Key = %q, want %q", url, got, want)
		}
	}
}
