package cli

import (
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// existingTrail resolves the trail a reading command reads
// (govern.ExistingTrail): --dir, MCPGOV_AUDIT_DIR, [audit] dir, the state
// directory's audit; one that does not exist is an error.
func existingTrail(f *Factory, flag string) (govern.AuditSettings, error) {
	c, err := f.Config()
	if err != nil {
		return govern.AuditSettings{}, err
	}
	return govern.ExistingTrail(f.Env(), c, flag)
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
