package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newVault(t *testing.T, path string, kek []byte, events *[]Event, mu *sync.Mutex) *Vault {
	t.Helper()
	s, err := OpenFile(path, kek)
	if err != nil {
		t.Fatal(err)
	}
	return &Vault{Store: s, Audit: func(e Event) { mu.Lock(); *events = append(*events, e); mu.Unlock() }}
}

func testKey(t *testing.T) []byte {
	k, err := ParseKey(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The vault file holds no plaintext value: each issued value is searched
// for, raw and in the encodings JSON could have given it.
func TestVaultFileHoldsNoPlaintext(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vault.json")
	var events []Event
	var mu sync.Mutex
	v := newVault(t, path, testKey(t), &events, &mu)
	values := []string{"alice-key-8f3a9c2e1b", "shared-secret-77aa01", "access-tok-93jd81kq", "refresh-tok-pq02mz7x"}
	if err := v.SetAPIKey(ctx, "alice", "gh", values[0]); err != nil {
		t.Fatal(err)
	}
	if err := v.SetSecret(ctx, "", "slack", values[1]); err != nil {
		t.Fatal(err)
	}
	if err := v.PutToken(ctx, "alice", "drive", Token{AccessToken: values[2], RefreshToken: values[3], Expiry: time.Now().Add(time.Hour), Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, val := range values {
		b64, _ := json.Marshal([]byte(val))
		if bytes.Contains(raw, []byte(val)) || bytes.Contains(raw, bytes.Trim(b64, `"`)) {
			t.Errorf("vault file holds %q in the clear", val)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("vault file mode %v, want 0600", fi.Mode().Perm())
	}
	if got, err := v.APIKey(ctx, "alice", "gh"); err != nil || got != values[0] {
		t.Fatalf("APIKey = %q, %v", got, err)
	}
	if got, err := v.Resolve(ctx, Key{Name: "slack"}.ref()); err != nil || got != values[1] {
		t.Fatalf("Resolve = %q, %v", got, err)
	}
	tok, err := v.Token(ctx, "alice", "drive", nil)
	if err != nil || tok.AccessToken != values[2] || tok.RefreshToken != values[3] || tok.Scopes[0] != "read" {
		t.Fatalf("Token = %+v, %v", tok, err)
	}
	// Every grant and use is audited, and no record holds a value.
	mu.Lock()
	defer mu.Unlock()
	actions := map[string]int{}
	for _, e := range events {
		actions[e.Action]++
		for _, val := range values {
			if strings.Contains(fmt.Sprintf("%+v", e), val) {
				t.Errorf("audit event %+v holds a value", e)
			}
		}
	}
	if actions[ActionGrant] != 3 || actions[ActionUse] != 3 {
		t.Errorf("audited actions = %v, want 3 grants and 3 uses", actions)
	}
}

// A changed sealed value, an entry relabelled to another user, and a
// vault opened under another key are all refused, and the refusal is
// audited.
func TestVaultTamperRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vault.json")
	var events []Event
	var mu sync.Mutex
	kek := testKey(t)
	v := newVault(t, path, kek, &events, &mu)
	if err := v.SetAPIKey(ctx, "alice", "gh", "alice-key-8f3a9c2e1b"); err != nil {
		t.Fatal(err)
	}
	if err := v.SetAPIKey(ctx, "bob", "gh", "bob-key-0c4e5d6f7a"); err != nil {
		t.Fatal(err)
	}
	pristine, _ := os.ReadFile(path)
	edit := func(f func(m *fileModel)) {
		var m fileModel
		if err := json.Unmarshal(pristine, &m); err != nil {
			t.Fatal(err)
		}
		f(&m)
		b, _ := json.Marshal(m)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit(func(m *fileModel) { m.Entries[0].Sealed[3] ^= 1 })
	if _, err := v.APIKey(ctx, "alice", "gh"); !errors.Is(err, ErrTampered) {
		t.Errorf("flipped bit: err = %v, want ErrTampered", err)
	}
	// bob's sealed value under alice's name: alice must not get bob's key.
	edit(func(m *fileModel) {
		m.Entries[0].Nonce, m.Entries[0].Sealed = m.Entries[1].Nonce, m.Entries[1].Sealed
	})
	if got, err := v.APIKey(ctx, "alice", "gh"); !errors.Is(err, ErrTampered) {
		t.Errorf("swapped entry: got %q, err = %v, want ErrTampered", got, err)
	}
	edit(func(*fileModel) {})
	other := newVault(t, path, testKey(t), &events, &mu)
	if _, err := other.APIKey(ctx, "alice", "gh"); !errors.Is(err, ErrTampered) {
		t.Errorf("other key: err = %v, want ErrTampered", err)
	}
	if got, err := v.APIKey(ctx, "alice", "gh"); err != nil || got != "alice-key-8f3a9c2e1b" {
		t.Errorf("restored file: %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	refused := 0
	for _, e := range events {
		if e.Action == ActionRefused {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("refused events = %d, want 3", refused)
	}
}

func TestVaultRevokeUser(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vault.json")
	var events []Event
	var mu sync.Mutex
	v := newVault(t, path, testKey(t), &events, &mu)
	for _, s := range []string{"gh", "jira"} {
		if err := v.SetAPIKey(ctx, "alice", s, "k-"+s+"-alice-123456"); err != nil {
			t.Fatal(err)
		}
		if err := v.SetAPIKey(ctx, "bob", s, "k-"+s+"-bob-123456"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := v.RevokeUser(ctx, "alice", "offboarding")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUser = %d, %v", n, err)
	}
	if _, err := v.APIKey(ctx, "alice", "gh"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("alice's key after revoke: %v", err)
	}
	if got, err := v.APIKey(ctx, "bob", "gh"); err != nil || got != "k-gh-bob-123456" {
		t.Fatalf("bob's key after alice's revoke: %q, %v", got, err)
	}
	list, _ := v.List(ctx, "")
	if len(list) != 2 {
		t.Fatalf("List = %+v", list)
	}
	mu.Lock()
	defer mu.Unlock()
	if last := events[len(events)-2]; last.Action != ActionRevoke || last.User != "alice" {
		t.Fatalf("revoke event = %+v", last)
	}
}

func (k Key) ref() Ref { return Ref{Scheme: "vault", Name: k.Name} }
