package govern

import (
	"context"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// ApplyFunc takes a reloaded Config into use (a core's Reload).
type ApplyFunc func(enforce.Config)

// WatchOptions say how often Watch looks at the bundle.
type WatchOptions struct {
	// Interval between looks (DefaultWatchInterval when zero).
	Interval time.Duration
	// Tick, when set, replaces the ticker (tests).
	Tick <-chan time.Time
	// Notify receives the notices of each reload (last good copy in use).
	Notify func(Notice)
}

// DefaultWatchInterval is how often a long-lived connection looks for a
// changed bundle.
const DefaultWatchInterval = 5 * time.Second

// Watch looks at the bundle source at every tick and, when its content
// changed (its revision: a digest of every file), reloads and passes the
// new Config to apply: catalog entry, pipeline and revision together. A
// bundle that becomes unreachable reloads onto the last good copy, as at
// start. Watch keeps e.Config current, so it must be the only user of e
// once started. It returns when ctx is done; with no bundle configured
// there is nothing to watch and it returns at once.
func (e *Engine) Watch(ctx context.Context, wo WatchOptions, apply ApplyFunc) {
	if e.Source == "" {
		return
	}
	tick := wo.Tick
	if tick == nil {
		d := wo.Interval
		if d <= 0 {
			d = DefaultWatchInterval
		}
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	last := sourceRevision(e.Source)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		rev := sourceRevision(e.Source)
		if rev == last {
			continue
		}
		last = rev
		cfg, notices := e.Reload()
		e.Config = cfg
		if wo.Notify != nil {
			for _, n := range notices {
				wo.Notify(n)
			}
		}
		apply(cfg)
	}
}

// sourceRevision is the revision of the bundle in dir, or "" when it
// cannot be read (then a later readable state counts as a change).
func sourceRevision(dir string) string {
	rev, err := catalog.ManifestDigest(dir)
	if err != nil {
		return ""
	}
	return rev
}
