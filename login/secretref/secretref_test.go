package secretref

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fakeKeyring map[string]string

func (k fakeKeyring) Get(service, user string) (string, error) {
	v, ok := k[service+"/"+user]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{
		Getenv:  func(k string) string { return map[string]string{"K": "from-env"}[k] },
		Keyring: fakeKeyring{"svc/acct": "from-keyring"},
		Sources: map[string]Source{"kms": SourceFunc(func(_ context.Context, ref Ref) (string, error) { return "kms-" + ref.Name, nil })},
	}
	ctx := context.Background()
	for ref, want := range map[string]string{"env:K": "from-env", "file:" + file: "from-file", "keyring:svc/acct": "from-keyring", "kms:x": "kms-x"} {
		got, err := r.Resolve(ctx, ref)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, ref := range []string{"env:MISSING", "file:" + filepath.Join(dir, "none"), "keyring:svc/none"} {
		if _, err := r.Resolve(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Resolve(%q) err = %v, want ErrNotFound", ref, err)
		}
	}
	_, err := r.Resolve(ctx, "aws-sm:x")
	if err == nil || !strings.Contains(err.Error(), `no secret source for scheme "aws-sm"`) {
		t.Errorf("unknown scheme: err = %v", err)
	}
}
