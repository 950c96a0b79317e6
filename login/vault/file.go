package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/renameio/v2/maybe"
)

// KeySize is the size of the key-encryption key (AES-256).
const KeySize = 32

// ParseKey decodes a key-encryption key: 32 bytes as base64 or hex (what
// NewKey prints). It comes from a configured secret reference (an
// environment variable, a file, the OS keyring, a KMS).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString} {
		if b, err := dec(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("vault key: want %d random bytes as base64 or hex", KeySize)
}

// NewKey returns a new random key-encryption key, base64-encoded.
func NewKey() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return base64.StdEncoding.EncodeToString(b)
}

// Sealer seals entries with AES-256-GCM under the key-encryption key,
// each with a random nonce and its key, kind and the key's id as
// additional data — so a value changed, an entry relabelled or moved to
// another user, or one sealed under another key does not open. Every
// store keeps entries sealed by it: the store holds ciphertext only.
type Sealer struct {
	aead cipher.AEAD
	kid  string
}

// NewSealer returns the sealer of kek.
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("vault key: want %d bytes, have %d", KeySize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("mcpgov vault key id\x00"), kek...))
	return &Sealer{aead: aead, kid: hex.EncodeToString(sum[:6])}, nil
}

// Sealed is an entry as a store keeps it: its key, kind and time in the
// clear (listing and revocation need no key-encryption key), its value
// sealed and bound to them.
type Sealed struct {
	Key
	Kind    string    `json:"kind"`
	Updated time.Time `json:"updated"`
	KeyID   string    `json:"kid"`
	// Gen is the entry's generation in a shared store, bound to the
	// sealed value so that an older copy of the entry put back opens
	// with its own, lower, generation (the store refuses one older than
	// it has read); 0 where a store keeps none (the file).
	Gen    uint64 `json:"gen,omitempty"`
	Nonce  []byte `json:"nonce"`
	Sealed []byte `json:"sealed"`
}

// Info is what listing shows of a sealed entry.
func (se Sealed) Info() Info { return Info{Key: se.Key, Kind: se.Kind, Updated: se.Updated} }

// sealedValue is what is encrypted.
type sealedValue struct {
	Secret string `json:"secret,omitempty"`
	Token  *Token `json:"token,omitempty"`
}

// aad is what a sealed value is bound to. An entry with no generation
// keeps the first form, so entries sealed before generations open as
// they did.
func (s *Sealer) aad(se Sealed) []byte {
	if se.Gen == 0 {
		b, _ := json.Marshal([]string{"mcpgov-vault-v1", se.User, se.Server, se.Name, se.Kind, se.KeyID})
		return b
	}
	b, _ := json.Marshal([]string{"mcpgov-vault-v2", se.User, se.Server, se.Name, se.Kind, se.KeyID, strconv.FormatUint(se.Gen, 10)})
	return b
}

// Seal seals e.
func (s *Sealer) Seal(e Entry) (Sealed, error) { return s.SealGen(e, 0) }

// SealGen seals e as generation gen of its entry (0: none).
func (s *Sealer) SealGen(e Entry, gen uint64) (Sealed, error) {
	se := Sealed{Key: e.Key, Kind: e.Kind, Updated: e.Updated, KeyID: s.kid, Gen: gen, Nonce: make([]byte, s.aead.NonceSize())}
	if _, err := rand.Read(se.Nonce); err != nil {
		return se, err
	}
	plain, err := json.Marshal(sealedValue{Secret: e.Secret, Token: e.Token})
	if err != nil {
		return se, err
	}
	se.Sealed = s.aead.Seal(nil, se.Nonce, plain, s.aad(se))
	clear(plain)
	return se, nil
}

// Open opens se, or fails with ErrTampered.
func (s *Sealer) Open(se Sealed) (Entry, error) {
	if se.KeyID != s.kid || len(se.Nonce) != s.aead.NonceSize() {
		return Entry{}, fmt.Errorf("%s: %w", se.Key, ErrTampered)
	}
	plain, err := s.aead.Open(nil, se.Nonce, se.Sealed, s.aad(se))
	if err != nil {
		return Entry{}, fmt.Errorf("%s: %w", se.Key, ErrTampered)
	}
	var v sealedValue
	if err := json.Unmarshal(plain, &v); err != nil {
		return Entry{}, fmt.Errorf("%s: %w", se.Key, ErrTampered)
	}
	return Entry{Key: se.Key, Kind: se.Kind, Secret: v.Secret, Token: v.Token, Updated: se.Updated}, nil
}

// FileStore is the embedded store: one JSON file of entries sealed by a
// Sealer. Writes are atomic (rename) under a lock file, so processes
// sharing it do not lose each other's entries.
type FileStore struct {
	path   string
	sealer *Sealer
}

// OpenFile returns the store at path, sealing with kek.
func OpenFile(path string, kek []byte) (*FileStore, error) {
	s, err := NewSealer(kek)
	if err != nil {
		return nil, err
	}
	return &FileStore{path: path, sealer: s}, nil
}

// Path is the vault file.
func (s *FileStore) Path() string { return s.path }

var _ Store = (*FileStore)(nil)

// fileVersion is the file's format version.
const fileVersion = 1

type fileModel struct {
	Version int      `json:"version"`
	Entries []Sealed `json:"entries"`
}

func (s *FileStore) read() (fileModel, error) {
	m := fileModel{Version: fileVersion}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("vault file %s: %w", s.path, err)
	}
	if m.Version != fileVersion {
		return m, fmt.Errorf("vault file %s: version %d: this mcpgov reads version %d", s.path, m.Version, fileVersion)
	}
	return m, nil
}

func (s *FileStore) write(m fileModel) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	return maybe.WriteFile(s.path, append(b, '\n'), 0o600)
}

// update runs f on the file's model under the file lock and writes what
// it leaves.
func (s *FileStore) update(ctx context.Context, f func(*fileModel) error) error {
	unlock, err := s.lockFile(ctx, s.path+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	m, err := s.read()
	if err != nil {
		return err
	}
	if err := f(&m); err != nil {
		return err
	}
	return s.write(m)
}

func (s *FileStore) lockFile(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	l := flock.New(path, flock.SetPermissions(0o600))
	ok, err := l.TryLockContext(ctx, 5*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
	}
	return func() { _ = l.Unlock() }, nil
}

// Get implements Store.
func (s *FileStore) Get(_ context.Context, k Key) (Entry, error) {
	m, err := s.read()
	if err != nil {
		return Entry{}, err
	}
	for _, fe := range m.Entries {
		if fe.Key == k {
			return s.sealer.Open(fe)
		}
	}
	return Entry{}, fmt.Errorf("vault has no entry %s: %w", k, ErrNotFound)
}

// Put implements Store.
func (s *FileStore) Put(ctx context.Context, e Entry) error {
	fe, err := s.sealer.Seal(e)
	if err != nil {
		return err
	}
	return s.update(ctx, func(m *fileModel) error {
		m.Entries = slices.DeleteFunc(m.Entries, func(x Sealed) bool { return x.Key == e.Key })
		m.Entries = append(m.Entries, fe)
		slices.SortFunc(m.Entries, func(a, b Sealed) int { return strings.Compare(a.Key.String(), b.Key.String()) })
		return nil
	})
}

// Delete implements Store.
func (s *FileStore) Delete(ctx context.Context, k Key) error {
	return s.update(ctx, func(m *fileModel) error {
		n := len(m.Entries)
		m.Entries = slices.DeleteFunc(m.Entries, func(x Sealed) bool { return x.Key == k })
		if len(m.Entries) == n {
			return fmt.Errorf("vault has no entry %s: %w", k, ErrNotFound)
		}
		return nil
	})
}

// DeleteUser implements Store.
func (s *FileStore) DeleteUser(ctx context.Context, user string) (int, error) {
	var n int
	err := s.update(ctx, func(m *fileModel) error {
		before := len(m.Entries)
		m.Entries = slices.DeleteFunc(m.Entries, func(x Sealed) bool { return x.User == user })
		n = before - len(m.Entries)
		return nil
	})
	return n, err
}

// List implements Store.
func (s *FileStore) List(_ context.Context, user string) ([]Info, error) {
	m, err := s.read()
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, fe := range m.Entries {
		if user == "" || fe.User == user {
			out = append(out, fe.Info())
		}
	}
	return out, nil
}

// Lock implements Store: a lock file per key beside the vault.
func (s *FileStore) Lock(ctx context.Context, k Key) (func(), error) {
	sum := sha256.Sum256([]byte(k.User + "\x00" + k.Server + "\x00" + k.Name))
	return s.lockFile(ctx, filepath.Join(s.path+".locks", hex.EncodeToString(sum[:12])))
}
