package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const editSample = `# Team catalog — keep sorted by owner.
[servers.github]
title = "GitHub"   # the remote one
status = "pending" # waiting for security

[servers.github.pins]
old_tool = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
create_issue = "sha256:2222222222222222222222222222222222222222222222222222222222222222"

# Slack comes next.
[servers.slack]
status = "approved"
`

func TestEditServerIsMinimal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.toml")
	if err := os.WriteFile(path, []byte(editSample), 0o640); err != nil {
		t.Fatal(err)
	}
	review := Review{Reviewer: "sec-team", Date: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), FindingsDigest: "sha256:" + strings.Repeat("a", 64)}
	changes := append([]Change{SetStatus(StatusApproved)}, SetReview(review)...)
	changes = append(changes, SetPins(map[string]string{
		"create_issue": "sha256:" + strings.Repeat("3", 64),
		"search":       "sha256:" + strings.Repeat("4", 64),
	})...)
	if err := EditServer(path, "github", changes...); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := `# Team catalog — keep sorted by owner.
[servers.github]
title = "GitHub"   # the remote one
status = "approved" # waiting for security

[servers.github.pins]
create_issue = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
search = "sha256:4444444444444444444444444444444444444444444444444444444444444444"

[servers.github.review]
reviewer = "sec-team"
date = 2026-11-23
findings_digest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

# Slack comes next.
[servers.slack]
status = "approved"
`
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640 kept", info.Mode().Perm())
	}
	c, err := LoadFile(path)
	if err != nil || c.Server("github").Review.Reviewer != "sec-team" || len(c.Server("github").Pins) != 2 {
		t.Fatalf("edited catalog: %v %+v", err, c)
	}
}

func TestEditServerRefusesAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.toml")
	os.WriteFile(path, []byte(editSample), 0o644)
	if err := EditServer(path, "ghost", SetStatus(StatusApproved)); err == nil || !strings.Contains(err.Error(), `no server "ghost"`) {
		t.Errorf("missing server: %v", err)
	}
	if err := EditServer(path, "github", SetStatus("maybe")); err == nil || !strings.Contains(err.Error(), "nothing written") {
		t.Errorf("invalid result: %v", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != editSample {
		t.Error("file changed although the edit was refused")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestEditThroughSymlinkKeepsLink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.toml")
	os.WriteFile(real, []byte(editSample), 0o644)
	link := filepath.Join(dir, "catalog.toml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := EditServer(link, "slack", SetStatus(StatusBlocked)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("symlink replaced by a regular file")
	}
	got, _ := os.ReadFile(real)
	if !strings.Contains(string(got), "[servers.slack]\nstatus = \"blocked\"\n") {
		t.Errorf("target not edited:\n%s", got)
	}
}
