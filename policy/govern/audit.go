package govern

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mcpgov/mcpgov/audit"
)

// AuditConfig is the [audit] table of config.toml.
type AuditConfig struct {
	// Dir is the local audit store (default $XDG_STATE_HOME/mcpgov/audit).
	Dir string `toml:"dir"`
	// Logging is always, header_controlled or never. The managed config's
	// value wins over the user's.
	Logging string `toml:"logging"`
	// RotateBytes starts a new segment past this size (default 64 MiB).
	RotateBytes int64 `toml:"rotate_bytes"`
	// RotateAge starts a new segment once the current one is this old, as
	// a duration ("24h", default) or days ("7d").
	RotateAge string `toml:"rotate_age"`
	// Witness lists where every signed checkpoint is also sent: a path
	// (an append-only file, or a directory of one file per store) or an
	// https URL (the gateway). The managed config's and the user's are
	// both used; a user cannot remove a managed witness.
	Witness []string `toml:"witness"`
	// SigningKey is the checkpoint signing key, kept outside the store
	// (made with mcpgov audit keygen). The managed config's wins, and
	// audit verify then trusts only its verifier key.
	SigningKey string `toml:"signing_key"`
	// CheckpointInterval signs a checkpoint of records that waited this
	// long ("10s", the default when a witness is set).
	CheckpointInterval string `toml:"checkpoint_interval"`
	// Durability is when a reply may go: "write" (the default here, a
	// developer's machine: after the record is written to the OS, fsynced
	// right after) or "fsync" (after the fsync).
	Durability string `toml:"durability"`
}

// AuditSettings is the resolved audit configuration.
type AuditSettings struct {
	Dir     string
	From    string // where Dir came from, for messages
	Options audit.Options
	// Witnesses are the configured witnesses, managed ones first.
	Witnesses []WitnessSetting
	// KeyFrom names the config that set Options.KeyPath ("": the store's
	// own signing.key).
	KeyFrom string
}

// WitnessSetting is one configured witness and the file that named it.
type WitnessSetting struct {
	Spec, From string
}

// DefaultCheckpointInterval bounds how long a record stays unwitnessed
// when a witness is configured.
const DefaultCheckpointInterval = 10 * time.Second

// ResolveAudit picks the store: MCPGOV_AUDIT_DIR, then the user's config,
// then the managed config, then the state directory's audit (default
// ~/.local/state/mcpgov/audit). flag, when set, wins over all.
func ResolveAudit(env Env, c Configs, flag string) (AuditSettings, error) {
	var s AuditSettings
	switch {
	case flag != "":
		s.Dir, s.From = flag, "--dir"
	case env.getenv("MCPGOV_AUDIT_DIR") != "":
		s.Dir, s.From = env.getenv("MCPGOV_AUDIT_DIR"), "MCPGOV_AUDIT_DIR"
	case c.User.Audit.Dir != "":
		s.Dir, s.From = configRelative(c.User.Path(), c.User.Audit.Dir), c.User.Path()
	case c.Managed.Audit.Dir != "":
		s.Dir, s.From = configRelative(c.Managed.Path(), c.Managed.Audit.Dir), c.Managed.Path()
	default:
		dir, err := StateDir(env, "audit")
		if err != nil {
			return s, WithHint(fmt.Errorf("audit trail: %w", err), "set MCPGOV_AUDIT_DIR or [audit] dir in config.toml")
		}
		s.Dir, s.From = dir, "default"
		if env.getenv("XDG_STATE_HOME") != "" {
			s.From = "XDG_STATE_HOME"
		}
	}
	// A developer's shim answers once the record is written to the OS (it
	// survives a crash of mcpgov and kill -9; only a power loss within the
	// fsync that follows can lose it): an fsync per lone call costs more
	// than the rest of the hop. A gateway or a strict policy sets fsync.
	opts := audit.Options{Now: env.Now, Durability: audit.DurabilityWrite}
	for _, cfg := range []Config{c.Managed, c.User} {
		for _, spec := range cfg.Audit.Witness {
			if !strings.HasPrefix(spec, "http://") && !strings.HasPrefix(spec, "https://") && spec != "" {
				spec = configRelative(cfg.Path(), spec)
			}
			if _, err := audit.NewWitness(spec); err != nil {
				return s, fmt.Errorf("config %s: invalid [audit] witness: %w", cfg.Path(), err)
			}
			if !slices.ContainsFunc(s.Witnesses, func(w WitnessSetting) bool { return w.Spec == spec }) {
				s.Witnesses = append(s.Witnesses, WitnessSetting{Spec: spec, From: cfg.Path()})
			}
		}
	}
	for _, cfg := range []Config{c.User, c.Managed} { // managed last: it wins
		if err := applyAudit(&opts, &s, cfg); err != nil {
			return s, err
		}
	}
	if len(s.Witnesses) > 0 && opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	s.Options = opts
	return s, nil
}

// applyAudit applies one config's [audit] settings over opts.
func applyAudit(opts *audit.Options, s *AuditSettings, cfg Config) error {
	a := cfg.Audit
	if a.Logging != "" {
		switch a.Logging {
		case audit.LoggingAlways, audit.LoggingHeaderControlled, audit.LoggingNever:
		default:
			return fmt.Errorf("config %s: invalid [audit] logging %q: want always, header_controlled or never", cfg.Path(), a.Logging)
		}
		opts.Logging = a.Logging
	}
	if a.RotateBytes < 0 {
		return fmt.Errorf("config %s: invalid [audit] rotate_bytes %d: want a positive size in bytes", cfg.Path(), a.RotateBytes)
	}
	if a.RotateBytes > 0 {
		opts.MaxSegmentBytes = a.RotateBytes
	}
	if a.RotateAge != "" {
		d, err := audit.ParseAge(a.RotateAge)
		if err != nil || d == 0 {
			return fmt.Errorf("config %s: invalid [audit] rotate_age %q: want a duration like 24h or days like 7d", cfg.Path(), a.RotateAge)
		}
		opts.MaxSegmentAge = d
	}
	switch a.Durability {
	case "":
	case audit.DurabilityFsync, audit.DurabilityWrite:
		opts.Durability = a.Durability
	default:
		return fmt.Errorf("config %s: invalid [audit] durability %q: want write or fsync", cfg.Path(), a.Durability)
	}
	if a.SigningKey != "" {
		opts.KeyPath, s.KeyFrom = configRelative(cfg.Path(), a.SigningKey), cfg.Path()
	}
	if a.CheckpointInterval != "" {
		d, err := audit.ParseAge(a.CheckpointInterval)
		if err != nil || d <= 0 {
			return fmt.Errorf("config %s: invalid [audit] checkpoint_interval %q: want a duration like 10s", cfg.Path(), a.CheckpointInterval)
		}
		opts.CheckpointInterval = d
	}
	return nil
}

// NewWitnesses makes the configured witnesses.
func (s AuditSettings) NewWitnesses() []audit.Witness {
	var ws []audit.Witness
	for _, w := range s.Witnesses {
		if wit, err := audit.NewWitness(w.Spec); err == nil { // validated by ResolveAudit
			ws = append(ws, wit)
		}
	}
	return ws
}

// OpenAuditor opens the audit store a governed connection appends to. An
// error means calls cannot be recorded: in enforce mode the core then
// refuses them rather than run them unrecorded. warn receives what the
// store reports in the background (a witness that cannot be reached); it
// is never waited for by a call.
func OpenAuditor(env Env, c Configs, warn func(string)) (*audit.Store, error) {
	s, err := ResolveAudit(env, c, "")
	if err != nil {
		return nil, err
	}
	s.Options.Witnesses = s.NewWitnesses()
	s.Options.Warn = warn
	if s.KeyFrom != "" {
		// The refusal carries this message (the enforcement core adds its
		// own hint), so the remedy is part of it.
		if _, err := os.Stat(s.Options.KeyPath); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("audit signing key %s (from %s) does not exist; an administrator creates it with mcpgov audit keygen --out %s", s.Options.KeyPath, s.KeyFrom, s.Options.KeyPath)
		}
	}
	store, err := audit.Open(s.Dir, s.Options)
	if err != nil {
		return nil, WithHint(fmt.Errorf("open audit trail %s (from %s): %w", s.Dir, s.From, err),
			"make the directory writable, or point MCPGOV_AUDIT_DIR or [audit] dir in config.toml at one that is")
	}
	return store, nil
}

// ExistingTrail is ResolveAudit for the commands that read a trail: a
// directory that does not exist is an error that says where it looked.
func ExistingTrail(env Env, c Configs, flag string) (AuditSettings, error) {
	s, err := ResolveAudit(env, c, flag)
	if err != nil {
		return s, err
	}
	if _, err := os.Stat(s.Dir); errors.Is(err, fs.ErrNotExist) {
		return s, WithHint(fmt.Errorf("no audit trail at %s (from %s)", s.Dir, s.From),
			"nothing has been recorded there yet; point --dir or MCPGOV_AUDIT_DIR at a trail")
	}
	return s, nil
}
