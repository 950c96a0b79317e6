package cli

import (
	"path/filepath"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy"
)

// shimPolicy loads the bundle's policies and guardrails for the shim: the
// pipeline is the connection's Decider, ResultFilter and ToolReviewer.
// Rate-limit counters live under $XDG_STATE_HOME/mcpgov/limits, shared by
// every shim process of the user.
func shimPolicy(f *Factory, b *catalog.Bundle) (*policy.Pipeline, error) {
	return policy.Load(b, policy.Options{StateDir: policyStateDir(f), Getenv: f.Getenv})
}

func policyStateDir(f *Factory) string {
	home := f.Getenv("HOME")
	return filepath.Join(filepath.Dir(defaultWrapStateDir(f.Getenv, home)), "limits")
}
