package oauthuser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcpgov/mcpgov/login"
)

// ErrNoClient is what a ClientStore answers when it holds no
// registration for a server.
var ErrNoClient = errors.New("no registered client")

// Registration is a client mcpgov registered itself as (RFC 7591) at an
// authorization server, for one redirect URL. Its secret, when the server
// gave one, is a secret.
type Registration struct {
	Issuer       string `json:"issuer"`
	RedirectURL  string `json:"redirect_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	AuthMethod   string `json:"token_endpoint_auth_method,omitempty"`
}

// ClientStore keeps registrations across runs, so a shim that starts again
// refreshes its grant with the client that got it (a grant is bound to
// its client: a new registration would need a new consent), as
// mcp-remote keeps its client information.
type ClientStore interface {
	GetClient(ctx context.Context, server string) (Registration, error)
	PutClient(ctx context.Context, server string, r Registration) error
}

var _ ClientStore = KeyringStore{}

func clientService(server string) string { return "mcpgov-oauth-client:" + server }

// GetClient implements ClientStore: the keyring item of server's
// registration.
func (s KeyringStore) GetClient(_ context.Context, server string) (Registration, error) {
	raw, err := s.Secrets.Get(clientService(server), "client")
	if errors.Is(err, login.ErrSecretNotFound) {
		return Registration{}, ErrNoClient
	}
	if err != nil {
		return Registration{}, fmt.Errorf("read the registered client for server %q from the keyring: %w", server, err)
	}
	var r Registration
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return Registration{}, fmt.Errorf("the keyring item %q is not a registered client; delete it", clientService(server))
	}
	return r, nil
}

// PutClient implements ClientStore.
func (s KeyringStore) PutClient(_ context.Context, server string, r Registration) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := s.Secrets.Set(clientService(server), "client", string(raw)); err != nil {
		return fmt.Errorf("store the registered client for server %q in the keyring: %w", server, err)
	}
	return nil
}
