// Package secretref resolves secret references — "env:NAME",
// "file:PATH", "keyring:SERVICE/ACCOUNT", and any scheme a Source is
// registered for (the mcpgov vault's "vault:NAME", a Vault or cloud-KMS
// adapter) — so catalogs and configs name secrets instead of holding them.
//
// The syntax is catalog.ParseSecretRef's, which validation uses too. A
// resolved value is returned to the caller only: errors name the
// reference, never the value.
package secretref

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mcpgov/mcpgov/catalog"
)

// Ref is a parsed reference.
type Ref = catalog.SecretRef

// Parse parses "scheme:name".
func Parse(s string) (Ref, error) { return catalog.ParseSecretRef(s) }

// Source resolves the references of one scheme. A Vault (HashiCorp) or a
// cloud KMS/secret-manager adapter implements it and is registered in
// Resolver.Sources under its scheme.
type Source interface {
	Resolve(ctx context.Context, ref Ref) (string, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, ref Ref) (string, error)

// Resolve implements Source.
func (f SourceFunc) Resolve(ctx context.Context, ref Ref) (string, error) { return f(ctx, ref) }

// Keyring is the part of the OS keyring a reference reads
// (login.SecretStore has it).
type Keyring interface {
	Get(service, user string) (string, error)
}

// ErrNotFound: the reference names nothing (an unset variable, a missing
// file or keyring item, a vault entry never set).
var ErrNotFound = errors.New("secret not found")

// Resolver resolves references. Getenv and Keyring come from the caller
// (the CLI's Factory), so tests and the gateway give their own.
type Resolver struct {
	Getenv  func(string) string
	Keyring Keyring
	// Sources are the other schemes ("vault", "aws-sm", …).
	Sources map[string]Source
}

// Resolve returns the value s references.
func (r *Resolver) Resolve(ctx context.Context, s string) (string, error) {
	ref, err := Parse(s)
	if err != nil {
		return "", err
	}
	v, err := r.resolve(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("resolve secret %s: %w", ref, err)
	}
	return v, nil
}

func (r *Resolver) resolve(ctx context.Context, ref Ref) (string, error) {
	switch ref.Scheme {
	case "env":
		if r.Getenv == nil {
			return "", errors.New("no environment")
		}
		v := r.Getenv(ref.Name)
		if v == "" {
			return "", fmt.Errorf("variable %s is unset or empty: %w", ref.Name, ErrNotFound)
		}
		return v, nil
	case "file":
		b, err := os.ReadFile(ref.Name)
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no file %s: %w", ref.Name, ErrNotFound)
		}
		if err != nil {
			return "", err
		}
		// A trailing newline is how files are written, not part of a key.
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("file %s is empty: %w", ref.Name, ErrNotFound)
		}
		return v, nil
	case "keyring":
		if r.Keyring == nil {
			return "", errors.New("no keyring")
		}
		svc, acct, _ := strings.Cut(ref.Name, "/") // checked by Parse
		v, err := r.Keyring.Get(svc, acct)
		if err != nil {
			return "", err
		}
		return v, nil
	}
	if src, ok := r.Sources[ref.Scheme]; ok {
		return src.Resolve(ctx, ref)
	}
	return "", fmt.Errorf("no secret source for scheme %q (known: env, file, keyring%s)", ref.Scheme, r.schemes())
}

func (r *Resolver) schemes() string {
	var b strings.Builder
	for k := range r.Sources {
		b.WriteString(", " + k)
	}
	return b.String()
}
