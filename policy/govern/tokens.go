package govern

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/mcpgov/mcpgov/audit"
)

// Token kinds.
const (
	TokenPersonal = "personal" // issued for a person (--user)
	TokenService  = "service"  // a virtual account for an agent (--service)
)

// Token prefixes: a leaked token is recognisable (secret scanners), and
// the gateway tells its own tokens from JWTs without parsing.
const (
	personalPrefix = "mcpgov_pat_"
	servicePrefix  = "mcpgov_svc_"
)

// Errors of gateway-issued tokens.
var (
	ErrTokenUnknown = errors.New("unknown token")
	ErrTokenRevoked = errors.New("token revoked")
)

// IssuedToken is what a token store keeps of one token: never the token
// itself, only its SHA-256. The tokens carry 256 random bits, so a fast
// hash is enough: nobody can search that space, which is what slow
// password hashes (bcrypt, argon2) guard against for guessable secrets,
// and each request's check costs microseconds instead of tens of
// milliseconds.
type IssuedToken struct {
	ID       string     `json:"id"`
	Kind     string     `json:"kind"`
	Subject  string     `json:"subject"` // the user, or the service's name
	Groups   []string   `json:"groups,omitempty"`
	Created  time.Time  `json:"created"`
	Expires  time.Time  `json:"expires"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	Hash     string     `json:"sha256"`
}

// Identity is the token's identity as records carry it.
func (t IssuedToken) Identity(issuer string) audit.Identity {
	method := "pat"
	if t.Kind == TokenService {
		method = "service"
	}
	return audit.Identity{Subject: t.Subject, Groups: t.Groups, Issuer: issuer, Method: method}
}

// TokenSpec is a token to create.
type TokenSpec struct {
	Kind    string
	Subject string
	Groups  []string
	TTL     time.Duration
}

// TokenStore keeps the gateway's personal and service tokens. The file
// store is one; a shared store (a database) for several gateway replicas
// implements the same interface.
type TokenStore interface {
	// Create makes a token and returns it (the only time it exists in
	// clear) with its record.
	Create(ctx context.Context, spec TokenSpec) (string, IssuedToken, error)
	// List returns every token's record, oldest first.
	List(ctx context.Context) ([]IssuedToken, error)
	// Revoke revokes the token with id.
	Revoke(ctx context.Context, id string) (IssuedToken, error)
	// Verify returns the record of a live token and notes its use; the
	// error wraps ErrTokenUnknown, ErrTokenRevoked or ErrTokenExpired.
	Verify(ctx context.Context, token string) (IssuedToken, error)
}

// IsIssuedToken reports whether raw has the form of a token the gateway
// issues (not a JWT).
func IsIssuedToken(raw string) bool {
	return strings.HasPrefix(raw, personalPrefix) || strings.HasPrefix(raw, servicePrefix)
}

// FileTokenStore is a TokenStore in one JSON file (tokens.json under the
// state directory's gateway), written atomically under an exclusive lock
// so that `mcpgov gateway token` and a running gateway share it: the
// gateway rereads it when it changed, so a new or revoked token counts at
// once. Last use is written at most once a minute per token.
type FileTokenStore struct {
	Path string
	Now  func() time.Time
	Rand io.Reader

	mu      sync.Mutex
	stamp   fileStamp
	tokens  []IssuedToken
	pending map[string]time.Time // last uses not yet written
}

var _ TokenStore = (*FileTokenStore)(nil)

type fileStamp struct {
	mod  time.Time
	size int64
}

// TokenStorePath is the file store's path: tokens.json in the state
// directory's gateway.
func TokenStorePath(env Env) (string, error) {
	dir, err := StateDir(env, "gateway")
	if err != nil {
		return "", fmt.Errorf("gateway tokens: %w", err)
	}
	return filepath.Join(dir, "tokens.json"), nil
}

func (s *FileTokenStore) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// mintToken makes a token of spec at now from r (crypto/rand when nil):
// what it returns once in clear, and its record, which keeps only a hash.
func mintToken(spec TokenSpec, r io.Reader, now time.Time) (string, IssuedToken, error) {
	prefix := personalPrefix
	switch spec.Kind {
	case TokenPersonal:
	case TokenService:
		prefix = servicePrefix
	default:
		return "", IssuedToken{}, fmt.Errorf("token kind %q: want personal or service", spec.Kind)
	}
	if spec.TTL <= 0 {
		return "", IssuedToken{}, errors.New("a token needs a positive lifetime")
	}
	if r == nil {
		r = rand.Reader
	}
	secret, id := make([]byte, 32), make([]byte, 6)
	if _, err := io.ReadFull(r, secret); err != nil {
		return "", IssuedToken{}, fmt.Errorf("make token: %w", err)
	}
	if _, err := io.ReadFull(r, id); err != nil {
		return "", IssuedToken{}, fmt.Errorf("make token: %w", err)
	}
	raw := prefix + base64.RawURLEncoding.EncodeToString(secret)
	return raw, IssuedToken{
		ID: hex.EncodeToString(id), Kind: spec.Kind, Subject: spec.Subject, Groups: spec.Groups,
		Created: now, Expires: now.Add(spec.TTL), Hash: tokenHash(raw),
	}, nil
}

// Create implements TokenStore.
func (s *FileTokenStore) Create(_ context.Context, spec TokenSpec) (string, IssuedToken, error) {
	raw, t, err := mintToken(spec, s.Rand, s.now())
	if err != nil {
		return "", IssuedToken{}, err
	}
	err = s.update(func(all []IssuedToken) ([]IssuedToken, error) { return append(all, t), nil })
	if err != nil {
		return "", IssuedToken{}, err
	}
	return raw, t, nil
}

// List implements TokenStore.
func (s *FileTokenStore) List(context.Context) ([]IssuedToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(); err != nil {
		return nil, err
	}
	return slices.Clone(s.tokens), nil
}

// Revoke implements TokenStore.
func (s *FileTokenStore) Revoke(_ context.Context, id string) (IssuedToken, error) {
	var out IssuedToken
	err := s.update(func(all []IssuedToken) ([]IssuedToken, error) {
		for i := range all {
			if all[i].ID == id {
				if all[i].Revoked != nil {
					return nil, fmt.Errorf("token %s was already revoked at %s", id, all[i].Revoked.Format(time.RFC3339))
				}
				now := s.now()
				all[i].Revoked = &now
				out = all[i]
				return all, nil
			}
		}
		return nil, fmt.Errorf("%w: no token with id %q (see `mcpgov gateway token list`)", ErrTokenUnknown, id)
	})
	return out, err
}

// Verify implements TokenStore.
func (s *FileTokenStore) Verify(_ context.Context, raw string) (IssuedToken, error) {
	h := tokenHash(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(); err != nil {
		return IssuedToken{}, err
	}
	for _, t := range s.tokens {
		if t.Hash != h {
			continue
		}
		now := s.now()
		switch {
		case t.Revoked != nil:
			return t, fmt.Errorf("%w: %s token %s (%s) was revoked at %s", ErrTokenRevoked, t.Kind, t.ID, t.Subject, t.Revoked.Format(time.RFC3339))
		case !now.Before(t.Expires):
			return t, fmt.Errorf("%w: %s token %s (%s) expired at %s", ErrTokenExpired, t.Kind, t.ID, t.Subject, t.Expires.Format(time.RFC3339))
		}
		s.noteUse(t, now)
		return t, nil
	}
	return IssuedToken{}, fmt.Errorf("%w: the token is not one this gateway issued", ErrTokenUnknown)
}

// noteUse keeps the token's last use, and writes the file when a use is
// a minute newer than the written one. Called with s.mu held.
func (s *FileTokenStore) noteUse(t IssuedToken, now time.Time) {
	if s.pending == nil {
		s.pending = map[string]time.Time{}
	}
	s.pending[t.ID] = now
	if t.LastUsed != nil && now.Sub(*t.LastUsed) < time.Minute {
		return
	}
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	_ = s.update(func(all []IssuedToken) ([]IssuedToken, error) {
		for i := range all {
			if at, ok := pending[all[i].ID]; ok {
				at := at
				all[i].LastUsed = &at
			}
		}
		return all, nil
	})
	s.mu.Lock()
}

func tokenHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// reload rereads the file when it changed. Called with s.mu held.
func (s *FileTokenStore) reload() error {
	fi, err := os.Stat(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		s.tokens, s.stamp = nil, fileStamp{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("gateway tokens: %w", err)
	}
	st := fileStamp{fi.ModTime(), fi.Size()}
	if st == s.stamp && s.tokens != nil {
		return nil
	}
	all, err := s.read()
	if err != nil {
		return err
	}
	s.tokens, s.stamp = all, st
	return nil
}

type tokenFile struct {
	Version int           `json:"version"`
	Tokens  []IssuedToken `json:"tokens"`
}

func (s *FileTokenStore) read() ([]IssuedToken, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return []IssuedToken{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway tokens: %w", err)
	}
	var f tokenFile
	if err := jsonv2.Unmarshal(b, &f, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("gateway tokens %s: %w", s.Path, err)
	}
	if f.Tokens == nil {
		f.Tokens = []IssuedToken{}
	}
	return f.Tokens, nil
}

// update changes the file under its lock: read, change, write a
// temporary file and rename it over.
func (s *FileTokenStore) update(change func([]IssuedToken) ([]IssuedToken, error)) error {
	var own error // read's and change's errors say what they are already
	err := withFileLock(s.Path, func() error {
		all, err := s.read()
		if err == nil {
			all, err = change(all)
		}
		if err != nil {
			own = err
			return err
		}
		b, err := jsonv2.Marshal(tokenFile{Version: 1, Tokens: all})
		if err != nil {
			return err
		}
		return writeFileAtomic(s.Path, append(b, '\n'), ".tokens-*")
	})
	if err != nil && err != own {
		return fmt.Errorf("gateway tokens: %w", err)
	}
	return err
}
