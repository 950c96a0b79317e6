package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/login/secretref"
)

// shimOAuthUser is the keyring account of the shim's own grants: the OS
// keyring is the person's already.
const shimOAuthUser = "local"

// shimRemote is the OAuth client of `mcpgov shim --url` for a remote
// server that asks for a bearer token (as mcp-remote does, governed):
// grants in the OS keyring (in memory for this run when there is none),
// the browser opened when someone can use it.
func shimRemote(ctx context.Context, opts *ShimOptions, url string, sink oauthuser.Sink) (*oauthuser.Remote, error) {
	f := opts.Factory
	cfg := oauthuser.Config{ClientID: opts.OAuthClientID, Issuer: opts.OAuthIssuer, ClientMetadataURL: opts.OAuthClientMetadataURL, Resource: url,
		Scopes: strings.Fields(opts.OAuthScopes)}
	if opts.OAuthClientSecret != "" {
		r := &secretref.Resolver{Getenv: f.Getenv, Keyring: f.Secrets()}
		secret, err := r.Resolve(ctx, opts.OAuthClientSecret)
		if err != nil {
			return nil, withHint(fmt.Errorf("--oauth-client-secret: %w", err), "give a secret reference that resolves (env:NAME, file:PATH, keyring:SERVICE/USER)")
		}
		cfg.ClientSecret = secret
	}
	kr, noKeyring := shimGrantKeyring(ctx, f, url)
	var store oauthuser.TokenStore = kr
	var clients oauthuser.ClientStore = kr
	// Without an OS keyring or a session to seal them for, the grants live
	// in memory; the warning waits for a consent (Remote.NoKeyring), so a
	// shim whose server never asks for one (the gateway, a server without
	// OAuth) says nothing.
	if noKeyring != "" {
		store, clients = &oauthuser.MemoryStore{}, nil
	}
	lockDir, _ := stateDir(f, "oauth-locks") // without one, only this process is serialized
	r := &oauthuser.Remote{Server: url, User: shimOAuthUser, Config: cfg, Store: store, LockDir: lockDir, Log: opts.IO.ErrOut, Sink: sink, Clients: clients, NoKeyring: noKeyring,
		ConsentTTL: opts.OAuthConsentTTL}
	if open := shimBrowser(opts); open != nil {
		r.Open = open
	}
	return r, nil
}

// shimGrantKeyring is shimKeyring, or, without an OS keyring, the same
// items sealed for the login session (sessionSealed); noKeyring says why
// neither can be had (the grants then last one run).
func shimGrantKeyring(ctx context.Context, f *Factory, url string) (kr oauthuser.IndexedKeyring, noKeyring string) {
	kr = shimKeyring(f)
	_, err := kr.Get(ctx, oauthuser.Key{User: shimOAuthUser, Server: url})
	if !errors.Is(err, login.ErrKeyringUnavailable) {
		return kr, ""
	}
	sealed, serr := openSessionSealed(f)
	if serr != nil {
		return kr, fmt.Sprintf("%v; %v", errors.Unwrap(err), serr)
	}
	kr.KeyringStore.Secrets = sealed
	return kr, ""
}

// shimKeyring is where the shim keeps its grants and registered clients:
// the OS keyring, each server noted in a state file so that `mcpgov
// logout` finds them (a keyring cannot be listed).
func shimKeyring(f *Factory) oauthuser.IndexedKeyring {
	kr := oauthuser.IndexedKeyring{KeyringStore: oauthuser.KeyringStore{Secrets: f.Secrets()}}
	if dir, err := stateDir(f, "shim-oauth"); err == nil {
		kr.Index = filepath.Join(dir, "servers")
	}
	return kr
}

// shimBrowser is how the shim opens a consent page, or nil when nobody
// could use one: --no-browser, over SSH, a Linux box without a display.
// MCPGOV_BROWSER (a command given the URL) wins over those checks.
func shimBrowser(opts *ShimOptions) func(string) error {
	getenv := opts.Factory.Getenv
	if opts.NoBrowser {
		return nil
	}
	if getenv("MCPGOV_BROWSER") == "" {
		if getenv("SSH_CONNECTION") != "" {
			return nil
		}
		if runtime.GOOS == "linux" && getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
			return nil
		}
	}
	return opts.Factory.OpenBrowser
}
