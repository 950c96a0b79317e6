package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
)

// The starter bundle ships policies and guardrails, and both the revision
// in audit records and the signature cover them: editing a policy or the
// guardrails changes the revision and breaks the signature.
func TestStarterPoliciesAreSignedAndRevisioned(t *testing.T) {
	for _, file := range []string{"policies/authz.rego", "guardrails.toml"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := catalog.WriteStarter(dir); err != nil {
				t.Fatal(err)
			}
			pub, priv, err := catalog.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := catalog.SignBundle(dir, priv); err != nil {
				t.Fatal(err)
			}
			if err := catalog.VerifyBundle(dir, []catalog.PublicKey{pub}); err != nil {
				t.Fatal(err)
			}
			before, err := catalog.LoadBundle(dir)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(filepath.Join(dir, file), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("\n# edited after signing\n"); err != nil {
				t.Fatal(err)
			}
			f.Close()
			after, err := catalog.LoadBundle(dir)
			if err != nil {
				t.Fatal(err)
			}
			if before.Revision == after.Revision {
				t.Errorf("revision %s unchanged after editing %s", after.Revision, file)
			}
			if err := catalog.VerifyBundle(dir, []catalog.PublicKey{pub}); !errors.Is(err, catalog.ErrBundleModified) {
				t.Errorf("verify after editing %s: %v, want ErrBundleModified", file, err)
			}
		})
	}
}
