package guard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcpgov/mcpgov/catalog"
)

// TestOverFiring is the other side of the eval: real files nobody labelled
// (the npm packages and the Go module cache beside a clone), each handed
// to the post-tool guardrails as a tool's text result, as a fetch or a
// file-reading tool returns them. Most of them are ordinary text, so a rule
// that fires on many of them over-fires; the ones that fire rightly (test
// fixtures with keys, scripts that run downloads) are the same before and
// after a change, so the count of flagged files is compared between
// builds, and the flagged paths (MCPGOV_OVERFIRE_LIST=FILE) read.
//
// It runs only when MCPGOV_OVERFIRE_DIRS names the roots (colon-separated;
// `make eval-overfire`). The files are chosen by SHA-256 of their path
// below the root, the first MCPGOV_OVERFIRE_MAX (40,000) in that order, so
// a sample spreads over every package and is the same on every run.
func TestOverFiring(t *testing.T) {
	roots := os.Getenv("MCPGOV_OVERFIRE_DIRS")
	if roots == "" {
		t.Skip("MCPGOV_OVERFIRE_DIRS not set (make eval-overfire)")
	}
	max := 40000
	if s := os.Getenv("MCPGOV_OVERFIRE_MAX"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("MCPGOV_OVERFIRE_MAX=%q: want a positive number of files", s)
		}
		max = n
	}
	type file struct {
		path string
		key  [32]byte
	}
	var files []file
	for _, root := range filepath.SplitList(roots) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable parts of a cache are skipped
			}
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			if !overfireExt[strings.ToLower(filepath.Ext(p))] || !d.Type().IsRegular() {
				return nil
			}
			if info, err := d.Info(); err != nil || info.Size() == 0 || info.Size() > 64<<10 {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			files = append(files, file{p, sha256.Sum256([]byte(rel))})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return string(files[i].key[:]) < string(files[j].key[:]) })
	if len(files) > max {
		files = files[:max]
	}
	set := evalSet(t)
	flagged := map[string]int{}
	var list []string
	descs := map[string]string{} // description → a file it came from
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil || !isText(b) {
			continue
		}
		for _, m := range descriptionRe.FindAllSubmatch(b, -1) {
			d := string(m[1])
			if _, ok := descs[d]; !ok {
				descs[d] = f.path
			}
		}
		raw, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": string(b)}}})
		p, err := Decode(raw, DefaultMaxScanBytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range set.Run(context.Background(), &Request{Hook: HookPost, Server: "overfire", Tool: "read_file", Payload: p}) {
			if r.Verdict == "pass" {
				continue
			}
			flagged[r.Kind]++
			rules := map[string]bool{}
			for _, fd := range r.Findings {
				rules[fd.Rule] = true
			}
			names := make([]string, 0, len(rules))
			for k := range rules {
				names = append(names, k)
			}
			sort.Strings(names)
			list = append(list, fmt.Sprintf("%s\t%s\t%s", r.Kind, strings.Join(names, ","), f.path))
		}
	}
	// The describe hook: every description string in those files (a Go
	// "Description:", a JS "description:", a JSON "description" member)
	// as a tool's description.
	poisoned := 0
	for d, path := range descs {
		r := set.Run(context.Background(), &Request{Hook: HookDescribe, Server: "overfire", Tool: "t", ToolDef: &catalog.ToolDef{Name: "t", Description: d}})
		for _, x := range r {
			if x.Kind == KindPoisoning && x.Verdict != "pass" {
				poisoned++
				list = append(list, fmt.Sprintf("%s\t%s\t%s\t%q", KindPoisoning, x.Findings[0].Rule, path, d))
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "over-firing check: %d files as post-tool text results\n  %-12s %s\n", len(files), "guardrail", "flagged files")
	for _, k := range []string{KindCode, KindInjection, KindPII, KindSecrets} {
		fmt.Fprintf(&b, "  %-12s %d\n", k, flagged[k])
	}
	fmt.Fprintf(&b, "  %-12s %d of %d description strings in those files\n", KindPoisoning, poisoned, len(descs))
	t.Log(b.String())
	if out := os.Getenv("MCPGOV_OVERFIRE_LIST"); out != "" {
		sort.Strings(list)
		if err := os.WriteFile(out, []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// descriptionRe finds a description string in source and JSON files.
var descriptionRe = regexp.MustCompile(`(?i)"?description"?\s*[:=]\s*"((?:[^"\\\n]|\\.){20,600})"`)

// overfireExt are the kinds of text file a tool returns: sources, docs,
// manifests and scripts.
var overfireExt = map[string]bool{
	".md": true, ".txt": true, ".js": true, ".mjs": true, ".cjs": true, ".ts": true, ".json": true, ".go": true,
	".py": true, ".sh": true, ".yml": true, ".yaml": true, ".toml": true, ".html": true, ".rb": true, ".ps1": true,
}

// isText: UTF-8 without NUL bytes. Other files (binary fixtures) are
// not text results.
func isText(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}
