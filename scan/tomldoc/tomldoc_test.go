package tomldoc

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

const sample = `# Acme catalog
[catalog]
name = "acme" # trailing comment

[servers.github]
title = "GitHub"
status = "pending"   # waiting for review
args = [
  "-y",
  "pkg@1.0.0", # pinned
]

[servers.github.tools]
deny = ["delete_*"]

# Slack, from the vendor
[servers."slack.app"]
status = "approved"
`

func TestIndexLines(t *testing.T) {
	d := Parse(sample)
	cases := []struct {
		path []string
		want int
	}{
		{[]string{"catalog"}, 2},
		{[]string{"catalog", "name"}, 3},
		{[]string{"servers", "github"}, 5},
		{[]string{"servers", "github", "status"}, 7},
		{[]string{"servers", "github", "args"}, 8},
		{[]string{"servers", "github", "tools", "deny"}, 14},
		{[]string{"servers", "slack.app", "status"}, 18},
		{[]string{"servers", "github", "tools", "allow"}, 13}, // missing key: its table
	}
	for _, c := range cases {
		if got := d.Line(c.path...); got != c.want {
			t.Errorf("Line(%q) = %d, want %d", c.path, got, c.want)
		}
	}
}

func TestSetReplacesOnlyTheValue(t *testing.T) {
	d := Parse(sample)
	out := d.Set(String("approved"), "servers", "github", "status")
	want := strings.Replace(sample, `status = "pending"   # waiting`, `status = "approved"   # waiting`, 1)
	if out != want {
		t.Fatalf("got:\n%s", out)
	}
	mustDecode(t, out)
}

func TestSetMultiLineValue(t *testing.T) {
	d := Parse(sample)
	out := d.Set(Strings([]string{"-y", "pkg@2.0.0"}), "servers", "github", "args")
	if !strings.Contains(out, "args = [\"-y\", \"pkg@2.0.0\"]\n\n[servers.github.tools]") {
		t.Fatalf("got:\n%s", out)
	}
	mustDecode(t, out)
}

func TestSetAddsKeyToExistingTable(t *testing.T) {
	d := Parse(sample)
	out := d.Set(Strings([]string{"*"}), "servers", "github", "tools", "allow")
	if !strings.Contains(out, "deny = [\"delete_*\"]\nallow = [\"*\"]\n\n# Slack") {
		t.Fatalf("got:\n%s", out)
	}
	mustDecode(t, out)
}

func TestSetAddsTableAfterParentBlock(t *testing.T) {
	d := Parse(sample)
	out := d.Set(String("sec-team"), "servers", "github", "review", "reviewer")
	d2 := Parse(out)
	out = d2.Set(Date(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)), "servers", "github", "review", "date")
	want := "deny = [\"delete_*\"]\n\n[servers.github.review]\nreviewer = \"sec-team\"\ndate = 2026-11-23\n\n# Slack, from the vendor\n"
	if !strings.Contains(out, want) {
		t.Fatalf("got:\n%s", out)
	}
	m := mustDecode(t, out)
	if m["servers"].(map[string]any)["github"].(map[string]any)["review"].(map[string]any)["reviewer"] != "sec-team" {
		t.Fatalf("review not decoded: %v", m)
	}
	// Everything else is byte-identical.
	if strings.Replace(out, "\n[servers.github.review]\nreviewer = \"sec-team\"\ndate = 2026-11-23\n", "", 1) != sample {
		t.Fatalf("other bytes changed:\n%s", out)
	}
}

func TestSetKeepsCRLF(t *testing.T) {
	crlf := strings.ReplaceAll(sample, "\n", "\r\n")
	out := Parse(crlf).Set(String("x"), "servers", "slack.app", "owner")
	if strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") {
		t.Fatalf("a bare LF was written into a CRLF file:\n%q", out)
	}
	mustDecode(t, out)
}

func TestStringEscapes(t *testing.T) {
	for _, s := range []string{`plain`, `quote " and \ backslash`, "tab\tnewline\nbell\a", "unicode ✓ é"} {
		var v struct{ S string }
		if _, err := toml.Decode("S = "+String(s), &v); err != nil || v.S != s {
			t.Errorf("String(%q) = %s decodes to %q, %v", s, String(s), v.S, err)
		}
	}
}

func mustDecode(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	if _, err := toml.Decode(text, &m); err != nil {
		t.Fatalf("edited document does not decode: %v\n%s", err, text)
	}
	return m
}
