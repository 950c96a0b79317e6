package govern

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/mcpgov/mcpgov/shim/gateway"
)

// TestGatewayShadowAndFacts: the gateway's cores carry the shadow bundle
// (shadow_bundle), as the shim's do, and the cores of one MCP session
// share its facts, so taint rules see what the session did on every
// server it reaches; another session starts clean.
func TestGatewayShadowAndFacts(t *testing.T) {
	opts, _ := bundleFixture(t)
	shadow := filepath.Join(t.TempDir(), "shadow")
	writeCatalog(t, shadow, `deny = ["add"]`)
	var c Configs
	c.User.ShadowBundle = shadow
	g, notices, err := NewGatewayGovernance(opts.Env, c, "", io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, n := range notices {
		t.Logf("notice: %s: %s", n.Kind, n.Text)
	}
	a, _ := g.Core("fake", gateway.SessionInfo{ID: "s1"})
	b, _ := g.Core("fake", gateway.SessionInfo{ID: "s1"})
	other, _ := g.Core("fake", gateway.SessionInfo{ID: "s2"})
	ca, cb, co := a.Config(), b.Config(), other.Config()
	if ca.Shadow == nil || ca.ShadowServer == nil || ca.ShadowRevision == "" || ca.ShadowRevision == ca.BundleRevision {
		t.Fatalf("no shadow in the gateway's core: %+v", ca)
	}
	if ca.Facts == nil || ca.Facts != cb.Facts {
		t.Errorf("one session's cores do not share its facts")
	}
	if co.Facts == ca.Facts {
		t.Errorf("two sessions share facts")
	}
}
