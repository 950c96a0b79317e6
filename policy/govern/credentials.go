package govern

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/login"
	"github.com/mcpgov/mcpgov/login/secretref"
	"github.com/mcpgov/mcpgov/login/vault"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/state"
	"github.com/mcpgov/mcpgov/scan/launch"
	"github.com/mcpgov/mcpgov/shim"
	"github.com/mcpgov/mcpgov/shim/creds"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// DefaultVaultKeyRef is where the vault's key-encryption key is kept when
// MCPGOV_VAULT_KEY names no other source: the OS keyring, created on first
// use.
const DefaultVaultKeyRef = "keyring:mcpgov/vault-key"

// VaultSettings say where the vault is and where its key comes from.
type VaultSettings struct {
	Path   string // MCPGOV_VAULT, else $XDG_STATE_HOME/mcpgov/vault.json
	KeyRef string // MCPGOV_VAULT_KEY (a secret reference), else DefaultVaultKeyRef
}

// ResolveVault reads the vault settings from env.
func ResolveVault(env Env) (VaultSettings, error) {
	s := VaultSettings{Path: env.getenv("MCPGOV_VAULT"), KeyRef: env.getenv("MCPGOV_VAULT_KEY")}
	if s.Path == "" {
		dir, err := StateDir(env, "")
		if err != nil {
			return s, fmt.Errorf("vault: %w", err)
		}
		s.Path = filepath.Join(dir, "vault.json")
	}
	if s.KeyRef == "" {
		s.KeyRef = DefaultVaultKeyRef
	}
	if _, err := secretref.Parse(s.KeyRef); err != nil {
		return s, fmt.Errorf("MCPGOV_VAULT_KEY: %w", err)
	}
	return s, nil
}

// SecretResolver resolves secret references in env, with keyring for
// "keyring:" and the vault (when v is not nil) for "vault:".
func SecretResolver(env Env, keyring login.SecretStore, v *vault.Vault) *secretref.Resolver {
	r := &secretref.Resolver{Getenv: env.getenv, Keyring: keyring, Sources: map[string]secretref.Source{}}
	if v != nil {
		r.Sources["vault"] = v
	}
	return r
}

// OpenVault opens the vault. With create, a missing key in the default
// keyring item is generated and stored (the first `mcpgov creds set`);
// otherwise its absence is an error naming what to configure.
func OpenVault(ctx context.Context, env Env, keyring login.SecretStore, create bool, rec func(vault.Event)) (*vault.Vault, error) {
	return openVaultIn(ctx, env, keyring, create, rec, nil)
}

// openVaultIn is OpenVault with the entries in shared when it is set (the
// store gateway replicas share: sealed there as in the file, under the
// same key-encryption key), else in the vault file.
func openVaultIn(ctx context.Context, env Env, keyring login.SecretStore, create bool, rec func(vault.Event), shared *state.Redis) (*vault.Vault, error) {
	s, err := ResolveVault(env)
	if err != nil {
		return nil, err
	}
	raw, err := SecretResolver(env, keyring, nil).Resolve(ctx, s.KeyRef)
	if err != nil && create && s.KeyRef == DefaultVaultKeyRef && errors.Is(err, login.ErrSecretNotFound) {
		raw = vault.NewKey()
		if err = keyring.Set("mcpgov", "vault-key", raw); err != nil {
			return nil, fmt.Errorf("vault: store a new key in the keyring: %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("vault key (%s): %w", s.KeyRef, err)
	}
	kek, err := vault.ParseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("vault key (%s): %w", s.KeyRef, err)
	}
	if shared != nil {
		st, err := shared.Vault(kek)
		if err != nil {
			return nil, err
		}
		return &vault.Vault{Store: st, Audit: rec}, nil
	}
	st, err := vault.OpenFile(s.Path, kek)
	if err != nil {
		return nil, err
	}
	return &vault.Vault{Store: st, Audit: rec}, nil
}

// NoActor is the actor of vault events in a process acting for its
// callers (the gateway): each record names the entry's user.
var NoActor = audit.Identity{}

// CredentialRecorder makes each vault event an audit record (kind
// credential): who, which server, what happened — never the value.
func CredentialRecorder(store enforce.Store, actor audit.Identity) func(vault.Event) {
	return func(e vault.Event) {
		if store == nil {
			return
		}
		id := actor
		if e.User != "" && e.User != creds.UserOf(actor) {
			// An administrator acting on someone's entry: the record is
			// about that person; the actor is in the reason.
			id = audit.Identity{Subject: e.User, Method: "vault"}
			if who := creds.UserOf(actor); who != "" {
				e.Reason = joinReason(e.Reason, "by "+who)
			}
		}
		if id.Method == "" {
			id.Method = "service" // the gateway acting for a shared entry
		}
		reason := e.Action + " " + e.Kind + " " + e.Name
		rec := &audit.Record{
			Version: audit.SchemaVersion, Kind: audit.KindCredential, Time: time.Now().UTC(),
			Identity: id, Server: audit.ServerRef{ID: e.Server}, Outcome: e.Action,
			Reason: joinReason(reason, e.Reason),
		}
		_ = store.Append(context.Background(), rec)
	}
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	return a + ": " + b
}

// Credentials implements gateway.CredentialSource: the outbound
// credentials of the session's server, from its catalog entry's auth
// block, for the caller.
func (g *GatewayGovernance) Credentials(ctx context.Context, r *http.Request, who audit.Identity, srv gateway.Server) (shim.Credentials, error) {
	s := g.cur().bundle.Catalog.Server(srv.ID)
	if s == nil || s.Auth.Kind() == catalog.AuthNone {
		return shim.Credentials{}, nil
	}
	if g.Creds == nil {
		return shim.Credentials{}, fmt.Errorf("server %s authenticates with %s and the gateway has no credential store (vault key)", s.ID, s.Auth.Kind())
	}
	return g.Creds.For(ctx, creds.Request{Server: s, User: creds.UserOf(who), Stdio: srv.URL == "", Inbound: r})
}

var _ gateway.CredentialSource = (*GatewayGovernance)(nil)

// Store is the gateway's audit store (nil when it has none), for the
// vault's records.
func (g *GatewayGovernance) Store() enforce.Store {
	if g.store == nil {
		return nil
	}
	return g.store
}

// NewInjector assembles outbound credentials for the shim or the gateway:
// secret references resolved in env, the keyring and the vault. A vault
// that cannot be opened (no key configured) is not an error here: only
// servers that need it are refused, saying why.
func NewInjector(ctx context.Context, env Env, keyring login.SecretStore, rec func(vault.Event)) *creds.Injector {
	return NewReplicaInjector(ctx, env, keyring, rec, nil)
}

// NewReplicaInjector is NewInjector for a gateway replica: with a shared
// store, the vault's entries are the replicas' (a grant one replica
// obtains is used by the others, and a token is refreshed once across
// them); without one, the vault file.
func NewReplicaInjector(ctx context.Context, env Env, keyring login.SecretStore, rec func(vault.Event), shared *SharedState) *creds.Injector {
	var r *state.Redis
	if shared != nil {
		r = shared.Store
	}
	v, err := openVaultIn(ctx, env, keyring, false, rec, r)
	return &creds.Injector{Vault: v, VaultErr: err, Secrets: SecretResolver(env, keyring, v), Audit: rec}
}

// LocalUser is whose vault entries a person's own shim uses: their
// login (email, else subject), or "local" when they have none — the
// vault on their machine is theirs either way.
func LocalUser(id audit.Identity) string {
	if u := creds.UserOf(id); u != "" {
		return u
	}
	return "local"
}

// Credentials are the outbound credentials of the engine's upstream
// (its catalog entry's auth block), for the local user: stdio says the
// upstream is launched. Each vault event is recorded in the engine's
// audit trail.
func (e *Engine) Credentials(ctx context.Context, keyring login.SecretStore, stdio bool) (shim.Credentials, error) {
	s := e.Config.Server
	if s == nil || s.Auth.Kind() == catalog.AuthNone {
		return shim.Credentials{}, nil
	}
	if !stdio && (s.Launch.URL == "" || launch.CanonicalURL(e.URL) != launch.CanonicalURL(s.Launch.URL)) {
		// Not the server itself (the gateway, with `wrap --gateway`): the
		// server's credentials are the gateway's to inject, and never go
		// to another endpoint.
		return shim.Credentials{}, nil
	}
	var store enforce.Store
	if e.store != nil {
		store = e.store
	}
	inj := NewInjector(ctx, e.opts.Env, keyring, CredentialRecorder(store, e.Config.Identity))
	return inj.For(ctx, creds.Request{Server: s, User: LocalUser(e.Config.Identity), Stdio: stdio})
}

// OpenVaultAudited opens the vault for a command acting as actor (`mcpgov
// creds`, `mcpgov gateway creds revoke`), recording each event in the
// local audit trail; the returned func closes that trail. A trail that
// cannot be opened is reported to warn and the command goes on: the
// vault's own state is what the person asked to change.
//
// When [gateway] store names a shared store, the vault is the replicas'
// one in that store (where a gateway's users' keys and grants are).
func OpenVaultAudited(ctx context.Context, env Env, c Configs, keyring login.SecretStore, create bool, actor audit.Identity, warn func(string)) (*vault.Vault, func(), error) {
	url, _, err := c.GatewayStore("", "")
	if err != nil {
		return nil, nil, err
	}
	var shared *state.Redis
	closeFn := func() {}
	if url != "" {
		if shared, err = state.OpenRedis(url); err != nil {
			return nil, nil, WithHint(err, "fix [gateway] store in config.toml (`mcpgov help config`)")
		}
		closeFn = func() { _ = shared.Close() }
	}
	// The vault first: without one there is nothing to record.
	v, err := openVaultIn(ctx, env, keyring, create, nil, shared)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	var store enforce.Store
	if st, err := OpenAuditor(env, c, warn); err != nil {
		warn(fmt.Sprintf("credential changes are not recorded: %v", err))
	} else if st != nil {
		closeShared := closeFn
		store, closeFn = st, func() { _ = st.Close(); closeShared() }
	}
	v.Audit = CredentialRecorder(store, actor)
	return v, closeFn, nil
}

// MovedSecretRef is where `mcpgov wrap --move-secrets` keeps variable name
// of a client's config entry: a shared vault entry, referenced as
// "vault:config/CLIENT/ENTRY/NAME".
func MovedSecretRef(client, entry, name string) (server, ref string) {
	server = "config/" + client + "/" + entry
	return server, "vault:" + server + "/" + name
}

// ResolveSecretEnv resolves the shim's --secret-env NAME=REF flags into
// "NAME=value" entries for the launched server.
func ResolveSecretEnv(ctx context.Context, env Env, keyring login.SecretStore, specs []string, rec func(vault.Event)) ([]string, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	v, verr := OpenVault(ctx, env, keyring, false, rec)
	r := SecretResolver(env, keyring, v)
	var out []string
	for _, spec := range specs {
		name, ref, _ := strings.Cut(spec, "=") // checked by the CLI
		if strings.HasPrefix(ref, "vault:") && v == nil {
			return nil, fmt.Errorf("--secret-env %s: %w", name, verr)
		}
		val, err := r.Resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("--secret-env %s: %w", name, err)
		}
		out = append(out, name+"="+val)
	}
	return out, nil
}

// SecretEnv is ResolveSecretEnv with each vault use recorded in the
// engine's audit trail.
func (e *Engine) SecretEnv(ctx context.Context, keyring login.SecretStore, specs []string) ([]string, error) {
	var store enforce.Store
	if e.store != nil {
		store = e.store
	}
	return ResolveSecretEnv(ctx, e.opts.Env, keyring, specs, CredentialRecorder(store, e.Config.Identity))
}
