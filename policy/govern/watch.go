package govern

import (
	"context"
	"fmt"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// ApplyFunc takes a reloaded Config into use (a core's Reload).
type ApplyFunc func(enforce.Config)

// ApplyCores returns the ApplyFunc that builds the core of each reloaded
// Config and hands it to use (a transport's Reload, which swaps it in for
// every new call).
func ApplyCores(use func(*enforce.Core) error) ApplyFunc {
	return func(cfg enforce.Config) { _ = use(enforce.New(cfg)) }
}

// Then returns an ApplyFunc that applies a reloaded Config as a does,
// then runs after (what a transport re-decides for the core in force).
func (a ApplyFunc) Then(after func()) ApplyFunc {
	return func(cfg enforce.Config) { a(cfg); after() }
}

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
// start; one that changed into an unusable bundle is reported and not
// applied. Watch keeps e.Config current, so it must be the only user of e
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
		if cfg.BundleErr != nil {
			// A bundle changed into one that cannot be used leaves the
			// last good one governing: a half-written copy or a broken
			// rule must not open (or close) everything.
			notices = append(notices, Notice{"warning", fmt.Sprintf("the changed governance bundle cannot be used (%v); revision %s still governs", cfg.BundleErr, e.Config.BundleRevision)})
		} else if cfg.BundleRevision != e.Config.BundleRevision {
			notices = append(notices, Notice{"reload", "bundle revision " + cfg.BundleRevision + " governs every new call"})
		}
		if wo.Notify != nil {
			for _, n := range notices {
				wo.Notify(n)
			}
		}
		if cfg.BundleErr != nil || cfg.BundleRevision == e.Config.BundleRevision {
			continue
		}
		e.Config = cfg
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
