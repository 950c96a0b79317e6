package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeUpToDate regenerates the command reference into a copy of the
// repository's README and fails when the committed one differs.
func TestReadmeUpToDate(t *testing.T) {
	committed, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(tmp, committed, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run([]string{"--readme", tmp}, &stderr); code != 0 {
		t.Fatalf("gen-docs --readme exited %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		t.Fatalf("README.md command reference is out of date: run make docs")
	}
	if !bytes.Contains(got, []byte("### mcpgov scan\n")) {
		t.Errorf("README.md reference has no section for mcpgov scan")
	}
}

func TestReadmeCheck(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "README.md")
	stale := "# title\n\n" + startMarker + "\nold text\n" + endMarker + "\n\ntail\n"
	if err := os.WriteFile(tmp, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}

	var stderr bytes.Buffer
	if code := run([]string{"--readme", tmp, "--check"}, &stderr); code != 1 {
		t.Fatalf("--check on a stale file exited %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "out of date") || !strings.Contains(stderr.String(), "make docs") {
		t.Errorf("--check message %q does not say what is wrong and what to do", stderr.String())
	}
	if b, _ := os.ReadFile(tmp); string(b) != stale {
		t.Errorf("--check changed the file")
	}

	stderr.Reset()
	if code := run([]string{"--readme", tmp}, &stderr); code != 0 {
		t.Fatalf("--readme exited %d: %s", code, stderr.String())
	}
	b, _ := os.ReadFile(tmp)
	if strings.Contains(string(b), "old text") || !strings.HasSuffix(string(b), endMarker+"\n\ntail\n") {
		t.Errorf("--readme did not replace only the text between the markers:\n%s", b)
	}
	if code := run([]string{"--readme", tmp, "--check"}, &stderr); code != 0 {
		t.Errorf("--check right after --readme exited %d: %s", code, stderr.String())
	}
}

func TestReadmeWithoutMarkers(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(tmp, []byte("# no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run([]string{"--readme", tmp}, &stderr); code != 1 || !strings.Contains(stderr.String(), "markers") {
		t.Errorf("exit %d, stderr %q; want 1 and a message about the markers", code, stderr.String())
	}
}

func TestManAndCompletions(t *testing.T) {
	man := filepath.Join(t.TempDir(), "man")
	compl := filepath.Join(t.TempDir(), "completions")
	var stderr bytes.Buffer
	if code := run([]string{"--man-dir", man, "--completions-dir", compl}, &stderr); code != 0 {
		t.Fatalf("gen-docs exited %d: %s", code, stderr.String())
	}
	page, err := os.ReadFile(filepath.Join(man, "mcpgov-scan.1"))
	if err != nil {
		t.Fatalf("no man page for mcpgov scan: %v", err)
	}
	for _, want := range []string{`.TH "MCPGOV-SCAN" "1"`, `"mcpgov"`, "--fail-on"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("mcpgov-scan.1 lacks %q", want)
		}
	}
	for _, name := range []string{"mcpgov.1", "mcpgov-scan-merge.1", "mcpgov-version.1"} {
		if _, err := os.Stat(filepath.Join(man, name)); err != nil {
			t.Errorf("man page missing: %v", err)
		}
	}
	for _, name := range []string{"mcpgov.bash", "_mcpgov", "mcpgov.fish", "mcpgov.ps1"} {
		b, err := os.ReadFile(filepath.Join(compl, name))
		if err != nil || !bytes.Contains(b, []byte("mcpgov")) {
			t.Errorf("completion %s missing or empty: %v", name, err)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--check"}, {"extra"}} {
		var stderr bytes.Buffer
		if code := run(args, &stderr); code != 2 {
			t.Errorf("gen-docs %q exited %d, want 2", args, code)
		}
	}
}

func TestDedent(t *testing.T) {
	got := dedent("  # a\n  b\n\n    c\n")
	if want := "# a\nb\n\n  c"; got != want {
		t.Errorf("dedent = %q, want %q", got, want)
	}
}
