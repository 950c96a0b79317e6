package serverjson

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/serverjson/schema"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// The official 2025-12-11 schema, copied from the registry's Go module
// (github.com/modelcontextprotocol/registry@v1.5.0,
// internal/validators/schemas/2025-12-11.json).
const sjOfficialSchemaFile = "testdata/serverjson/server.schema.2025-12-11.json"

// sjSampleFiles are every server.json sample: single documents, arrays and
// registry listings.
func sjSampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/serverjson/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if f != sjOfficialSchemaFile {
			out = append(out, f)
		}
	}
	if len(out) < 6 {
		t.Fatalf("samples missing: %v", out)
	}
	return out
}

func sjImportFile(t *testing.T, name string) []ImportedServer {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	imps, err := Import(data)
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return imps
}

// sjSampleDocs extracts the documents of a sample independently of the code
// under test, as sjGeneric JSON.
func sjSampleDocs(t *testing.T, name string) []json.RawMessage {
	t.Helper()
	data, _ := os.ReadFile(name)
	var top any
	json.Unmarshal(data, &top)
	var items []json.RawMessage
	switch v := top.(type) {
	case []any:
		json.Unmarshal(data, &items)
	case map[string]any:
		var wrap struct {
			Servers []json.RawMessage `json:"servers"`
			Data    struct {
				Servers []json.RawMessage `json:"servers"`
			} `json:"data"`
		}
		json.Unmarshal(data, &wrap)
		switch {
		case v["servers"] != nil:
			items = wrap.Servers
		case v["data"] != nil:
			items = wrap.Data.Servers
		default:
			return []json.RawMessage{data}
		}
	}
	for i, it := range items {
		var entry struct {
			Server json.RawMessage `json:"server"`
		}
		if json.Unmarshal(it, &entry); entry.Server != nil {
			items[i] = entry.Server
		}
	}
	return items
}

// sjGeneric decodes JSON keeping numbers as written.
func sjGeneric(t *testing.T, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// sjWithoutGovernance drops _meta[GovernanceMetaKey] (and _meta if that
// leaves it empty).
func sjWithoutGovernance(v any) any {
	m := v.(map[string]any)
	if meta, ok := m["_meta"].(map[string]any); ok {
		delete(meta, GovernanceMetaKey)
		if len(meta) == 0 {
			delete(m, "_meta")
		}
	}
	return m
}

func sjObjectKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	members, err := sjParseObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range members {
		if m.Key != "_meta" {
			keys = append(keys, m.Key)
			continue
		}
		inner, _ := sjParseObject(m.Value)
		if len(inner) == 1 && inner[0].Key == GovernanceMetaKey {
			continue // _meta holding only the governance block export added
		}
		keys = append(keys, m.Key)
		for _, im := range inner {
			if im.Key != GovernanceMetaKey {
				keys = append(keys, "_meta."+im.Key)
			}
		}
	}
	return keys
}

func TestImportSamples(t *testing.T) {
	type want struct {
		id, title string
		launch    catalog.Launch
		match     catalog.Match
		status    catalog.Status
		warnings  []string // substrings, in order
	}
	cases := map[string][]want{
		"github.json": {{
			id: "github-mcp-server", title: "GitHub", status: catalog.StatusPending,
			launch: catalog.Launch{Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-github@2025.4.8"}, Env: []string{"GITHUB_PERSONAL_ACCESS_TOKEN"}},
			match: catalog.Match{
				Packages: []string{"npm:@modelcontextprotocol/server-github@2025.4.8", "oci:ghcr.io/github/github-mcp-server:0.26.3"},
				URLs:     []string{"https://api.githubcopilot.com/mcp"}, // as scans report it
			},
		}},
		"fetch-pypi.json": {{
			id: "fetch", title: "Fetch", status: catalog.StatusPending,
			launch: catalog.Launch{Command: "uvx", Args: []string{"mcp-server-fetch==2025.4.7", "--user-agent", "ModelContextProtocol/1.0 (Autonomous; +https://github.com/modelcontextprotocol/servers)"}},
			match:  catalog.Match{Packages: []string{"pypi:mcp-server-fetch==2025.4.7"}},
			warnings: []string{
				"packages[0]: packageArguments[1] --ignore-robots-txt has no fixed value",
				"packages[0]: packageArguments[2] --proxy-url has no fixed value",
			},
		}},
		"registry-listing.json": {
			{
				id: "airtable-mcp-server", status: catalog.StatusPending,
				launch:   catalog.Launch{Command: "npx", Args: []string{"-y", "airtable-mcp-server@1.7.2"}, Env: []string{"AIRTABLE_API_KEY"}},
				match:    catalog.Match{Packages: []string{"npm:airtable-mcp-server@1.7.2"}},
				warnings: []string{"packages[1]: mcpb package https://github.com/domdomegg/", "the registry marks this version deprecated"},
			},
			{
				id: "airtable-mcp-server-1.7.3", status: catalog.StatusPending,
				launch:   catalog.Launch{Command: "npx", Args: []string{"-y", "airtable-mcp-server@1.7.3"}, Env: []string{"AIRTABLE_API_KEY"}},
				match:    catalog.Match{Packages: []string{"npm:airtable-mcp-server@1.7.3", "oci:docker.io/domdomegg/airtable-mcp-server:1.7.3"}},
				warnings: []string{`id "airtable-mcp-server" is taken by another document in this input; using "airtable-mcp-server-1.7.3"`},
			},
			{
				id: "support_desk", title: "Support Desk", status: catalog.StatusPending,
				launch:   catalog.Launch{Transport: "sse", URL: "https://{tenant}.support.example.com/mcp/sse", Headers: []string{"X-API-Key"}},
				match:    catalog.Match{URLs: []string{"https://*.support.example.com/mcp/sse", "https://*.support.example.com/mcp"}},
				warnings: []string{"remotes[0]: url https://{tenant}.support.example.com/mcp/sse is a template"},
			},
		},
		"data-listing.json": {
			{
				id: "time-mcp-nuget", status: catalog.StatusPending,
				launch: catalog.Launch{Command: "dnx", Args: []string{"TimeMcpServer@1.0.8", "--yes", "--", "mcp", "start"}},
			},
			{
				id: "weather-mcpb", status: catalog.StatusPending,
				warnings: []string{
					"packages[0]: mcpb package https://github.com/example/weather-mcp/releases/download/v0.3.1/weather.mcpb has no standard launch command",
					"no stdio package or remote to launch",
					"is not matched in scans",
				},
			},
		},
		"array.json": {
			{
				id: "hybrid-mcp", title: "Hybrid", status: catalog.StatusPending,
				launch: catalog.Launch{Command: "npx", Args: []string{"-y", "@example/hybrid-mcp-server@1.5.0"}},
				match: catalog.Match{
					Packages: []string{"npm:@example/hybrid-mcp-server@1.5.0"},
					URLs:     []string{"https://mcp.anonymous.modelcontextprotocol.io/http", "https://mcp.anonymous.modelcontextprotocol.io/sse"},
				},
				warnings: []string{"packageArguments[0] --mode has no fixed value"},
			},
			{
				id: "database-manager", status: catalog.StatusPending,
				launch: catalog.Launch{Command: "docker", Args: []string{"run", "-i", "--rm", "--network", "host", "-e", "DB_USERNAME", "-e", "DB_PASSWORD", "docker.io/example/database-manager-mcp:3.1.0"},
					Env: []string{"DB_USERNAME", "DB_PASSWORD"}},
				match:    catalog.Match{Packages: []string{"oci:docker.io/example/database-manager-mcp:3.1.0", "npm:@example/database-manager-http@3.1.0"}},
				warnings: []string{"runtimeArguments[1] -e has no fixed value", "packageArguments[0] database_name has no fixed value"},
			},
		},
		"governed.json": {{
			id: "atlassian", title: "Atlassian", status: catalog.StatusApproved,
			launch: catalog.Launch{Transport: "sse", URL: "https://mcp.atlassian.com/v1/sse"},
			match:  catalog.Match{URLs: []string{"https://mcp.atlassian.com/v1/sse", "https://mcp.atlassian.com/v1/mcp", "https://mcp.atlassian.com/v1/*"}},
		}},
	}
	for _, f := range sjSampleFiles(t) {
		base := filepath.Base(f)
		wants, ok := cases[base]
		if !ok {
			t.Errorf("sample %s has no expectations in TestImportSamples", base)
			continue
		}
		t.Run(base, func(t *testing.T) {
			imps := sjImportFile(t, f)
			if len(imps) != len(wants) {
				t.Fatalf("%d servers, want %d", len(imps), len(wants))
			}
			for i, w := range wants {
				s := imps[i].Server
				if s.ID != w.id || s.Title != w.title || s.Status != w.status {
					t.Errorf("[%d] id/title/status = %q %q %q, want %q %q %q", i, s.ID, s.Title, s.Status, w.id, w.title, w.status)
				}
				if !sjLaunchEqual(s.Launch, w.launch) {
					t.Errorf("[%d] launch = %+v\nwant %+v", i, s.Launch, w.launch)
				}
				if !reflect.DeepEqual(sjNormMatch(s.Match), sjNormMatch(w.match)) {
					t.Errorf("[%d] match = %+v\nwant %+v", i, s.Match, w.match)
				}
				warnings := strings.Join(imps[i].Warnings, "\n")
				rest := warnings
				for _, sub := range w.warnings {
					at := strings.Index(rest, sub)
					if at < 0 {
						t.Errorf("[%d] warnings lack %q (in order):\n%s", i, sub, warnings)
						break
					}
					rest = rest[at+len(sub):]
				}
				if len(w.warnings) == 0 && len(imps[i].Warnings) > 0 {
					t.Errorf("[%d] unexpected warnings:\n%s", i, warnings)
				}
			}
		})
	}
}

func sjNormMatch(m catalog.Match) catalog.Match {
	n := func(l []string) []string {
		if len(l) == 0 {
			return nil
		}
		return l
	}
	return catalog.Match{Packages: n(m.Packages), Commands: n(m.Commands), URLs: n(m.URLs)}
}

// TestImportedLaunchMatchesScans checks the launch conventions against the
// scanner: what a developer writes in a client config for the package or
// remote finds the imported entry.
func TestImportedLaunchMatchesScans(t *testing.T) {
	var c catalog.Catalog
	for _, f := range sjSampleFiles(t) {
		for _, imp := range sjImportFile(t, f) {
			c.Servers = append(c.Servers, imp.Server)
		}
	}
	cases := []struct {
		command  string
		args     []string
		url      string
		id       string
		approved bool
	}{
		{"npx", []string{"-y", "@modelcontextprotocol/server-github@2025.4.8"}, "", "github-mcp-server", true},
		{"npx", []string{"@modelcontextprotocol/server-github@2024.1.1"}, "", "github-mcp-server", false},
		{"docker", []string{"run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server:0.26.3"}, "", "github-mcp-server", true},
		{"", nil, "https://api.githubcopilot.com/mcp/", "github-mcp-server", true},
		{"uvx", []string{"mcp-server-fetch==2025.4.7"}, "", "fetch", true},
		{"docker", []string{"run", "-i", "--rm", "domdomegg/airtable-mcp-server:1.7.3"}, "", "airtable-mcp-server-1.7.3", true},
		{"", nil, "https://acme.support.example.com/mcp", "support_desk", true},
		{"dnx", []string{"TimeMcpServer@1.0.8", "--yes", "--", "mcp", "start"}, "", "time-mcp-nuget", true},
	}
	for _, tc := range cases {
		m, ok := c.Match(launch.Analyze(tc.command, tc.args, tc.url))
		if !ok || m.Server.ID != tc.id || m.VersionApproved != tc.approved {
			got := "no match"
			if ok {
				got = m.Server.ID
			}
			t.Errorf("%s %q %s: matched %s (approved %v), want %s (approved %v)", tc.command, tc.args, tc.url, got, m.VersionApproved, tc.id, tc.approved)
		}
	}
	// Each imported launch is recognised as itself.
	for _, s := range c.Servers {
		if s.Launch.Command == "" && s.Launch.URL == "" {
			continue
		}
		if m, ok := c.Match(launch.Analyze(s.Launch.Command, s.Launch.Args, s.Launch.URL)); !ok || m.Server != s {
			t.Errorf("%s: its own launch %+v does not match it", s.ID, s.Launch)
		}
	}
}

// TestServerJSONRoundTrip: every document of every sample exports back as
// itself — every field and _meta key, in order — plus the governance block.
func TestServerJSONRoundTrip(t *testing.T) {
	for _, f := range sjSampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			docs := sjSampleDocs(t, f)
			imps := sjImportFile(t, f)
			if len(docs) != len(imps) {
				t.Fatalf("%d documents, %d imported", len(docs), len(imps))
			}
			// Through catalog.toml as well: the registry table read back by
			// the TOML decoder must give the same export.
			text, err := AppendTOML("", imps)
			if err != nil {
				t.Fatal(err)
			}
			var fromTOML struct {
				Servers map[string]struct {
					Registry *catalog.RegistryRecord `toml:"registry"`
				} `toml:"servers"`
			}
			if _, err := toml.Decode(text, &fromTOML); err != nil {
				t.Fatalf("appended TOML does not decode: %v\n%s", err, text)
			}
			for i, imp := range imps {
				out, err := Export(imp.Server, imp.Registry)
				if err != nil {
					t.Fatalf("[%d] export: %v", i, err)
				}
				got, want := sjWithoutGovernance(sjGeneric(t, out)), sjWithoutGovernance(sjGeneric(t, docs[i]))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("[%d] export differs from the original:\n%s", i, out)
				}
				if g, w := sjObjectKeys(t, out), sjObjectKeys(t, docs[i]); !reflect.DeepEqual(g, w) {
					t.Errorf("[%d] key order %q, want %q", i, g, w)
				}
				gov := sjGeneric(t, out).(map[string]any)["_meta"].(map[string]any)[GovernanceMetaKey].(map[string]any)
				if gov["id"] != imp.Server.ID || gov["status"] != string(imp.Server.Status) || gov["version"] != json.Number("1") {
					t.Errorf("[%d] governance block %v", i, gov)
				}

				rec := fromTOML.Servers[imp.Server.ID].Registry
				if rec == nil || rec.ServerJSON != imp.Registry.ServerJSON {
					t.Fatalf("[%d] registry.server_json read back from TOML differs:\n%q\nwant\n%q", i, rec, imp.Registry.ServerJSON)
				}
				viaTOML, err := Export(imp.Server, rec)
				if err != nil || !bytes.Equal(viaTOML, out) {
					t.Errorf("[%d] export via TOML differs: %v", i, err)
				}

				// Import the export: the same entry comes back.
				again, err := Import(out)
				if err != nil {
					t.Fatalf("[%d] re-import: %v", i, err)
				}
				sjAssertSameServer(t, again[0].Server, imp.Server)
			}
		})
	}
}

func TestGovernedSampleExportsByteForByte(t *testing.T) {
	data, _ := os.ReadFile("testdata/serverjson/governed.json")
	imps := sjImportFile(t, "testdata/serverjson/governed.json")
	s := imps[0].Server
	if s.Owner != "collaboration-tools" || s.Risk != catalog.RiskHigh || s.Auth.Legacy != "oauth" || s.FailMode != catalog.FailClosed ||
		!reflect.DeepEqual(s.DataScope, []string{"issues", "wiki-pages"}) || !reflect.DeepEqual(s.Groups, []string{"engineering", "support"}) ||
		!reflect.DeepEqual(s.Tools.Deny, []string{"delete*"}) || s.Limits.CallsPerMinute != 60 || s.Limits.Tools["createJiraIssue"] != 5 ||
		len(s.Pins) != 2 || s.Review == nil || s.Review.Reviewer != "alice@example.com" || s.Review.Date.Format("2006-01-02") != "2026-01-15" {
		t.Fatalf("governance not restored: %+v", s)
	}
	out, err := Export(s, imps[0].Registry)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, data) {
		t.Errorf("export of an unchanged governed document differs from it:\n%s", out)
	}
	// Changing governance rewrites only the block, in place.
	s.Status = catalog.StatusBlocked
	s.Pins = nil
	out, _ = Export(s, imps[0].Registry)
	if !strings.Contains(string(out), `"status": "blocked"`) || strings.Contains(string(out), `"pins"`) {
		t.Errorf("governance change not exported:\n%s", out)
	}
	if g, w := sjObjectKeys(t, out), sjObjectKeys(t, data); !reflect.DeepEqual(g, w) {
		t.Errorf("key order %q, want %q", g, w)
	}
}

// sjAssertSameServer compares catalog entries as the catalog sees them.
func sjAssertSameServer(t *testing.T, got, want *catalog.Server) {
	t.Helper()
	norm := func(s *catalog.Server) catalog.Server {
		c := *s
		c.Line = 0
		c.Match = sjNormMatch(c.Match)
		for _, l := range []*[]string{&c.DataScope, &c.Groups, &c.Launch.Args, &c.Launch.Env, &c.Launch.Headers, &c.Tools.Allow, &c.Tools.Deny} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		if len(c.Pins) == 0 {
			c.Pins = nil
		}
		if len(c.Limits.Tools) == 0 {
			c.Limits.Tools = nil
		}
		if c.Review != nil {
			r := *c.Review
			r.Date, _ = time.Parse("2006-01-02", r.Date.Format("2006-01-02"))
			c.Review = &r
		}
		return c
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("server differs:\n got %+v\nwant %+v", g, w)
	}
}

// TestCatalogEntriesRoundTrip: an entry that was never imported exports as
// a valid server.json that imports back as the same entry.
func TestCatalogEntriesRoundTrip(t *testing.T) {
	text, err := os.ReadFile("../starter/catalog.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse("catalog.toml", text)
	if err != nil {
		t.Fatal(err)
	}
	servers := append(c.Servers, sjExtraServers()...)
	for _, s := range servers {
		t.Run(s.ID, func(t *testing.T) {
			out, err := Export(s, nil)
			if err != nil {
				t.Fatal(err)
			}
			doc := sjGeneric(t, out).(map[string]any)
			if doc["name"] != CatalogNamespace+"/"+s.ID || doc["$schema"] != schema.URL {
				t.Errorf("name/$schema: %v %v", doc["name"], doc["$schema"])
			}
			imps, err := Import(out)
			if err != nil {
				t.Fatalf("re-import: %v\n%s", err, out)
			}
			sjAssertSameServer(t, imps[0].Server, s)
			if s.Launch.Protocol != "" {
				// Written into a catalog, it keeps its protocol.
				text, err := AppendTOML("", imps)
				if err != nil {
					t.Fatal(err)
				}
				back, err := catalog.Parse("catalog.toml", []byte(text))
				if err != nil || back.Server(s.ID) == nil || back.Server(s.ID).Launch.Protocol != s.Launch.Protocol {
					t.Errorf("written into a catalog and read back: %v\n%s", err, text)
				}
			}
		})
	}

	// What the export says about the starter's servers.
	everything, _ := Export(c.Server("everything"), nil)
	if !strings.Contains(string(everything), `"identifier": "@modelcontextprotocol/server-everything"`) ||
		!strings.Contains(string(everything), `"runtimeHint": "npx"`) || strings.Contains(string(everything), `"launch"`) {
		t.Errorf("everything:\n%s", everything)
	}
	github, _ := Export(c.Server("github"), nil)
	for _, want := range []string{`"type": "streamable-http"`, `"url": "https://api.githubcopilot.com/mcp"`, `"npm:@modelcontextprotocol/server-github@2025.4.*"`} {
		if !strings.Contains(string(github), want) {
			t.Errorf("github export lacks %s:\n%s", want, github)
		}
	}
}

// sjExtraServers exercise the export paths the starter does not.
func sjExtraServers() []*catalog.Server {
	long := strings.Repeat("Reads and writes the data warehouse; ", 5)
	return []*catalog.Server{
		{
			ID: "warehouse", Title: "Data warehouse", Description: long, Status: catalog.StatusApproved, Owner: "data-platform",
			Risk: catalog.RiskCritical, DataScope: []string{"customer-data"}, Auth: catalog.Auth{Legacy: "oidc"}, FailMode: catalog.FailOpen,
			Launch: catalog.Launch{Command: "docker", Args: []string{"run", "-i", "--rm", "-e", "DWH_TOKEN", "ghcr.io/acme/dwh-mcp@sha256:" + strings.Repeat("ab", 32)}, Env: []string{"DWH_TOKEN"}},
			Match:  catalog.Match{Commands: []string{"dwh-mcp *"}, Packages: []string{"oci:ghcr.io/acme/dwh-mcp@sha256:" + strings.Repeat("ab", 32), "pypi:dwh-mcp==2.0.1"}},
			Limits: catalog.Limits{CallsPerMinute: 30, Tools: map[string]int{"run query": 2}},
			Pins:   map[string]string{"run query": "sha256:" + strings.Repeat("0", 64)},
			Review: &catalog.Review{Reviewer: "bob", Date: time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC), Notes: "ok"},
		},
		{
			ID: "legacy-sse", Status: catalog.StatusBlocked,
			Launch: catalog.Launch{Transport: "sse", URL: "https://legacy.example.com/sse", Headers: []string{"Authorization", "X-Tenant"}},
			Match:  catalog.Match{URLs: []string{"https://legacy.example.com/*", "https://legacy-eu.example.com/sse"}},
		},
		{
			ID: "local-script", Title: "Local script", Status: catalog.StatusPending,
			Launch: catalog.Launch{Command: "node", Args: []string{"/opt/mcp/server.js", "--stdio"}},
		},
		{
			ID: "bare", Status: catalog.StatusPending,
		},
		{
			ID: "sessionless", Status: catalog.StatusApproved,
			Launch: catalog.Launch{URL: "https://sessionless.example.com/mcp", Protocol: catalog.ProtocolStateless},
		},
		{
			ID: "bridged", Status: catalog.StatusApproved, Description: "Remote server through mcp-remote",
			Launch: catalog.Launch{Command: "npx", Args: []string{"mcp-remote", "https://mcp.example.com/mcp"}},
		},
	}
}

func TestImportAcceptsBOMAndListingExtras(t *testing.T) {
	data, _ := os.ReadFile("testdata/serverjson/fetch-pypi.json")
	imps, err := Import(append([]byte("\xef\xbb\xbf"), data...))
	if err != nil || len(imps) != 1 || imps[0].Source != "server.json" {
		t.Fatalf("BOM: %v", err)
	}
	listing := sjImportFile(t, "testdata/serverjson/registry-listing.json")
	if listing[0].Source != "servers[0].server" || listing[0].RegistryStatus != "deprecated" || listing[1].RegistryStatus != "active" {
		t.Errorf("listing sources: %+v", listing[0])
	}
	data2 := sjImportFile(t, "testdata/serverjson/data-listing.json")
	if data2[1].Source != "data.servers[1].server" {
		t.Errorf("data listing source %q", data2[1].Source)
	}
	// An array may mix bare documents and registry entries.
	mixed := `[{"server": {"name": "a.b/one", "description": "d", "version": "1"}, "_meta": {}}, {"name": "a.b/two", "description": "d", "version": "1"}]`
	imps, err = Import([]byte(mixed))
	if err != nil || imps[0].Server.ID != "one" || imps[1].Server.ID != "two" || imps[0].Source != "[0].server" {
		t.Errorf("mixed array: %v %+v", err, imps)
	}
}

func TestServerIDs(t *testing.T) {
	for name, want := range map[string]string{
		"io.github.github/github-mcp-server":     "github-mcp-server",
		"com.example/Support_Desk":               "support_desk",
		"com.example/..hidden":                   "hidden",
		"com.example/" + strings.Repeat("a", 80): strings.Repeat("a", 63),
		"com.example/___":                        "server",
	} {
		if got := sjIDFromName(name); got != want || !catalog.ValidID(got) {
			t.Errorf("id for %q = %q, want %q", name, got, want)
		}
	}
	used := map[string]bool{"x": true, "x-1.0": true, "x-2": true}
	if got := sjUniqueID("x", "1.0", used); got != "x-3" {
		t.Errorf("unique = %q", got)
	}
	if got := sjUniqueID("x", "", map[string]bool{"x": true}); got != "x-2" {
		t.Errorf("unique = %q", got)
	}
	long := strings.Repeat("b", 63)
	if got := sjUniqueID(long, "", map[string]bool{long: true}); len(got) > 63 || !strings.HasSuffix(got, "-2") {
		t.Errorf("long unique = %q", got)
	}
	// The same document twice in one input.
	doc := `{"name": "a.b/dup", "description": "d", "version": "1"}`
	imps, err := Import([]byte("[" + doc + "," + doc + "]"))
	if err != nil || imps[0].Server.ID != "dup" || imps[1].Server.ID != "dup-1" {
		t.Errorf("dedup: %v %q %q", err, imps[0].Server.ID, imps[1].Server.ID)
	}
}
