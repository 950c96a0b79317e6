package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// readmeMarker precedes each README code block this test runs, as
// <!-- readme-test: NAME -->; NAME is the block's name in the test.
const readmeMarker = "<!-- readme-test: "

// readmeBlocks are the marked blocks that must exist, with the checks that
// follow each (so a block that runs but does nothing would fail).
// The quickstart's machine has one configured server, the starter's
// approved one: its last line, wrap --dry-run, must predict it runs.
var readmeBlocks = map[string]string{
	"quickstart": `grep '^bundle = ".*/governance"$' $HOME/.config/mcpgov/config.toml
stdout '^cursor\s+\S+/\.cursor/mcp\.json:3\s+everything\s+wrapped\s+runs\s+-$'
-- home/.cursor/mcp.json --
{
  "mcpServers": {
    "everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything@2026.8.31"]}
  }
}
`,
	"catalog": `grep '^echo = "sha256:' governance/catalog.toml
exists everything.json
exists governance/bundle.sig
`,
}

// Bug (issue 11): after `bundle init ./governance` the README's next
// catalog commands failed with "no governance bundle configured", and its
// quickstart could not be followed as written. TestREADME runs the
// quickstart and catalog blocks of README.md line by line with sh, against
// the mcpgov under test, each in a fresh sandboxed home and directory (the
// scripts' sandbox); every line must exit 0.
//
// The catalog block vets and approves the starter's server, which it starts
// with npx: that needs the npm packages `make e2e-deps` installs (used
// offline here, from .cache/npm); without them the block is skipped.
func TestREADME(t *testing.T) {
	blocks, err := readmeCodeBlocks(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, checks := range readmeBlocks {
		lines, ok := blocks[name]
		if !ok {
			t.Fatalf("README.md has no block marked %s%s -->", readmeMarker, name)
		}
		var script strings.Builder
		fmt.Fprintf(&script, "# README.md, block %q, as written.\n", name)
		if name == "catalog" {
			script.WriteString("[!have:npx] skip 'npx is not installed'\n")
			script.WriteString("[!exists:" + npmModules() + "/@modelcontextprotocol/server-everything] skip 'server-everything is not installed; make e2e-deps installs it into .cache/npm'\n")
			script.WriteString("symlink node_modules -> " + npmModules() + "\n")
		}
		for _, line := range lines {
			fmt.Fprintf(&script, "exec sh -c '%s'\n", strings.ReplaceAll(line, "'", "''"))
		}
		script.WriteString(checks)
		if err := os.WriteFile(filepath.Join(dir, name+".txtar"), []byte(script.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := filepath.Abs(filepath.Join("..", "..", "testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Condition: func(cond string) (bool, error) {
			if prog, ok := strings.CutPrefix(cond, "have:"); ok {
				return haveProgram(prog)
			}
			if path, ok := strings.CutPrefix(cond, "exists:"); ok {
				_, err := os.Stat(path)
				if err != nil && os.Getenv("MCPGOV_E2E") != "" {
					return false, fmt.Errorf("%s is missing but MCPGOV_E2E is set; run make e2e-deps", path)
				}
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			if err := sandbox(env, golden); err != nil {
				return err
			}
			// npx finds the server in ./node_modules, and never asks the
			// registry.
			env.Setenv("npm_config_offline", "true")
			env.Setenv("npm_config_update_notifier", "false")
			env.Setenv("npm_config_cache", filepath.Join(env.WorkDir, "home", ".npm"))
			return nil
		},
	})
}

// npmModules is where `make e2e-deps` installs the npm packages.
func npmModules() string {
	abs, _ := filepath.Abs(filepath.Join("..", "..", ".cache", "npm", "node_modules"))
	return abs
}

// readmeCodeBlocks returns the command lines of every marked sh block of
// the README, by name. A line ending in | or \ continues on the next.
func readmeCodeBlocks(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	blocks := map[string][]string{}
	sc := bufio.NewScanner(f)
	name, inBlock, pending := "", false, ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, readmeMarker):
			name = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, readmeMarker), "-->"))
			if _, dup := blocks[name]; dup {
				return nil, fmt.Errorf("two blocks marked %q", name)
			}
		case name != "" && !inBlock:
			if line != "```sh" {
				return nil, fmt.Errorf("marker %q is not followed by a ```sh block", name)
			}
			inBlock, blocks[name] = true, []string{}
		case inBlock && line == "```":
			if pending != "" {
				return nil, fmt.Errorf("block %q ends in a continued line", name)
			}
			name, inBlock = "", false
		case inBlock:
			if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			pending += line
			if t := strings.TrimSpace(line); strings.HasSuffix(t, "|") || strings.HasSuffix(t, `\`) {
				pending += "\n"
				continue
			}
			blocks[name] = append(blocks[name], pending)
			pending = ""
		}
	}
	if inBlock {
		return nil, fmt.Errorf("block %q is not closed", name)
	}
	return blocks, sc.Err()
}
