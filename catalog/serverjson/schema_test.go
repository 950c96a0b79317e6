package serverjson

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/xeipuuv/gojsonschema"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/serverjson/schema"
)

func sjLoadOfficialSchema(t *testing.T) *gojsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(sjOfficialSchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	official, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(data))
	if err != nil {
		t.Fatalf("official schema: %v", err)
	}
	return official
}

func sjSchemaErrors(t *testing.T, official *gojsonschema.Schema, doc []byte) []string {
	t.Helper()
	res, err := official.Validate(gojsonschema.NewBytesLoader(doc))
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	var errs []string
	for _, e := range res.Errors() {
		errs = append(errs, e.String())
	}
	return errs
}

// TestExportsMatchOfficialSchema validates every export — imported samples,
// the starter catalog and the extra entries — with the official schema.
func TestExportsMatchOfficialSchema(t *testing.T) {
	official := sjLoadOfficialSchema(t)
	check := func(name string, out []byte) {
		if errs := sjSchemaErrors(t, official, out); len(errs) > 0 {
			t.Errorf("%s: export fails the official schema: %v\n%s", name, errs, out)
		}
	}
	for _, f := range sjSampleFiles(t) {
		for _, doc := range sjSampleDocs(t, f) {
			if errs := sjSchemaErrors(t, official, doc); len(errs) > 0 {
				t.Errorf("sample %s is itself invalid: %v", f, errs)
			}
		}
		for _, imp := range sjImportFile(t, f) {
			out, err := Export(imp.Server, imp.Registry)
			if err != nil {
				t.Fatal(err)
			}
			check(imp.Server.ID, out)
		}
	}
	text, _ := os.ReadFile("../starter/catalog.toml")
	c, _ := catalog.Parse("catalog.toml", text)
	for _, s := range append(c.Servers, sjExtraServers()...) {
		out, err := Export(s, nil)
		if err != nil {
			t.Fatalf("%s: %v", s.ID, err)
		}
		check(s.ID, out)
	}
}

// TestServerJSONValidatorAgreesWithSchema holds the Go validation to the
// official schema: each mutation of a valid document is judged the same
// way by both, and the Go error names the path.
func TestServerJSONValidatorAgreesWithSchema(t *testing.T) {
	official := sjLoadOfficialSchema(t)
	base, _ := os.ReadFile("testdata/serverjson/github.json")
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		path  string // "" when valid
		extra bool   // registry rule beyond the schema: Go rejects, schema accepts
	}{
		{"unchanged", func(m map[string]any) {}, "", false},
		{"no name", func(m map[string]any) { delete(m, "name") }, "name: is required", false},
		{"no description", func(m map[string]any) { delete(m, "description") }, "description: is required", false},
		{"no version", func(m map[string]any) { delete(m, "version") }, "version: is required", false},
		{"name without slash", func(m map[string]any) { m["name"] = "github-mcp-server" }, "name: ", false},
		{"name with two slashes", func(m map[string]any) { m["name"] = "io.github/github/server" }, "name: ", false},
		{"name too short", func(m map[string]any) { m["name"] = "a/" }, "name: ", false},
		{"name is a number", func(m map[string]any) { m["name"] = 42 }, "name: must be a string, not a number", false},
		{"description too long", func(m map[string]any) { m["description"] = strings.Repeat("x", 101) }, "description: must be at most 100 characters, got 101", false},
		{"description 100 runes", func(m map[string]any) { m["description"] = strings.Repeat("é", 100) }, "", false},
		{"empty title", func(m map[string]any) { m["title"] = "" }, "title: must not be empty", false},
		{"website not a URI", func(m map[string]any) { m["websiteUrl"] = "github.com/x" }, "websiteUrl: ", false},
		{"repository without source", func(m map[string]any) { delete(m["repository"].(map[string]any), "source") }, "repository.source: is required", false},
		{"icon bad mime", func(m map[string]any) { mutIcon(m)["mimeType"] = "image/gif" }, `icons[0].mimeType: "image/gif" is not one of`, false},
		{"icon bad size", func(m map[string]any) { mutIcon(m)["sizes"] = []any{"big"} }, `icons[0].sizes[0]: "big"`, false},
		{"icon bad theme", func(m map[string]any) { mutIcon(m)["theme"] = "blue" }, "icons[0].theme", false},
		{"packages not array", func(m map[string]any) { m["packages"] = map[string]any{} }, "packages: must be an array, not an object", false},
		{"package without transport", func(m map[string]any) { delete(mutPkg(m, 0), "transport") }, "packages[0].transport: is required", false},
		{"package without identifier", func(m map[string]any) { delete(mutPkg(m, 1), "identifier") }, "packages[1].identifier: is required", false},
		{"package without registryType", func(m map[string]any) { delete(mutPkg(m, 0), "registryType") }, "packages[0].registryType: is required", false},
		{"package transport websocket", func(m map[string]any) { mutPkg(m, 0)["transport"] = map[string]any{"type": "websocket"} }, `packages[0].transport.type: "websocket" is not one of stdio, streamable-http, sse`, false},
		{"package http transport without url", func(m map[string]any) { mutPkg(m, 0)["transport"] = map[string]any{"type": "streamable-http"} }, "packages[0].transport.url: is required", false},
		{"package version latest", func(m map[string]any) { mutPkg(m, 0)["version"] = "latest" }, `packages[0].version: "latest" is not a version`, false},
		{"package version empty", func(m map[string]any) { mutPkg(m, 0)["version"] = "" }, "packages[0].version: must not be empty", false},
		{"package bad sha256", func(m map[string]any) { mutPkg(m, 0)["fileSha256"] = "ABC" }, "packages[0].fileSha256", false},
		{"argument without type", func(m map[string]any) { delete(mutArg(m, "packageArguments", 0), "type") }, "packages[1].packageArguments[0].type: is required", false},
		{"positional without value", func(m map[string]any) { delete(mutArg(m, "packageArguments", 0), "value") }, "packages[1].packageArguments[0]: a positional argument needs value or valueHint", false},
		{"named without name", func(m map[string]any) { delete(mutArg(m, "runtimeArguments", 0), "name") }, "packages[1].runtimeArguments[0].name: is required", false},
		{"argument type flag", func(m map[string]any) { mutArg(m, "runtimeArguments", 0)["type"] = "flag" }, `runtimeArguments[0].type: "flag" is not one of positional, named`, false},
		{"env without name", func(m map[string]any) { delete(mutEnv(m, 0), "name") }, "packages[0].environmentVariables[0].name: is required", false},
		{"env isSecret string", func(m map[string]any) { mutEnv(m, 0)["isSecret"] = "yes" }, "packages[0].environmentVariables[0].isSecret: must be a boolean, not a string", false},
		{"env bad format", func(m map[string]any) { mutEnv(m, 0)["format"] = "date" }, `environmentVariables[0].format: "date" is not one of string, number, boolean, filepath`, false},
		{"env choices numbers", func(m map[string]any) { mutEnv(m, 0)["choices"] = []any{1} }, "environmentVariables[0].choices[0]: must be a string", false},
		{"remote stdio", func(m map[string]any) { mutRemote(m)["type"] = "stdio" }, `remotes[0].type: "stdio" is not one of streamable-http, sse`, false},
		{"remote without url", func(m map[string]any) { delete(mutRemote(m), "url") }, "remotes[0].url: is required", false},
		{"remote ftp url", func(m map[string]any) { mutRemote(m)["url"] = "ftp://x/mcp" }, "remotes[0].url", false},
		{"remote url with space", func(m map[string]any) { mutRemote(m)["url"] = "https://x/m cp" }, "remotes[0].url", false},
		{"header without name", func(m map[string]any) {
			delete(mutRemote(m)["headers"].([]any)[0].(map[string]any), "name")
		}, "remotes[0].headers[0].name: is required", false},
		{"remote variable not object", func(m map[string]any) {
			mutRemote(m)["variables"] = map[string]any{"tenant": "x"}
		}, "remotes[0].variables.tenant: must be an object", false},
		{"_meta not object", func(m map[string]any) { m["_meta"] = []any{} }, "_meta: must be an object, not an array", false},
		{"publisher-provided not object", func(m map[string]any) {
			m["_meta"].(map[string]any)["io.modelcontextprotocol.registry/publisher-provided"] = "x"
		}, "_meta.io.modelcontextprotocol.registry/publisher-provided: must be an object", false},
		{"unknown top-level field", func(m map[string]any) { m["x-extra"] = true }, "", false},
		{"registryType cargo", func(m map[string]any) { mutPkg(m, 0)["registryType"] = "cargo" }, `packages[0].registryType: "cargo" is not one of npm, pypi, oci, nuget, mcpb`, true},
		{"empty identifier", func(m map[string]any) { mutPkg(m, 0)["identifier"] = "" }, "packages[0].identifier: must not be empty", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			json.Unmarshal(base, &m)
			c.edit(m)
			doc, _ := json.Marshal(m)
			goErr := schema.Validate(doc)
			schemaErrs := sjSchemaErrors(t, official, doc)
			switch {
			case c.path == "" && goErr != nil:
				t.Errorf("Go rejects a valid document: %v", goErr)
			case c.path != "" && (goErr == nil || !strings.Contains(goErr.Error(), c.path)):
				t.Errorf("Go error %v, want one containing %q", goErr, c.path)
			}
			if schemaOK := len(schemaErrs) == 0; schemaOK != (c.path == "" || c.extra) {
				t.Errorf("official schema says valid=%v (%v); Go says %v", schemaOK, schemaErrs, goErr)
			}
		})
	}
}

func mutPkg(m map[string]any, i int) map[string]any {
	return m["packages"].([]any)[i].(map[string]any)
}

func mutArg(m map[string]any, kind string, i int) map[string]any {
	return mutPkg(m, 1)[kind].([]any)[i].(map[string]any)
}

func mutEnv(m map[string]any, i int) map[string]any {
	return mutPkg(m, 0)["environmentVariables"].([]any)[i].(map[string]any)
}

func mutRemote(m map[string]any) map[string]any { return m["remotes"].([]any)[0].(map[string]any) }

func mutIcon(m map[string]any) map[string]any { return m["icons"].([]any)[0].(map[string]any) }

func TestImportErrors(t *testing.T) {
	valid := `{"name": "io.github.acme/tool", "description": "d", "version": "1.0.0"}`
	withGov := func(gov string) string {
		return `{"name": "io.github.acme/tool", "description": "d", "version": "1.0.0", "_meta": {"io.mcpgov/governance": ` + gov + `}}`
	}
	cases := []struct {
		name, input string
		want        []string
	}{
		{"syntax", "{\n  \"name\": \"a/b\",\n  \"description\" \"d\"\n}", []string{"invalid JSON at line 3, column 17"}},
		{"not utf-8", "{\"name\": \"\xff\"}", []string{"not valid UTF-8"}},
		{"scalar", `"server"`, []string{"must be a JSON object or array"}},
		{"empty array", `[]`, []string{"no server.json documents"}},
		{"empty listing", `{"servers": []}`, []string{"no server.json documents"}},
		{"listing servers not array", `{"servers": {}}`, []string{"servers must be an array"}},
		{"data without servers", `{"data": []}`, []string{`"data" must be an object holding "servers"`}},
		{"array item", `[` + valid + `, {"name": "io.github.acme/other", "version": "1"}]`, []string{"[1] (io.github.acme/other): description: is required"}},
		{"listing item", `{"servers": [{"server": ` + valid + `}, {"server": {"name": "bad name", "description": "d", "version": "1"}}]}`,
			[]string{`servers[1].server (bad name): name: "bad name" is not reverse-DNS`}},
		{"data listing item", `{"data": {"servers": [{"server": {"description": "d", "version": "1"}}]}}`, []string{"data.servers[0].server: name: is required"}},
		{"every bad document reported", `[{"version": "1"}, ` + valid + `, {"name": "a/b"}]`,
			[]string{"[0]: 2 problems: name: is required; description: is required", "[2] (a/b): 2 problems"}},
		{"2025-07-09 format", `{"$schema": "https://static.modelcontextprotocol.io/schemas/2025-07-09/server.schema.json", "name": "a.b/c", "description": "d", "version": "1",
			"packages": [{"registry_type": "npm", "identifier": "x", "transport": {"type": "stdio"}}]}`,
			[]string{"$schema: https://static.modelcontextprotocol.io/schemas/2025-07-09/server.schema.json is the 2025-07-09 format", "packages[0].registry_type: snake_case fields"}},
		{"duplicate key", `{"name": "a.b/c", "description": "d", "version": "1", "name": "a.b/d"}`, []string{`duplicate key "name"`}},
		{"duplicate _meta key", `{"name": "a.b/c", "description": "d", "version": "1", "_meta": {"k": 1, "k": 2}}`, []string{`_meta: duplicate key "k"`}},
		{"governance unknown key", withGov(`{"status": "approved", "colour": "blue"}`), []string{`_meta.io.mcpgov/governance: unknown key "colour"`}},
		{"governance wrong type", withGov(`{"limits": {"calls_per_minute": "many"}}`), []string{"_meta.io.mcpgov/governance.limits.calls_per_minute: must be an integer, not a JSON string"}},
		{"governance not object", withGov(`["approved"]`), []string{"_meta.io.mcpgov/governance: must be an object, not a JSON array"}},
		{"governance newer", withGov(`{"version": 2}`), []string{"_meta.io.mcpgov/governance.version: version 2 was written by a newer mcpgov"}},
		{"governance bad status", withGov(`{"status": "maybe"}`), []string{`_meta.io.mcpgov/governance: server tool: status "maybe": want approved, pending or blocked`}},
		{"governance bad id", withGov(`{"id": "Tool Server"}`), []string{`_meta.io.mcpgov/governance: id "Tool Server"`}},
		{"governance bad pin", withGov(`{"pins": {"run": "md5:1"}}`), []string{`pin for tool "run" must be sha256:`}},
		{"governance bad glob", withGov(`{"tools": {"deny": ["del[a-z]"]}}`), []string{"tools.deny", "uses [ ] or { }"}},
		{"governance review without reviewer", withGov(`{"review": {"date": "2026-01-01"}}`), []string{"review without a reviewer"}},
		{"governance bad date", withGov(`{"review": {"reviewer": "a", "date": "yesterday"}}`), []string{`review.date "yesterday": want YYYY-MM-DD`}},
		{"governance bad launch", withGov(`{"launch": {"command": "npx", "url": "https://x"}}`), []string{"launch has both command and url"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			imps, err := Import([]byte(c.input))
			if err == nil {
				t.Fatalf("imported %+v", imps)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}

	_, err := Import([]byte(`[{"version": "1"}]`))
	var se *schema.Error
	if !errors.As(err, &se) || se.Doc != "[0]" || len(se.Problems) != 2 || se.Problems[0].Path != "name" {
		t.Errorf("structured error: %#v", err)
	}
}

func TestExportErrors(t *testing.T) {
	if _, err := Export(nil, nil); err == nil {
		t.Error("nil server exported")
	}
	s := &catalog.Server{ID: "x", Status: catalog.StatusPending}
	for rec, want := range map[string]string{
		`{"name": "a.b/c"}`: "server x: registry.server_json: server.json (a.b/c): 2 problems: description: is required; version: is required",
		`not json`:          "server x: registry.server_json: server.json: invalid JSON",
		`{"name": "a.b/c", "description": "d", "version": "1", "_meta": []}`: "_meta: must be an object",
	} {
		if _, err := Export(s, &catalog.RegistryRecord{ServerJSON: rec}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("record %s: %v, want %q", rec, err, want)
		}
	}
	if _, err := Export(&catalog.Server{ID: "Bad ID", Status: catalog.StatusPending}, nil); err == nil || !strings.Contains(err.Error(), "exported server.json is invalid") {
		t.Errorf("bad id: %v", err)
	}
}
