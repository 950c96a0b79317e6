package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/shim/wrap"
)

// Verdicts wrap predicts for an entry launched through the shim.
const (
	verdictRuns    = "runs"       // the shim starts it
	verdictAudit   = "audit-only" // the shim would refuse it, but audit mode only records that
	verdictRefused = "refused"    // the shim does not start it
)

// wrapVerdict is what the shim will do when the client starts an entry.
type wrapVerdict struct {
	Verdict string       `json:"verdict"`
	Reason  string       `json:"reason,omitempty"`
	Mode    catalog.Mode `json:"mode"`
	Server  string       `json:"server,omitempty"` // the catalog entry it resolves to
}

// wrapGovernance is the bundle wrapped servers will run under, as far as
// wrap can tell: the one the shim resolves (config files, MCPGOV_BUNDLE),
// or the one --bundle names (predictions are then for that bundle, and
// mismatch says the shim will load another).
type wrapGovernance struct {
	bundle *catalog.Bundle
	err    error // why there is no usable bundle (bundle is nil then)
	src    govern.BundleSource
	// mismatch is set when --bundle names another bundle than the one the
	// shim will load.
	mismatch error
	mode     string // --mode
}

// loadWrapGovernance resolves and loads the bundle as the shim will, with
// the shim's own usability check (policies and guardrails load), without
// keeping a last good copy.
func loadWrapGovernance(f *Factory, flag, mode string) (*wrapGovernance, error) {
	g := &wrapGovernance{mode: mode}
	s, err := resolveBundleSettings(f, flag)
	switch {
	case errors.Is(err, errNoBundleConfigured):
		g.err = err
		return g, nil
	case err != nil:
		return nil, err
	}
	g.src = s.Source
	b, err := s.Load()
	if err == nil {
		env := f.Env()
		err = govern.CheckUsable(b, s.Keys, func(b *catalog.Bundle) error {
			_, perr := govern.Pipeline(env, b)
			return perr
		})
	}
	if err != nil {
		g.err = err
	} else {
		g.bundle = b
	}
	if flag != "" {
		cfgs, cerr := f.Config()
		if cerr != nil {
			return nil, cerr
		}
		shimSrc, ok := govern.ResolveBundle("", f.Env(), cfgs)
		switch {
		case !ok:
			g.mismatch = fmt.Errorf("--bundle %s is not the bundle wrapped servers will use: none is configured", flag)
		case !sameDir(flag, shimSrc.Dir):
			g.mismatch = fmt.Errorf("--bundle %s is not the bundle wrapped servers will use: they use %s (from %s)", flag, shimSrc.Dir, shimSrc.From)
		}
	}
	return g, nil
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	norm := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return filepath.Clean(p)
	}
	return norm(a) == norm(b)
}

// shimFlags are the shim flags wrap writes for s: --mode when given, and
// the catalog id as --server when the entry matched an approved version.
// --server tells the shim the launch was matched already: written for a
// launch whose version the catalog does not approve, it would let that
// version run.
func (g *wrapGovernance) shimFlags(s scan.Server) []string {
	var out []string
	if g.mode != "" {
		out = append(out, "--mode", g.mode)
	}
	if g.bundle == nil || g.mismatch != nil {
		return out
	}
	if m, ok := g.bundle.Catalog.Match(s.Launch()); ok && m.VersionApproved {
		out = append(out, "--server", m.Server.ID)
	} else if s.Name != "" {
		// A server the catalog does not know (or not at this version) is
		// refused by the shim; the record of that refusal names it as the
		// user does, so it can be found (audit query --server NAME).
		out = append(out, "--name", s.Name)
	}
	return out
}

// shimLine is the part of a wrapped entry's shim command line that decides
// the verdict.
type shimLine struct {
	id, server, mode, bundle, url string
	command                       []string
}

// parseShimLine reads `mcpgov shim [flags] (-- COMMAND… | ID | --url URL)`
// from an entry that launches the shim; ok is false for any other shape.
func parseShimLine(command string, args []string) (shimLine, bool) {
	var r shimLine
	base := strings.TrimSuffix(strings.ToLower(filepath.Base(filepath.ToSlash(command))), ".exe")
	if base != "mcpgov" || len(args) == 0 || args[0] != "shim" {
		return r, false
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			r.command = args[i+1:]
			return r, len(r.command) > 0
		}
		name, val, hasVal := strings.Cut(a, "=")
		dst := map[string]*string{"--server": &r.server, "--mode": &r.mode, "--bundle": &r.bundle, "--url": &r.url}[name]
		switch {
		case dst != nil && hasVal:
			*dst = val
		case dst != nil && i+1 < len(args):
			*dst = args[i+1]
			i++
		case strings.HasPrefix(a, "-"):
			if !hasVal && (name == "--header" || name == "--client" || name == "--timeout" || name == "--name") {
				i++
			}
		default:
			r.id = a
		}
	}
	return r, r.id != "" || r.url != ""
}

// predict says what the shim will do with run, the way the shim decides
// (govern.Predict).
func (g *wrapGovernance) predict(ctx context.Context, run shimLine, launch string) *wrapVerdict {
	if run.bundle != "" {
		return nil // the entry names its own bundle
	}
	p := govern.Predict(ctx, g.bundle, g.err, govern.Launch{
		ID: run.id, Server: run.server, URL: run.url, Command: run.command, Mode: catalog.Mode(run.mode), Name: launch,
	})
	mode := p.Mode
	v := &wrapVerdict{Verdict: verdictRuns, Mode: mode}
	if p.Server != nil {
		v.Server = p.Server.ID
	}
	if r := p.Refusal; r != nil {
		v.Reason = r.Reason
		if mode == catalog.ModeAudit {
			v.Verdict = verdictAudit
		} else {
			v.Verdict = verdictRefused
			if r.Hint != "" {
				v.Reason += "; " + r.Hint
			}
		}
		return v
	}
	if s := p.Server; s != nil && len(s.Groups) > 0 {
		v.Reason = "its calls are for members of " + strings.Join(s.Groups, ", ") + " (a login that carries the group)"
	}
	return v
}

// predictResult predicts the verdict of one wrap result for its entry s:
// entries wrap launches through the shim (now or before); nil for the rest.
func (g *wrapGovernance) predictResult(ctx context.Context, r wrap.Result, s scan.Server) *wrapVerdict {
	launch := s.Identity
	switch r.Action {
	case wrap.ActionWrapped:
		run := shimLine{mode: g.mode}
		for i, fl := 0, g.shimFlags(s); i+1 < len(fl); i += 2 {
			if fl[i] == "--server" {
				run.server = fl[i+1]
			}
		}
		if s.Transport == scan.TransportStdio && s.Command != "" {
			run.command = append([]string{s.Command}, s.Args...)
		} else {
			run.url = s.URL
		}
		return g.predict(ctx, run, launch)
	case wrap.ActionAlreadyGoverned:
		run, ok := parseShimLine(s.Command, s.Args)
		if !ok {
			return nil
		}
		return g.predict(ctx, run, launch)
	}
	return nil
}

// refusal is the error wrap stops with before writing anything: no usable
// bundle (every wrapped server would be refused at start) or a --bundle
// the shim will not load. --mode audit turns both into warnings: audit
// shims block nothing. flag is --bundle.
func (g *wrapGovernance) refusal(io *IOStreams, flag string) error {
	const audit = "or wrap with --mode audit to record what would be refused without blocking"
	var err error
	switch {
	case errors.Is(g.err, errNoBundleConfigured):
		err = withHint(errors.New("wrap: no governance bundle configured, so every wrapped server would be refused at start"),
			"create and register one with `mcpgov bundle init --register ./governance` (or set bundle in config.toml, see `mcpgov help config`); "+audit)
	case g.err != nil:
		err = withHint(fmt.Errorf("wrap: the governance bundle cannot be used, so every wrapped server would be refused at start: %w", g.err),
			"fix it (`mcpgov catalog validate` lists every problem); "+audit)
	case g.mismatch != nil:
		err = withHint(fmt.Errorf("wrap: %w", g.mismatch),
			fmt.Sprintf("register it with `mcpgov bundle init --register %s` (or set bundle in config.toml, see `mcpgov help config`), or drop --bundle", flag))
	case g.src.From == "MCPGOV_BUNDLE":
		io.Warnf("the bundle comes from MCPGOV_BUNDLE; clients started from a desktop may not pass it on, and their shims then refuse every server")
		io.Hintf("register it in config.toml: `mcpgov bundle init --register %s`", g.src.Dir)
	}
	if err != nil && g.mode == string(catalog.ModeAudit) {
		io.Warnf("%v; with --mode audit the wrapped servers run, and their shims record what they would refuse", err)
		return nil
	}
	return err
}

// warnRefused warns about wrapped servers the catalog will refuse: wrap
// governs them (left alone they would run ungoverned), but the user should
// know before their client reports failures.
func warnRefused(io *IOStreams, results []wrapResult, dryRun bool) {
	n, first := 0, ""
	for _, r := range results {
		if r.Verdict != nil && r.Verdict.Verdict == verdictRefused {
			if n == 0 {
				first = fmt.Sprintf("%s (%s:%d): %s", r.Server, r.File, r.Line, r.Verdict.Reason)
			}
			n++
		}
	}
	if n == 0 {
		return
	}
	will := map[bool]string{false: "will", true: "would"}[dryRun]
	what := fmt.Sprintf("1 wrapped server %s not start, the catalog refuses it", will)
	if n > 1 {
		what = fmt.Sprintf("%d wrapped servers %s not start, the catalog refuses them", n, will)
	}
	io.Warnf("%s (VERDICT refused); first: %s", what, first)
	io.Hintf("have them approved, remove them from the client config, or wrap with --mode audit to only record")
}
