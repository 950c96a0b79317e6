package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
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

// auditSettings is the resolved audit configuration.
type auditSettings struct {
	Dir     string
	From    string // where Dir came from, for messages
	Options audit.Options
	// Witnesses are the configured witnesses, managed ones first.
	Witnesses []witnessSetting
	// KeyFrom names the config that set Options.KeyPath ("": the store's
	// own signing.key).
	KeyFrom string
}

// witnessSetting is one configured witness and the file that named it.
type witnessSetting struct {
	Spec, From string
}

// defaultCheckpointInterval bounds how long a record stays unwitnessed
// when a witness is configured.
const defaultCheckpointInterval = 10 * time.Second

// resolveAudit picks the store: MCPGOV_AUDIT_DIR, then the user's config,
// then the managed config, then $XDG_STATE_HOME/mcpgov/audit (default
// ~/.local/state/mcpgov/audit). flag, when set, wins over all.
func resolveAudit(f *Factory, flag string) (auditSettings, error) {
	var s auditSettings
	c, err := loadConfigs(f.Getenv)
	if err != nil {
		return s, err
	}
	switch {
	case flag != "":
		s.Dir, s.From = flag, "--dir"
	case f.Getenv("MCPGOV_AUDIT_DIR") != "":
		s.Dir, s.From = f.Getenv("MCPGOV_AUDIT_DIR"), "MCPGOV_AUDIT_DIR"
	case c.user.Audit.Dir != "":
		s.Dir, s.From = configRelative(c.user.path, c.user.Audit.Dir), c.user.path
	case c.managed.Audit.Dir != "":
		s.Dir, s.From = configRelative(c.managed.path, c.managed.Audit.Dir), c.managed.path
	case f.Getenv("XDG_STATE_HOME") != "":
		s.Dir, s.From = filepath.Join(f.Getenv("XDG_STATE_HOME"), "mcpgov", "audit"), "XDG_STATE_HOME"
	default:
		s.Dir, s.From = filepath.Join(f.Getenv("HOME"), ".local", "state", "mcpgov", "audit"), "default"
	}
	// A developer's shim answers once the record is written to the OS (it
	// survives a crash of mcpgov and kill -9; only a power loss within the
	// fsync that follows can lose it): an fsync per lone call costs more
	// than the rest of the hop. A gateway or a strict policy sets fsync.
	opts := audit.Options{Now: f.Now, Durability: audit.DurabilityWrite}
	for _, cfg := range []Config{c.managed, c.user} {
		for _, spec := range cfg.Audit.Witness {
			if !strings.HasPrefix(spec, "http://") && !strings.HasPrefix(spec, "https://") && spec != "" {
				spec = configRelative(cfg.path, spec)
			}
			if _, err := audit.NewWitness(spec); err != nil {
				return s, fmt.Errorf("config %s: invalid [audit] witness: %w", cfg.path, err)
			}
			if !slices.ContainsFunc(s.Witnesses, func(w witnessSetting) bool { return w.Spec == spec }) {
				s.Witnesses = append(s.Witnesses, witnessSetting{Spec: spec, From: cfg.path})
			}
		}
	}
	for _, cfg := range []Config{c.user, c.managed} { // managed last: it wins
		a := cfg.Audit
		if a.Logging != "" {
			switch a.Logging {
			case audit.LoggingAlways, audit.LoggingHeaderControlled, audit.LoggingNever:
			default:
				return s, fmt.Errorf("config %s: invalid [audit] logging %q: want always, header_controlled or never", cfg.path, a.Logging)
			}
			opts.Logging = a.Logging
		}
		if a.RotateBytes < 0 {
			return s, fmt.Errorf("config %s: invalid [audit] rotate_bytes %d: want a positive size in bytes", cfg.path, a.RotateBytes)
		}
		if a.RotateBytes > 0 {
			opts.MaxSegmentBytes = a.RotateBytes
		}
		if a.RotateAge != "" {
			d, err := audit.ParseAge(a.RotateAge)
			if err != nil || d == 0 {
				return s, fmt.Errorf("config %s: invalid [audit] rotate_age %q: want a duration like 24h or days like 7d", cfg.path, a.RotateAge)
			}
			opts.MaxSegmentAge = d
		}
		switch a.Durability {
		case "":
		case audit.DurabilityFsync, audit.DurabilityWrite:
			opts.Durability = a.Durability
		default:
			return s, fmt.Errorf("config %s: invalid [audit] durability %q: want write or fsync", cfg.path, a.Durability)
		}
		if a.SigningKey != "" {
			opts.KeyPath, s.KeyFrom = configRelative(cfg.path, a.SigningKey), cfg.path
		}
		if a.CheckpointInterval != "" {
			d, err := audit.ParseAge(a.CheckpointInterval)
			if err != nil || d <= 0 {
				return s, fmt.Errorf("config %s: invalid [audit] checkpoint_interval %q: want a duration like 10s", cfg.path, a.CheckpointInterval)
			}
			opts.CheckpointInterval = d
		}
	}
	if len(s.Witnesses) > 0 && opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = defaultCheckpointInterval
	}
	s.Options = opts
	return s, nil
}

// witnesses makes the configured witnesses.
func (s auditSettings) witnesses() []audit.Witness {
	var ws []audit.Witness
	for _, w := range s.Witnesses {
		if wit, err := audit.NewWitness(w.Spec); err == nil { // validated by resolveAudit
			ws = append(ws, wit)
		}
	}
	return ws
}

func configRelative(configPath, dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(filepath.Dir(configPath), dir)
}

// openShimAuditor opens the audit store the shim appends to. An error
// means calls cannot be recorded: in enforce mode the shim then refuses
// them rather than run them unrecorded.
func openShimAuditor(f *Factory) (*audit.Store, error) {
	s, err := resolveAudit(f, "")
	if err != nil {
		return nil, err
	}
	// Checkpoints go to the witnesses in the background; a witness that
	// cannot be reached is warned about, never waited for by a call.
	s.Options.Witnesses = s.witnesses()
	s.Options.Warn = func(msg string) { fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: %s\n", msg) }
	if s.KeyFrom != "" {
		// The refusal carries this message (the enforcement core adds its
		// own hint), so the remedy is part of it.
		if _, err := os.Stat(s.Options.KeyPath); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("audit signing key %s (from %s) does not exist; an administrator creates it with mcpgov audit keygen --out %s", s.Options.KeyPath, s.KeyFrom, s.Options.KeyPath)
		}
	}
	store, err := audit.Open(s.Dir, s.Options)
	if err != nil {
		return nil, withHint(fmt.Errorf("open audit trail %s (from %s): %w", s.Dir, s.From, err),
			"make the directory writable, or point MCPGOV_AUDIT_DIR or [audit] dir in config.toml at one that is")
	}
	return store, nil
}

// auditTime parses --since/--until: RFC 3339, a date, or an age ("24h",
// "7d") counted back from now.
func auditTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	if d, err := audit.ParseAge(v); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, flagErrorf("invalid %s %q: want a time (2026-11-23, 2026-11-23T10:00:00Z) or an age (90m, 24h, 7d)", flag, v)
}

// attachShimAuditor opens the audit trail into cfg: the store, then the
// stderr lines, as its Sink, or the reason it cannot be opened as
// AuditErr (enforce mode then refuses to start the server). The returned
// func closes the store.
func attachShimAuditor(f *Factory, cfg *enforce.Config, lines *enforce.Lines) (closeStore func()) {
	store, err := openShimAuditor(f)
	if err != nil {
		cfg.AuditErr = err
		return func() {}
	}
	cfg.Sink = enforce.Tee{Store: store, Lines: lines}
	return func() { _ = store.Close() }
}

// existingTrail is resolveAudit for the commands that read a trail: a
// directory that does not exist is an error that says where it looked.
func existingTrail(f *Factory, flag string) (auditSettings, error) {
	s, err := resolveAudit(f, flag)
	if err != nil {
		return s, err
	}
	if _, err := os.Stat(s.Dir); errors.Is(err, fs.ErrNotExist) {
		return s, withHint(fmt.Errorf("no audit trail at %s (from %s)", s.Dir, s.From),
			"nothing has been recorded there yet; point --dir or MCPGOV_AUDIT_DIR at a trail")
	}
	return s, nil
}
