package govern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/mcpgov/mcpgov/policy/state"
)

// SharedTokenStore is a TokenStore in the store the gateway's replicas
// share: a token created or revoked through any replica, or by `mcpgov
// gateway token` pointed at the same store, counts on every replica at
// the next request, since each check reads the store (one GET by the
// token's hash). Last use is not tracked: a write per request to a
// store every replica shares is a cost the file store does not have, and
// the audit trail says when each token was used.
type SharedTokenStore struct {
	Store *state.Redis
	Now   func() time.Time
	Rand  io.Reader
}

var _ TokenStore = (*SharedTokenStore)(nil)

func (s *SharedTokenStore) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Create implements TokenStore.
func (s *SharedTokenStore) Create(ctx context.Context, spec TokenSpec) (string, IssuedToken, error) {
	raw, t, err := mintToken(spec, s.Rand, s.now())
	if err != nil {
		return "", IssuedToken{}, err
	}
	b, err := jsonv2.Marshal(t)
	if err != nil {
		return "", IssuedToken{}, err
	}
	if err := s.Store.PutToken(ctx, t.ID, t.Hash, b); err != nil {
		return "", IssuedToken{}, fmt.Errorf("gateway tokens: %w", err)
	}
	return raw, t, nil
}

// List implements TokenStore.
func (s *SharedTokenStore) List(ctx context.Context) ([]IssuedToken, error) {
	recs, err := s.Store.Tokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("gateway tokens: %w", err)
	}
	out := make([]IssuedToken, 0, len(recs))
	for _, b := range recs {
		t, err := decodeToken(b)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b IssuedToken) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Revoke implements TokenStore.
func (s *SharedTokenStore) Revoke(ctx context.Context, id string) (IssuedToken, error) {
	var out IssuedToken
	err := s.Store.UpdateToken(ctx, id, func(b []byte) ([]byte, error) {
		t, err := decodeToken(b)
		if err != nil {
			return nil, err
		}
		if t.Revoked != nil {
			return nil, fmt.Errorf("token %s was already revoked at %s", id, t.Revoked.Format(time.RFC3339))
		}
		now := s.now()
		t.Revoked = &now
		out = t
		return jsonv2.Marshal(t)
	})
	if errors.Is(err, state.ErrNoToken) {
		return out, fmt.Errorf("%w: no token with id %q (see `mcpgov gateway token list`)", ErrTokenUnknown, id)
	}
	if errors.Is(err, state.ErrUnavailable) {
		return out, fmt.Errorf("gateway tokens: %w", err)
	}
	return out, err
}

// Verify implements TokenStore. A store that cannot be reached refuses
// the token (fail closed: a revoked token must not pass because the
// revocation could not be read).
func (s *SharedTokenStore) Verify(ctx context.Context, raw string) (IssuedToken, error) {
	b, err := s.Store.TokenByHash(ctx, tokenHash(raw))
	if err != nil {
		return IssuedToken{}, fmt.Errorf("gateway tokens: the token cannot be checked: %w", err)
	}
	if b == nil {
		return IssuedToken{}, fmt.Errorf("%w: the token is not one this gateway issued", ErrTokenUnknown)
	}
	t, err := decodeToken(b)
	if err != nil {
		return IssuedToken{}, err
	}
	now := s.now()
	switch {
	case t.Revoked != nil:
		return t, fmt.Errorf("%w: %s token %s (%s) was revoked at %s", ErrTokenRevoked, t.Kind, t.ID, t.Subject, t.Revoked.Format(time.RFC3339))
	case !now.Before(t.Expires):
		return t, fmt.Errorf("%w: %s token %s (%s) expired at %s", ErrTokenExpired, t.Kind, t.ID, t.Subject, t.Expires.Format(time.RFC3339))
	}
	return t, nil
}

// decodeToken reads one stored record, exactly: it decides who a caller
// is.
func decodeToken(b []byte) (IssuedToken, error) {
	var t IssuedToken
	if err := jsonv2.Unmarshal(b, &t, jsonv2.RejectUnknownMembers(true)); err != nil {
		return t, fmt.Errorf("gateway tokens: a record in the shared store cannot be read: %w", err)
	}
	return t, nil
}
