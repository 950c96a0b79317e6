package wrap

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/scan"
)

// memVault stands in for the vault: MoveSecret stores, RestoreSecret reads.
type memVault map[string]string

// remoteMove is what `wrap --remote --move-secrets` runs with, its state
// in state: the options and the vault the secrets move to.
func remoteMove(t *testing.T, state string) (memVault, Options) {
	t.Helper()
	v := memVault{}
	o := v.opts(opts(t, state))
	o.Remote = true
	return v, o
}

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
	home, state, path = writeHome(t, rel, text)
	return home, state, path, scanHome(t, home)
}

// assertMoved checks the wrapped file is want and that no secret is in
// the manifest or the shown diff.
func assertMoved(t *testing.T, state, path string, out *Outcome, want string, secrets ...string) {
	t.Helper()
	if got := readFile(t, path); got != want {
		t.Errorf("wrapped:\n%s\nwant\n%s", got, want)
	}
	b, _ := os.ReadFile(filepath.Join(state, "manifest.json"))
	for _, sec := range secrets {
		if strings.Contains(string(b), sec) || strings.Contains(string(out.Changes[0].Before), sec) {
			t.Errorf("a moved secret is in the manifest or the diff")
		}
	}
}

// assertUnwrapped unwraps home's governed entries and checks path is text
// again, byte for byte.
func assertUnwrapped(t *testing.T, home, path, text string, o Options) {
	t.Helper()
	if _, err := Unwrap(context.Background(), governed(scanHome(t, home)), o); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != text {
		t.Errorf("unwrap:\n%s\nwant\n%s", got, text)
	}
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
		// opencode: the whole argv in one command array, and its
		// environment member.
		{"opencode", ".config/opencode/opencode.json", "{\n  \"mcp\": {\n    \"k\": {\n      \"type\": \"local\",\n      \"command\": [\"npx\", \"-y\", \"k-mcp@1.0.0\", \"--api-key=" + secretA + "\", \"--token\", \"" + secretB + "\"],\n      \"environment\": {\"GITHUB_TOKEN\": \"" + secretB + "\"}\n    }\n  }\n}\n",
			`"command": ["/usr/local/bin/mcpgov", "shim", "--secret-env", "GITHUB_TOKEN=vault:config/opencode/k/GITHUB_TOKEN", "--secret-arg", "2=vault:config/opencode/k/arg2", "--secret-arg", "4=vault:config/opencode/k/arg4", "--", "npx", "-y", "k-mcp@1.0.0", "--api-key=", "--token", ""],` + "\n" + `      "environment": {"GITHUB_TOKEN": ""}`},
		// Codex: a multi-line array with a comment and a literal string,
		// and an env table.
		{"toml", ".codex/config.toml", "# codex\n[mcp_servers.k]\ncommand = \"npx\"\nargs = [\n  \"-y\", \"k-mcp@1.0.0\", # pinned\n  \"--api-key=" + secretA + "\",\n  \"--token\", '" + secretB + "',\n]\n\n[mcp_servers.k.env]\nGITHUB_TOKEN = \"" + secretB + "\" # the bot's\nLEVEL = \"debug\"\n",
			"args = [\"shim\", \"--secret-env\", \"GITHUB_TOKEN=vault:config/codex/k/GITHUB_TOKEN\", \"--secret-arg\", \"2=vault:config/codex/k/arg2\", \"--secret-arg\", \"4=vault:config/codex/k/arg4\", \"--\", \"npx\", \"-y\", \"k-mcp@1.0.0\", \"--api-key=\", \"--token\", \"\"]\n\n[mcp_servers.k.env]\nGITHUB_TOKEN = \"\" # the bot's\nLEVEL = \"debug\"\n"},
		// Codex: an inline env table.
		{"toml-inline", ".codex/config.toml", "[mcp_servers.k]\ncommand = \"npx\"\nargs = [\"-y\", \"k-mcp@1.0.0\", \"--api-key=" + secretA + "\", \"--token\", \"" + secretB + "\"]\nenv = { LEVEL = \"debug\", \"GITHUB_TOKEN\" = '" + secretB + "' }\n",
			"env = { LEVEL = \"debug\", \"GITHUB_TOKEN\" = '' }\n"},
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
			client := servers[0].Client
			if v["vault:config/"+client+"/k/arg2"] != secretA || v["vault:config/"+client+"/k/arg4"] != secretB {
				t.Errorf("vault: %v", v)
			}
			if _, err := Unwrap(context.Background(), governed(scanHome(t, home)), o); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, path); got != c.text {
				t.Errorf("unwrap:\n%s\nwant\n%s", got, c.text)
			}

			// The client rewrites the entry after wrap (the spans no
			// longer match): unwrap takes the command line after "--" and
			// puts each --secret-arg value back into its argument.
			if _, err := Wrap(context.Background(), scanHome(t, home), o); err != nil {
				t.Fatal(err)
			}
			rewritten := strings.Replace(readFile(t, path), `"--token", ""`, `"--token",""`, 1)
			writeFile(t, path, rewritten)
			out, err = Unwrap(context.Background(), governed(scanHome(t, home)), o)
			if err != nil {
				t.Fatal(err)
			}
			got = readFile(t, path)
			if r := out.Results[0]; r.Action != ActionUnwrapped || !strings.Contains(got, `"--api-key=`+secretA+`"`) || !regexp.MustCompile(`"--token", ?"`+secretB+`"`).MatchString(got) {
				t.Errorf("unwrap of a rewritten entry: %s %q\n%s", r.Action, r.Reason, got)
			}
		})
	}
}

// TestMoveEnvSecretsYAML: --move-secrets on a Continue entry takes its env
// secrets (plain and quoted scalars) and its argument secrets into the
// vault, and unwrap restores the file byte for byte.
func TestMoveEnvSecretsYAML(t *testing.T) {
	for _, args := range []string{
		`["-y", "k-mcp@1.0.0", "--api-key=` + secretA + `"]`,
		`[-y, k-mcp@1.0.0, --api-key=` + secretA + ` ]`, // plain scalars
	} {
		moveYAML(t, args)
	}
}

func moveYAML(t *testing.T, args string) {
	text := "name: dev\nmcpServers:\n  - name: k\n    command: npx\n    args: " + args + "\n    env:\n      GITHUB_TOKEN: " + secretB + "   # bot\n      OTHER_TOKEN: \"" + secretB + "x\"\n      LEVEL: debug\n"
	home, state, path, servers := moveFixture(t, ".continue/config.yaml", text)
	v := memVault{}
	o := v.opts(opts(t, state))
	out, err := Wrap(context.Background(), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionWrapped || r.Reason != "moved args[2] to the vault; moved GITHUB_TOKEN, OTHER_TOKEN to the vault" {
		t.Fatalf("wrap: %s %q", r.Action, r.Reason)
	}
	got := readFile(t, path)
	for _, want := range []string{
		`    command: "/usr/local/bin/mcpgov"` + "\n" + `    args: ["shim", "--secret-env", "GITHUB_TOKEN=vault:config/continue/k/GITHUB_TOKEN", "--secret-env", "OTHER_TOKEN=vault:config/continue/k/OTHER_TOKEN", "--secret-arg", "2=vault:config/continue/k/arg2", "--", "npx", "-y", "k-mcp@1.0.0", "--api-key="]` + "\n",
		"      GITHUB_TOKEN: \"\"   # bot\n      OTHER_TOKEN: \"\"\n      LEVEL: debug\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("wrapped lacks %s:\n%s", want, got)
		}
	}
	for _, sec := range []string{secretA, secretB} {
		if strings.Contains(got, sec) || strings.Contains(string(out.Changes[0].Before), sec) {
			t.Errorf("a moved secret is still in the file or the diff")
		}
	}
	if v["vault:config/continue/k/OTHER_TOKEN"] != secretB+"x" {
		t.Errorf("vault: %v", v)
	}
	if _, err := Unwrap(context.Background(), governed(scanHome(t, home)), o); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != text {
		t.Errorf("unwrap:\n%s\nwant\n%s", got, text)
	}
}

// TestMoveHeadersTOML: wrap --remote --move-secrets turns a Codex
// Streamable HTTP entry with http_headers into `mcpgov shim --url`: the
// secret header goes to the vault (--secret-header), the plain one is
// passed as --header, the http_headers line leaves the table (Codex
// refuses it beside command), the other keys stay; unwrap restores the
// file byte for byte. Without --move-secrets the entry is left, saying
// how to wrap it.
func TestMoveHeadersTOML(t *testing.T) {
	text := "# codex\n[mcp_servers.linear]\nurl = \"https://mcp.linear.app/mcp?api_key=" + secretA + "\" # hosted\nstartup_timeout_sec = 20\nhttp_headers = { \"Authorization\" = \"Bearer " + secretB + "\", X-Team = 'blue' }\nenabled = true\n"
	home, state, path, servers := moveFixture(t, ".codex/config.toml", text)
	plain := opts(t, state)
	plain.Remote = true
	out, err := Wrap(context.Background(), servers, plain)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionSkippedRemote || !strings.Contains(r.Reason, "--move-secrets") {
		t.Errorf("without --move-secrets: %s %q", r.Action, r.Reason)
	}
	v := memVault{}
	o := v.opts(plain)
	out, err = Wrap(context.Background(), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionWrapped || r.Reason != "remote entry now runs mcpgov shim --url; moved the URL's api_key to the vault; moved Authorization to the vault" {
		t.Fatalf("wrap: %s %q", r.Action, r.Reason)
	}
	want := "# codex\n[mcp_servers.linear]\ncommand = \"/usr/local/bin/mcpgov\"\nargs = [\"shim\", \"--secret-header\", \"Authorization=vault:config/codex/linear/header-Authorization\", \"--header\", \"X-Team: blue\", \"--secret-query\", \"api_key=vault:config/codex/linear/query-api_key\", \"--secret-origin\", \"https://mcp.linear.app:443\", \"--url\", \"https://mcp.linear.app/mcp?api_key=\"] # hosted\nstartup_timeout_sec = 20\nenabled = true\n"
	assertMoved(t, state, path, out, want, secretA, secretB)
	if v["vault:config/codex/linear/header-Authorization"] != "Bearer "+secretB || v["vault:config/codex/linear/query-api_key"] != secretA {
		t.Errorf("vault: %v", v)
	}
	assertUnwrapped(t, home, path, text, o)
}

// TestMoveRemoteRewritten: a remote entry wrap --remote --move-secrets
// rewrote, then reformatted by its client (the spans no longer match), is
// put back by unwrap from the manifest: its url member with the moved
// query value, its type, and its header from the vault.
func TestMoveRemoteRewritten(t *testing.T) {
	entry := `{"type": "http", "url": "https://h.example.com/mcp?api_key=` + secretA + `", "headers": {"Authorization": "Bearer ` + secretB + `"}}`
	home, state, path, servers := moveFixture(t, ".claude.json", "{\n  \"mcpServers\": {\n    \"k\": "+entry+"\n  }\n}\n")
	_, o := remoteMove(t, state)
	if _, err := Wrap(context.Background(), servers, o); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(readFile(t, path)), &doc); err != nil {
		t.Fatal(err)
	}
	re, _ := json.MarshalIndent(doc, "", "    ") // the client writes it its own way
	writeFile(t, path, string(re))
	out, err := Unwrap(context.Background(), governed(scanHome(t, home)), o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionUnwrapped {
		t.Fatalf("unwrap: %s %q", r.Action, r.Reason)
	}
	if err := json.Unmarshal([]byte(readFile(t, path)), &doc); err != nil {
		t.Fatal(err)
	}
	var want any
	_ = json.Unmarshal([]byte(entry), &want)
	got, _ := json.Marshal(doc["mcpServers"].(map[string]any)["k"])
	wantB, _ := json.Marshal(want)
	if string(got) != string(wantB) {
		t.Errorf("entry after unwrap:\n%s\nwant\n%s", got, wantB)
	}
}

// TestMoveURLTOML: a Codex url entry whose URL holds a secret query value
// and a user:password gets both cut from --url and kept in the vault;
// unwrap restores the file byte for byte.
func TestMoveURLTOML(t *testing.T) {
	text := "[mcp_servers.u]\n  url = 'https://bob:" + secretB + "@h.example.com/mcp?region=eu&api_key=" + secretA + "'\n"
	home, state, path, servers := moveFixture(t, ".codex/config.toml", text)
	v, o := remoteMove(t, state)
	out, err := Wrap(context.Background(), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionWrapped || r.Reason != "remote entry now runs mcpgov shim --url; moved the URL's userinfo, api_key to the vault" {
		t.Fatalf("wrap: %s %q", r.Action, r.Reason)
	}
	want := "[mcp_servers.u]\n  command = \"/usr/local/bin/mcpgov\"\n  args = [\"shim\", \"--secret-userinfo\", \"vault:config/codex/u/userinfo\", \"--secret-query\", \"api_key=vault:config/codex/u/query-api_key\", \"--secret-origin\", \"https://h.example.com:443\", \"--url\", \"https://h.example.com/mcp?region=eu&api_key=\"]\n"
	assertMoved(t, state, path, out, want, secretA, secretB)
	if v["vault:config/codex/u/userinfo"] != "bob:"+secretB || v["vault:config/codex/u/query-api_key"] != secretA {
		t.Errorf("vault: %v", v)
	}
	assertUnwrapped(t, home, path, text, o)
}

// TestMoveURLYAML: a Continue streamable-http entry whose URL holds a
// secret query value: wrap --remote --move-secrets cuts it from --url
// into the vault; unwrap restores the file byte for byte.
func TestMoveURLYAML(t *testing.T) {
	text := "mcpServers:\n  - name: u\n    type: streamable-http\n    url: \"https://h.example.com/mcp?api_key=" + secretA + "&region=eu\"\n"
	home, state, path, servers := moveFixture(t, ".continue/config.yaml", text)
	v, o := remoteMove(t, state)
	out, err := Wrap(context.Background(), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.Action != ActionWrapped || r.Reason != "remote entry now runs mcpgov shim --url; moved the URL's api_key to the vault" {
		t.Fatalf("wrap: %s %q", r.Action, r.Reason)
	}
	want := "mcpServers:\n  - name: u\n    type: stdio\n    command: \"/usr/local/bin/mcpgov\"\n    args: [\"shim\", \"--secret-query\", \"api_key=vault:config/continue/u/query-api_key\", \"--secret-origin\", \"https://h.example.com:443\", \"--url\", \"https://h.example.com/mcp?api_key=&region=eu\"]\n"
	assertMoved(t, state, path, out, want, secretA)
	if v["vault:config/continue/u/query-api_key"] != secretA {
		t.Errorf("vault: %v", v)
	}
	assertUnwrapped(t, home, path, text, o)
}

// TestManifestNewerRefused: a manifest a newer mcpgov wrote is refused,
// saying so, rather than read by rules that would restore it wrong; a
// version 1 manifest loads and is saved as the current version.
func TestManifestNewerRefused(t *testing.T) {
	state := t.TempDir()
	writeFile(t, filepath.Join(state, "manifest.json"), `{"schemaVersion": 99, "entries": []}`)
	if _, err := LoadManifest(state); err == nil || !strings.Contains(err.Error(), "has format 99, written by a newer mcpgov (this one reads up to 2)") {
		t.Errorf("newer manifest: %v", err)
	}
	writeFile(t, filepath.Join(state, "manifest.json"), `{"schemaVersion": 1, "entries": []}`)
	m, err := LoadManifest(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.save(state); err != nil {
		t.Fatal(err)
	}
	if b := readFile(t, filepath.Join(state, "manifest.json")); !strings.Contains(b, `"schemaVersion": 2`) {
		t.Errorf("saved:\n%s", b)
	}
}

// wrapByServer runs Wrap and returns its outcome and its results by
// server name.
func wrapByServer(t *testing.T, servers []scan.Server, o Options) (*Outcome, map[string]Result) {
	t.Helper()
	out, err := Wrap(context.Background(), servers, o)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for _, r := range out.Results {
		got[r.Server] = r
	}
	return out, got
}

// TestCodexEnvHeaders: a Codex Streamable HTTP entry whose token and
// header come from Codex's environment (bearer_token_env_var,
// env_http_headers) keeps them there: the wrapped stdio entry names the
// variables in env_vars, so Codex passes them to the shim, which sends
// them as before (--secret-bearer env:NAME, --secret-header NAME=env:VAR),
// to the original origin only; the two lines leave the table (Codex
// refuses them beside command), a secret inline header goes to the vault
// as before, and so does a table-form http_headers (its header line and
// keys leave the file); unwrap restores the file byte for byte.
// bearer_token, which Codex refuses, is left, saying why.
func TestCodexEnvHeaders(t *testing.T) {
	text := "[mcp_servers.lin]\nurl = \"https://mcp.lin.example/mcp\"\nbearer_token_env_var = \"LIN_TOKEN\"\nstartup_timeout_sec = 20\nenv_http_headers = { \"X-Team\" = \"LIN_TEAM\", X-Key = 'LIN_KEY' }\nhttp_headers = { \"X-Secret\" = \"" + secretB + "\" }\n" +
		"\n[mcp_servers.lit]\nurl = \"https://lit.example/mcp\"\nbearer_token = \"" + secretA + "\"\n" +
		"\n[mcp_servers.tab]\nurl = \"https://tab.example/mcp\" # hosted\n\n[mcp_servers.tab.http_headers]\nAuthorization = \"Bearer " + secretA + "\"\n# ours\nX-Team = 'blue'\n\n# the next one\n[mcp_servers.next]\ncommand = \"next-mcp\"\n"
	home, state, path, servers := moveFixture(t, ".codex/config.toml", text)
	v, o := remoteMove(t, state)
	_, got := wrapByServer(t, servers, o)
	if r := got["lin"]; r.Action != ActionWrapped || r.Reason != "remote entry now runs mcpgov shim --url; Codex passes LIN_TOKEN, LIN_KEY, LIN_TEAM on to it (env_vars); moved X-Secret to the vault" {
		t.Errorf("lin: %s %q", r.Action, r.Reason)
	}
	if r := got["lit"]; r.Action != ActionSkippedRemote || !strings.Contains(r.Reason, "Codex refuses for Streamable HTTP") {
		t.Errorf("lit: %s %q", r.Action, r.Reason)
	}
	if r := got["tab"]; r.Action != ActionWrapped || r.Reason != "remote entry now runs mcpgov shim --url; moved Authorization to the vault" {
		t.Errorf("tab: %s %q", r.Action, r.Reason)
	}
	want := "[mcp_servers.lin]\ncommand = \"/usr/local/bin/mcpgov\"\nargs = [\"shim\", \"--secret-header\", \"X-Secret=vault:config/codex/lin/header-X-Secret\", \"--secret-bearer\", \"env:LIN_TOKEN\", \"--secret-header\", \"X-Key=env:LIN_KEY\", \"--secret-header\", \"X-Team=env:LIN_TEAM\", \"--secret-origin\", \"https://mcp.lin.example:443\", \"--url\", \"https://mcp.lin.example/mcp\"]\nenv_vars = [\"LIN_TOKEN\", \"LIN_KEY\", \"LIN_TEAM\"]\nstartup_timeout_sec = 20\n" +
		text[strings.Index(text, "\n[mcp_servers.lit]"):strings.Index(text, "\n[mcp_servers.tab]")] +
		"\n[mcp_servers.tab]\ncommand = \"/usr/local/bin/mcpgov\"\nargs = [\"shim\", \"--secret-header\", \"Authorization=vault:config/codex/tab/header-Authorization\", \"--header\", \"X-Team: blue\", \"--secret-origin\", \"https://tab.example:443\", \"--url\", \"https://tab.example/mcp\"] # hosted\n\n\n# the next one\n[mcp_servers.next]\ncommand = \"/usr/local/bin/mcpgov\"\nargs = [\"shim\", \"--\", \"next-mcp\"]\n"
	if b := readFile(t, path); b != want {
		t.Errorf("wrapped:\n%s\nwant\n%s", b, want)
	}
	if v["vault:config/codex/lin/header-X-Secret"] != secretB || v["vault:config/codex/tab/header-Authorization"] != "Bearer "+secretA {
		t.Errorf("vault: %v", v)
	}
	assertUnwrapped(t, home, path, text, o)
}

// TestMoveRequestOptionsYAML: a Continue streamable-http entry with
// requestOptions.headers (a secret Authorization, a plain X-Team) and a
// secret query value: wrap --remote --move-secrets takes requestOptions
// out (the shim sends its headers: the secret from the vault, the plain
// one as --header) and cuts the query value, each to the original origin
// only; a comment between the url and requestOptions stays; unwrap
// restores the file byte for byte. requestOptions with more than headers,
// or without --move-secrets, is left saying why.
func TestMoveRequestOptionsYAML(t *testing.T) {
	text := "mcpServers:\n  - name: r\n    type: streamable-http\n    url: https://h.example.com/mcp?api_key=" + secretA + "\n    # from the team wiki\n    requestOptions:\n      headers:\n        Authorization: \"Bearer " + secretB + "\"\n        X-Team: blue\n  - name: t\n    type: streamable-http\n    url: https://t.example.com/mcp\n    requestOptions:\n      timeout: 30\n      headers:\n        X-Team: blue\n# end\n"
	home, state, path, servers := moveFixture(t, ".continue/config.yaml", text)
	plain := opts(t, state)
	plain.Remote = true
	out, err := Wrap(context.Background(), servers, plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Results {
		if r.Action != ActionSkippedRemote {
			t.Errorf("without --move-secrets, %s: %s %q", r.Server, r.Action, r.Reason)
		}
	}
	v := memVault{}
	o := v.opts(plain)
	out, got := wrapByServer(t, servers, o)
	if r := got["r"]; r.Action != ActionWrapped || r.Reason != "remote entry now runs mcpgov shim --url; moved the URL's api_key to the vault; moved Authorization to the vault" {
		t.Fatalf("r: %s %q", r.Action, r.Reason)
	}
	if r := got["t"]; r.Action != ActionSkippedRemote || !strings.Contains(r.Reason, "beyond headers") {
		t.Errorf("t: %s %q", r.Action, r.Reason)
	}
	want := "mcpServers:\n  - name: r\n    type: stdio\n    command: \"/usr/local/bin/mcpgov\"\n    args: [\"shim\", \"--secret-query\", \"api_key=vault:config/continue/r/query-api_key\", \"--secret-header\", \"Authorization=vault:config/continue/r/header-Authorization\", \"--header\", \"X-Team: blue\", \"--secret-origin\", \"https://h.example.com:443\", \"--url\", \"https://h.example.com/mcp?api_key=\"]\n    # from the team wiki\n" +
		text[strings.Index(text, "  - name: t\n"):]
	assertMoved(t, state, path, out, want, secretA, secretB)
	if v["vault:config/continue/r/header-Authorization"] != "Bearer "+secretB || v["vault:config/continue/r/query-api_key"] != secretA {
		t.Errorf("vault: %v", v)
	}
	assertUnwrapped(t, home, path, text, o)
}
