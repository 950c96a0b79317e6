package cli

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// blockingHooks are hooks that say they may block (a remote detector).
type blockingHooks struct{ enforce.HookFuncs }

func (blockingHooks) MayBlock() bool { return true }

// TestShimProcs: a stdio shim runs its Go code on one thread at a time
// when its core never blocks, on the runtime's default when it may (a
// remote detector's answer comes through the poller), and leaves
// GOMAXPROCS alone when the environment sets it.
func TestShimProcs(t *testing.T) {
	t.Cleanup(runtime.SetDefaultGOMAXPROCS)
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	if def == 1 {
		t.Skip("the runtime's default is already one P here: nothing to tell apart")
	}
	srv := &catalog.Server{ID: "s", Status: catalog.StatusApproved}
	plain := enforce.New(enforce.Config{Server: srv, VersionApproved: true})
	blocking := enforce.New(enforce.Config{Server: srv, VersionApproved: true, Hooks: blockingHooks{enforce.HookFuncs{
		Pre: func(context.Context, *catalog.Server, *enforce.Call) (enforce.Decision, error) {
			return enforce.Decision{Allow: true}, nil
		},
		Post: func(context.Context, *catalog.Server, *enforce.Call, json.RawMessage) (enforce.ResultDecision, error) {
			return enforce.ResultDecision{Allow: true}, nil
		},
	}}})
	if plain.MayBlock() || !blocking.MayBlock() {
		t.Fatalf("MayBlock: plain %v, blocking %v", plain.MayBlock(), blocking.MayBlock())
	}
	unset := &Factory{Getenv: func(string) string { return "" }}
	shimProcs(unset, plain)
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("core that never blocks: GOMAXPROCS %d, want 1", n)
	}
	shimProcs(unset, blocking) // a reload to a core with a remote detector
	if n := runtime.GOMAXPROCS(0); n != def {
		t.Errorf("core that may block: GOMAXPROCS %d, want the default %d", n, def)
	}
	set := &Factory{Getenv: func(k string) string { return map[string]string{"GOMAXPROCS": "3"}[k] }}
	runtime.GOMAXPROCS(3)
	shimProcs(set, plain)
	if n := runtime.GOMAXPROCS(0); n != 3 {
		t.Errorf("GOMAXPROCS set in the environment: %d, want it kept (3)", n)
	}
}
