package govern

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/login"
)

// identityFixture is a sandboxed home with a config profile and a stored
// login whose access token is fresh (or not). Its token store fails every
// call: the login is stored in the file, and no test touches the keyring.
func identityFixture(tb testing.TB, expiry time.Time, audience []string) *LocalLogin {
	tb.Helper()
	home := tb.TempDir()
	env := map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "cfg"), "XDG_STATE_HOME": filepath.Join(home, "state"),
		"MCPGOV_MANAGED_CONFIG": filepath.Join(home, "managed.toml"),
	}
	cfg := `[profiles.default]
issuer = "http://127.0.0.1:1/dex"
client_id = "mcpgov-cli"
gateway_url = "https://gateway.example.com/mcp"
gateway_audience = "mcpgov-gateway"
`
	must(tb, os.MkdirAll(filepath.Join(env["XDG_CONFIG_HOME"], "mcpgov"), 0o755))
	must(tb, os.WriteFile(filepath.Join(env["XDG_CONFIG_HOME"], "mcpgov", "config.toml"), []byte(cfg), 0o644))
	s := login.Session{
		Profile: "default", Kind: login.KindOIDC, Issuer: "http://127.0.0.1:1/dex", ClientID: "mcpgov-cli",
		AccessToken: "at-" + strings.Repeat("x", 800), IDToken: strings.Repeat("y", 900), Expiry: expiry,
		Audience: audience, Storage: login.StorageFile, Secret: "rt",
		Identity: login.Identity{Subject: "sub-1", Email: "alice@example.com", Name: "Alice", Groups: []string{"eng", "mcp-admins"}, Issuer: "http://127.0.0.1:1/dex"},
	}
	b, _ := json.Marshal(s)
	e := Env{Getenv: func(k string) string { return env[k] }, Now: time.Now}
	dir, err := LoginDir(e)
	must(tb, err)
	must(tb, os.MkdirAll(dir, 0o700))
	must(tb, os.WriteFile(filepath.Join(dir, "default.json"), b, 0o600))
	c, err := LoadConfigs(e)
	must(tb, err)
	return &LocalLogin{Env: e, Configs: c, Secrets: noKeyring{}}
}

// noKeyring is a token store that is never there.
type noKeyring struct{}

func (noKeyring) Get(string, string) (string, error) { return "", login.ErrKeyringUnavailable }
func (noKeyring) Set(string, string, string) error   { return login.ErrKeyringUnavailable }
func (noKeyring) Delete(string, string) error        { return login.ErrKeyringUnavailable }

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func TestShimIdentityFresh(t *testing.T) {
	f := identityFixture(t, time.Now().Add(time.Hour), []string{"mcpgov-gateway"})
	id, err := f.Identity(context.Background())
	if err != nil || id.Method != "oidc" || id.Subject != "sub-1" || len(id.Groups) != 2 || id.Issuer == "" {
		t.Fatalf("identity = %+v, %v", id, err)
	}
}

func TestShimIdentityNeedsLogin(t *testing.T) {
	// Expired, and the issuer (port 1) is down: no refresh possible.
	f := identityFixture(t, time.Now().Add(-time.Hour), nil)
	id, err := f.Identity(context.Background())
	var loginErr *LoginError
	if id.Method != "none" || !errors.As(err, &loginErr) || !loginErr.NeedsLogin || !strings.Contains(err.Error(), "run `mcpgov login`") ||
		!strings.Contains(err.Error(), "cannot reach the identity provider") {
		t.Fatalf("identity = %+v, err = %v", id, err)
	}
	f.Env.Getenv = func(k string) string {
		if k == "XDG_STATE_HOME" {
			return t.TempDir()
		}
		return ""
	}
	f.Configs = Configs{}
	if id, err := f.Identity(context.Background()); id.Method != "none" || !strings.Contains(err.Error(), "not logged in") {
		t.Fatalf("not logged in: %+v, %v", id, err)
	}
}

func TestShimUpstreamHeaders(t *testing.T) {
	ctx := context.Background()
	f := identityFixture(t, time.Now().Add(time.Hour), []string{"mcpgov-gateway", "mcpgov-cli"})
	for _, u := range []string{"https://gateway.example.com/mcp", "HTTPS://Gateway.example.com:443/mcp/"} {
		h, err := f.UpstreamHeaders(ctx, u)
		if err != nil || !strings.HasPrefix(h.Get("Authorization"), "Bearer at-") {
			t.Errorf("%s: headers %v, %v", u, h, err)
		}
	}
	for _, u := range []string{"https://evil.example.com/mcp", "https://gateway.example.com/other", "http://gateway.example.com/mcp", "https://gateway.example.com:8443/mcp"} {
		if h, err := f.UpstreamHeaders(ctx, u); h != nil || err != nil {
			t.Errorf("%s got the user's token: %v, %v", u, h, err)
		}
	}
	f = identityFixture(t, time.Now().Add(time.Hour), []string{"mcpgov-cli"})
	if _, err := f.UpstreamHeaders(ctx, "https://gateway.example.com/mcp"); !errors.Is(err, login.ErrWrongAudience) {
		t.Errorf("a token for another audience: %v", err)
	}
}

// BenchmarkShimIdentityFresh is the shim's start-up cost for identity when
// the access token is fresh: config files and the session file, no
// network, no keyring.
func BenchmarkShimIdentityFresh(b *testing.B) {
	f := identityFixture(b, time.Now().Add(time.Hour), []string{"mcpgov-gateway"})
	ctx := context.Background()
	for b.Loop() {
		if _, err := f.Identity(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadSessionFile is the floor: reading and decoding the session
// file alone.
func BenchmarkReadSessionFile(b *testing.B) {
	f := identityFixture(b, time.Now().Add(time.Hour), nil)
	dir, _ := LoginDir(f.Env)
	path := filepath.Join(dir, "default.json")
	for b.Loop() {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		var s login.Session
		if err := json.Unmarshal(raw, &s); err != nil {
			b.Fatal(err)
		}
	}
}
