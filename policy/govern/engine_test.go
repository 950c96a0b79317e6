package govern

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// bundleFixture is a configured bundle (MCPGOV_BUNDLE) with one approved
// server, "fake", in a sandboxed state directory.
func bundleFixture(t *testing.T) (Options, string) {
	t.Helper()
	dir := t.TempDir()
	gov := filepath.Join(dir, "gov")
	writeCatalog(t, gov, `allow = ["*"]`)
	vars := map[string]string{
		"MCPGOV_BUNDLE": gov, "XDG_STATE_HOME": filepath.Join(dir, "state"),
		"MCPGOV_CONFIG": filepath.Join(dir, "none.toml"), "MCPGOV_MANAGED_CONFIG": filepath.Join(dir, "none-managed.toml"),
		"MCPGOV_AUDIT_DIR": filepath.Join(dir, "audit"),
	}
	env := Env{Getenv: func(k string) string { return vars[k] }, Home: dir, Now: time.Now}
	return Options{Env: env, Server: "fake", Command: []string{"fake-mcp-server"}}, gov
}

func writeCatalog(t *testing.T, gov, tools string) {
	t.Helper()
	text := `[catalog]
name = "test"
mode = "enforce"

[servers.fake]
title = "Fake"
owner = "test"
status = "approved"
risk = "low"

[servers.fake.launch]
command = "fake-mcp-server"

[servers.fake.tools]
` + tools + "\n"
	if err := os.MkdirAll(gov, 0o755); err != nil {
		t.Fatal(err)
	}
	// Written beside the bundle and renamed into it: a watch tick reading
	// the bundle meanwhile sees the old catalog or the new one, never a
	// file cut short (os.WriteFile truncates first), which a tick read as
	// a catalog without the server (TestWatchReloads failed so once).
	tmp, err := os.CreateTemp(filepath.Dir(gov), "catalog-*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(gov, catalog.CatalogFile)); err != nil {
		t.Fatal(err)
	}
}

func TestBuild(t *testing.T) {
	opts, gov := bundleFixture(t)
	opts.Name = "my-fake"
	e := Build(context.Background(), opts)
	defer e.Close()
	cfg := e.Config
	if cfg.BundleErr != nil || cfg.AuditErr != nil || cfg.IdentityErr != nil {
		t.Fatalf("errors: bundle %v, audit %v, identity %v", cfg.BundleErr, cfg.AuditErr, cfg.IdentityErr)
	}
	if cfg.Server == nil || cfg.Server.ID != "fake" || !cfg.VersionApproved || cfg.Mode != catalog.ModeEnforce || cfg.BundleRevision == "" {
		t.Fatalf("config %+v", cfg)
	}
	if cfg.Session == "" || cfg.ServerRef.ID != "fake" || cfg.ServerRef.ConfigName != "my-fake" || cfg.Sink == nil || !cfg.Sink.Keeps() || e.Source != gov {
		t.Fatalf("session %q, ref %+v, source %s", cfg.Session, cfg.ServerRef, e.Source)
	}
	if len(e.Notices) != 0 {
		t.Fatalf("notices %v", e.Notices)
	}
	// The bundle was kept as the last good copy in the state directory.
	last, _ := StateDir(opts.Env, "bundle")
	if _, err := os.Stat(last); err != nil {
		t.Fatalf("no last good copy: %v", err)
	}
}

// TestBuildConfigErr: a config file that cannot be read leaves nothing to
// govern with, and the Config says so everywhere it matters.
func TestBuildConfigErr(t *testing.T) {
	opts, _ := bundleFixture(t)
	opts.ConfigErr = os.ErrPermission
	e := Build(context.Background(), opts)
	if e.Config.BundleErr == nil || e.Config.AuditErr == nil || e.Config.IdentityErr == nil || e.Config.Sink != nil && e.Config.Sink.Keeps() {
		t.Fatalf("config %+v", e.Config)
	}
}

// TestWatchReloads: a rule changed in the bundle reaches the running
// connection as one new Config — entry, pipeline and revision together —
// with the connection's own session kept.
func TestWatchReloads(t *testing.T) {
	opts, gov := bundleFixture(t)
	e := Build(context.Background(), opts)
	defer e.Close()
	before := e.Config
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tick := make(chan time.Time)
	got := make(chan enforce.Config, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Watch(ctx, WatchOptions{Tick: tick}, func(cfg enforce.Config) { got <- cfg })
	}()

	tick <- time.Now() // unchanged: nothing to apply
	writeCatalog(t, gov, `allow = ["*"]`+"\n"+`deny = ["add"]`)
	tick <- time.Now()
	after := <-got
	cancel()
	<-done

	if after.BundleRevision == before.BundleRevision || after.BundleRevision == "" {
		t.Errorf("revision %q, was %q", after.BundleRevision, before.BundleRevision)
	}
	if after.Server == before.Server || after.Server == nil || !strings.Contains(strings.Join(after.Server.Tools.Deny, ","), "add") {
		t.Errorf("entry not swapped: %+v", after.Server)
	}
	if after.Session != before.Session || after.Sink != before.Sink || after.ServerRef.ID != "fake" {
		t.Errorf("connection state not kept: session %q, ref %+v", after.Session, after.ServerRef)
	}
	if e.Config.BundleRevision != after.BundleRevision {
		t.Errorf("engine still holds revision %q", e.Config.BundleRevision)
	}
}

// TestReloadNoBundle: with nothing configured there is nothing to watch.
func TestReloadNoBundle(t *testing.T) {
	opts, _ := bundleFixture(t)
	getenv := opts.Env.Getenv
	opts.Env.Getenv = func(k string) string {
		if k == "MCPGOV_BUNDLE" {
			return ""
		}
		return getenv(k)
	}
	e := Build(context.Background(), opts)
	defer e.Close()
	if e.Config.BundleErr == nil || e.Source != "" {
		t.Fatalf("bundle err %v, source %q", e.Config.BundleErr, e.Source)
	}
	e.Watch(context.Background(), WatchOptions{}, func(enforce.Config) { t.Error("applied") }) // returns at once
}
