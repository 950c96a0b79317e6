package wrap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/scan"
)

// memVault stands in for the vault: MoveSecret stores, RestoreSecret reads.
type memVault map[string]string

func (v memVault) opts(o Options) Options {
	o.MoveSecret = func(s scan.Server, name, value string, store bool) (string, error) {
		ref := fmt.Sprintf("vault:config/%s/%s/%s", s.Client, s.Name, name)
		if store {
			v[ref] = value
		}
		return ref, nil
	}
	o.RestoreSecret = func(ref string) (string, error) {
		val, ok := v[ref]
		if !ok {
			return "", fmt.Errorf("no %s", ref)
		}
		return val, nil
	}
	return o
}

const (
	secretA = "sk-ant-api03-R2d2C3poLukeSkywalker0123456789abcdefABCDEF"
	secretB = "ghp_R2d2C3poLukeSkywalker0123456789abcd"
)

// moveFixture writes one config file under a fresh home and scans it.
func moveFixture(t *testing.T, rel, text string) (home, state, path string, servers []scan.Server) {
	t.Helper()
	dir := t.TempDir()
	home, state = filepath.Join(dir, "home"), filepath.Join(dir, "state")
	path = filepath.Join(home, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Join(home, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, text)
	return home, state, path, scanHome(t, home)
}

// TestMoveArgSecrets: --move-secrets takes a secret out of an argument
// (--api-key=VALUE keeps its --api-key= prefix, --token VALUE leaves "")
// in every config format; the shim's --secret-arg flags say where each
// goes back; the diff and backup show it masked; the secret is nowhere in
// the file; unwrap restores the file byte for byte from the manifest, and
// from the command line when the client rewrote the entry.
func TestMoveArgSecrets(t *testing.T) {
	cases := []struct {
		name, rel, text, wantArgs string
	}{
		{"json", ".cursor/mcp.json", "{\n  \"mcpServers\": {\n    \"k\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"k-mcp@1.0.0\", \"--api-key=" + secretA + "\", \"--token\", \"" + secretB + "\"]\n    }\n  }\n}\n",
			`"args": ["shim", "--secret-arg", "2=vault:config/cursor/k/arg2", "--secret-arg", "4=vault:config/cursor/k/arg4", "--", "npx", "-y", "k-mcp@1.0.0", "--api-key=", "--token", ""]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home, state, path, servers := moveFixture(t, c.rel, c.text)
			v := memVault{}
			o := v.opts(opts(t, state))
			out, err := Wrap(context.Background(), servers, o)
			if err != nil {
				t.Fatal(err)
			}
			if r := out.Results[0]; r.Action != ActionWrapped || !strings.Contains(r.Reason, "moved args[2], args[4] to the vault") {
				t.Fatalf("wrap: %s %q", r.Action, r.Reason)
			}
			got := readFile(t, path)
			if !strings.Contains(got, c.wantArgs) {
				t.Errorf("wrapped:\n%s\nwant %s", got, c.wantArgs)
			}
			for _, sec := range []string{secretA, secretB} {
				if strings.Contains(got, sec) || strings.Contains(string(out.Changes[0].Before), sec) {
					t.Errorf("a moved secret is still in the file or the diff")
				}
				b, _ := os.ReadFile(filepath.Join(state, "manifest.json"))
				if strings.Contains(string(b), sec) {
					t.Errorf("the manifest holds a secret")
				}
			}
			if v["vault:config/cursor/k/arg2"] != secretA || v["vault:config/cursor/k/arg4"] != secretB {
				t.Errorf("vault: %v", v)
			}
			if _, err := Unwrap(context.Background(), governed(scanHome(t, home)), o); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, path); got != c.text {
				t.Errorf("unwrap:\n%s\nwant\n%s", got, c.text)
			}
		})
	}
}
