package serverjson

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/scan/tomldoc"
	"os"
)

func TestAppendToCatalogTOML(t *testing.T) {
	existingBytes, _ := os.ReadFile("../starter/catalog.toml")
	existing := string(existingBytes)
	var imps []ImportedServer
	for _, f := range sjSampleFiles(t) {
		imps = append(imps, sjImportFile(t, f)...)
	}
	out, err := AppendTOML(existing, imps)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, existing) {
		t.Fatal("existing text was changed")
	}
	appended := out[len(existing):]
	if !strings.Contains(appended, "# Imported from server.json: io.github.github/github-mcp-server 0.26.3\n") ||
		!strings.Contains(appended, "# owner = \"\"") || !strings.Contains(appended, "[servers.github-mcp-server.registry]\nserver_json = '''\n{\n") {
		t.Errorf("appended block:\n%s", appended)
	}

	// Without the registry tables the result loads with the strict loader.
	bare := make([]ImportedServer, len(imps))
	for i, imp := range imps {
		bare[i] = imp
		bare[i].Registry = nil
	}
	plain, err := AppendTOML(existing, bare)
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse("catalog.toml", []byte(plain))
	if err != nil {
		t.Fatalf("appended catalog does not load: %v\n%s", err, plain[len(existing):])
	}
	if len(c.Servers) != 3+len(imps) {
		t.Fatalf("%d servers", len(c.Servers))
	}
	for i, imp := range imps {
		got := c.Servers[3+i]
		want := *imp.Server
		if want.FailMode == "" {
			want.FailMode = catalog.FailClosed // the loader's default
		}
		sjAssertSameServer(t, got, &want)
	}

	// With them, the strict loader accepts the file once Server has its
	// Registry field; until then the only problems are that table's keys.
	full, err := catalog.Parse("catalog.toml", []byte(out))
	if err != nil {
		var ve *catalog.ValidationError
		if !errors.As(err, &ve) {
			t.Fatal(err)
		}
		for _, p := range ve.Problems {
			if !strings.Contains(p.Message, `unknown key "servers.`) || !strings.Contains(p.Message, `.registry`) {
				t.Errorf("problem other than the pending registry field: %v", p)
			}
		}
		t.Logf("catalog.Server has no Registry field yet: %d registry tables reported as unknown keys", len(ve.Problems))
	} else {
		for _, imp := range imps {
			s := full.Server(imp.Server.ID)
			f := reflect.ValueOf(s).Elem().FieldByName("Registry")
			if !f.IsValid() || f.IsNil() || f.Elem().FieldByName("ServerJSON").String() != imp.Registry.ServerJSON {
				t.Errorf("%s: Registry not loaded from catalog.toml", imp.Server.ID)
			}
		}
	}

	// tomldoc indexes the appended blocks, so minimal edits work on them.
	doc := tomldoc.Parse(out)
	if doc.Line("servers", "fetch") == 0 || doc.Key("servers", "fetch", "registry", "server_json") == nil {
		t.Fatal("tomldoc does not see the appended server")
	}
	edited := doc.Set(tomldoc.String("approved"), "servers", "fetch", "status")
	var after struct {
		Servers map[string]struct {
			Status   string                  `toml:"status"`
			Registry *catalog.RegistryRecord `toml:"registry"`
		} `toml:"servers"`
	}
	if _, err := toml.Decode(edited, &after); err != nil {
		t.Fatal(err)
	}
	if got := after.Servers["fetch"]; got.Status != "approved" || got.Registry == nil || got.Registry.ServerJSON != sjFindImport(imps, "fetch").Registry.ServerJSON {
		t.Errorf("after an edit: %+v", after.Servers["fetch"])
	}
}

func sjFindImport(imps []ImportedServer, id string) ImportedServer {
	for _, imp := range imps {
		if imp.Server.ID == id {
			return imp
		}
	}
	return ImportedServer{}
}

func TestAppendToCatalogTOMLRefusals(t *testing.T) {
	existingBytes, _ := os.ReadFile("../starter/catalog.toml")
	existing := string(existingBytes)
	mk := func(id string) ImportedServer {
		return ImportedServer{Server: &catalog.Server{ID: id, Status: catalog.StatusPending}}
	}

	_, err := AppendTOML(existing, []ImportedServer{mk("new"), mk("github"), mk("support-triage")})
	var ce *IDConflictError
	if !errors.As(err, &ce) || !reflect.DeepEqual(ce.IDs, []string{"github", "support-triage"}) ||
		err.Error() != "catalog already uses the ids github, support-triage; nothing appended" {
		t.Errorf("conflict: %v", err)
	}
	if _, err := AppendTOML(existing, []ImportedServer{mk("a"), mk("a")}); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate in batch: %v", err)
	}
	if _, err := AppendTOML(existing, []ImportedServer{mk("Bad ID")}); err == nil || !strings.Contains(err.Error(), `server id "Bad ID"`) {
		t.Errorf("bad id: %v", err)
	}
	if _, err := AppendTOML("[servers\n", []ImportedServer{mk("a")}); err == nil || !strings.Contains(err.Error(), "existing catalog is not valid TOML") {
		t.Errorf("broken existing: %v", err)
	}
	// Dotted-key and inline forms of existing ids count too.
	if _, err := AppendTOML("servers.a.status = \"approved\"\n", []ImportedServer{mk("a")}); !errors.As(err, &ce) {
		t.Errorf("dotted existing id: %v", err)
	}
}

func TestAppendToCatalogTOMLKeepsLayout(t *testing.T) {
	imps := sjImportFile(t, "testdata/serverjson/github.json")
	crlf := "[catalog]\r\nname = \"x\"\r\n"
	out, err := AppendTOML(crlf, imps)
	if err != nil {
		t.Fatal(err)
	}
	added := out[len(crlf):]
	if !strings.HasPrefix(out, crlf) || strings.Count(added, "\n") != strings.Count(added, "\r\n") {
		t.Error("CRLF file got LF lines")
	}
	var back struct {
		Servers map[string]struct {
			Registry catalog.RegistryRecord `toml:"registry"`
		} `toml:"servers"`
	}
	if _, err := toml.Decode(out, &back); err != nil {
		t.Fatal(err)
	}
	rec := back.Servers["github-mcp-server"].Registry
	if got, err := Export(imps[0].Server, &rec); err != nil || !bytes.Equal(got, sjMustExport(t, imps[0])) {
		t.Errorf("CRLF round trip: %v", err)
	}

	noNewline := "[catalog]\nname = \"x\""
	out, _ = AppendTOML(noNewline, imps)
	if !strings.HasPrefix(out, noNewline+"\n\n# ----") {
		t.Errorf("no trailing newline: %q", out[:60])
	}
	out, _ = AppendTOML("", imps)
	if !strings.HasPrefix(out, "# ----") {
		t.Errorf("empty catalog: %q", out[:20])
	}
}

func sjMustExport(t *testing.T, imp ImportedServer) []byte {
	t.Helper()
	out, err := Export(imp.Server, imp.Registry)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTOMLMultilineStrings: whatever the stored document holds, the TOML
// string written for it reads back as the same text.
func TestTOMLMultilineStrings(t *testing.T) {
	for _, s := range []string{
		"{\n  \"a\": 1\n}\n",
		"has ''' inside\n",
		"ends with a quote'",
		"ends with a double quote\"",
		`three """ and four """" and escaped \"\"\" quotes` + "\n",
		`back\slashes \\ and \u00e9` + "\n",
		"tab\tand DEL\x7f and bell\x07\n",
		"no trailing newline",
		"# not a comment\n[not.a.table]\nkey = 'x'\n",
	} {
		for _, nl := range []string{"\n", "\r\n"} {
			text := "k = " + sjTOMLMultiline(s, nl) + nl
			var v struct{ K string }
			if _, err := toml.Decode(text, &v); err != nil {
				t.Errorf("%q (nl %q): %v\n%s", s, nl, err, text)
				continue
			}
			if got := strings.ReplaceAll(v.K, "\r\n", "\n"); got != s {
				t.Errorf("%q (nl %q) read back as %q", s, nl, v.K)
			}
			if k := tomldoc.Parse(text).Key("k"); k == nil || k.LineEnd != len(text) {
				t.Errorf("%q (nl %q): tomldoc does not see the whole value", s, nl)
			}
		}
	}
	if got := sjTOMLMultiline("{}\n", "\n"); got != "'''\n{}\n'''" {
		t.Errorf("plain JSON should be a literal string, got %q", got)
	}
}
