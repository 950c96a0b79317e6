package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/vault"
)

// oauthClientKey prefixes the clients the gateway registered itself as
// (RFC 7591), one key per upstream server, by a hash of its id.
const oauthClientKey = Prefix + "oauth-client:"

// Clients is the store's oauthuser.ClientStore: the clients the replicas
// registered dynamically at upstream authorization servers, so replica B
// uses the client replica A registered (a grant is bound to the client
// that got it: B refreshing A's grant with a client of its own would be
// refused, and the person asked to consent again). A registration holds
// the client's secret: each is sealed with the vault's key and bound to
// its server.
type Clients struct {
	r      *Redis
	sealer *vault.Sealer
}

var _ oauthuser.ClientStore = Clients{}

// Clients is the registered clients' store of the vault's Redis, sealing
// each with the vault's key.
func (v *Vault) Clients() Clients { return Clients{r: v.r, sealer: v.sealer} }

func clientHash(server string) string {
	h := sha256.Sum256([]byte(server))
	return hex.EncodeToString(h[:16])
}

// clientSealKey is what a sealed registration is bound to: its server's
// hash.
func clientSealKey(hash string) vault.Key {
	return vault.Key{User: "oauth-client", Server: hash, Name: "registration"}
}

// GetClient implements oauthuser.ClientStore.
func (c Clients) GetClient(ctx context.Context, server string) (oauthuser.Registration, error) {
	hash := clientHash(server)
	b, err := c.r.c.Get(ctx, oauthClientKey+hash).Bytes()
	if errors.Is(err, redis.Nil) {
		return oauthuser.Registration{}, oauthuser.ErrNoClient
	}
	if err != nil {
		return oauthuser.Registration{}, c.r.unavailable(err)
	}
	var se vault.Sealed
	if err := strictUnmarshal(b, &se); err != nil {
		return oauthuser.Registration{}, fmt.Errorf("the registered client of server %q in the store is damaged: %w", server, err)
	}
	if se.Key != clientSealKey(hash) || se.Kind != "oauth-client" {
		return oauthuser.Registration{}, fmt.Errorf("the registered client of server %q in the store is bound to another server: %w", server, vault.ErrTampered)
	}
	e, err := c.sealer.Open(se)
	if err != nil {
		return oauthuser.Registration{}, fmt.Errorf("the registered client of server %q in the store: %w", server, err)
	}
	var reg oauthuser.Registration
	if err := strictUnmarshal([]byte(e.Secret), &reg); err != nil {
		return oauthuser.Registration{}, fmt.Errorf("the registered client of server %q in the store is damaged: %w", server, err)
	}
	return reg, nil
}

// PutClient implements oauthuser.ClientStore.
func (c Clients) PutClient(ctx context.Context, server string, reg oauthuser.Registration) error {
	hash := clientHash(server)
	raw, err := json.Marshal(reg)
	if err != nil {
		return err
	}
	se, err := c.sealer.Seal(vault.Entry{Key: clientSealKey(hash), Kind: "oauth-client", Secret: string(raw)})
	if err != nil {
		return err
	}
	b, err := json.Marshal(se)
	if err != nil {
		return err
	}
	if err := c.r.c.Set(ctx, oauthClientKey+hash, b, 0).Err(); err != nil {
		return c.r.unavailable(err)
	}
	return nil
}
