package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
)

// envServerMain is `env-mcp-server NAME=VALUE... sha256:NAME:HEX...
// recordenv:NAME:FILE... [record:FILE ARG...]`: the fake MCP server, started only when each NAME
// holds VALUE (or a value with that SHA-256) in its environment; recordenv:NAME:FILE
// appends NAME's value as a line to FILE (a token the test cannot know
// beforehand, which it then looks for where it must not be). A client that reports it
// connected proves the values an install wrote, and the references the
// client expanded, reached the server through the shim. The secret itself
// never appears on its command line, only its hash.
//
// `record:FILE` makes it write every argument it was given to FILE (JSON)
// before it starts, and take the arguments that follow it as its own
// options (--api-key=VALUE, --token VALUE), not as checks: a test compares
// what it saw launched directly with what it saw through the shim.
func envServerMain() {
	specs := os.Args[1:]
	for i, spec := range specs {
		if file, ok := strings.CutPrefix(spec, "record:"); ok {
			b, _ := json.Marshal(os.Args[1:])
			if err := os.WriteFile(file, b, 0o600); err != nil {
				fmt.Fprintln(os.Stderr, "env-mcp-server:", err)
				os.Exit(1)
			}
			specs = specs[:i]
			break
		}
	}
	for _, spec := range specs {
		if rest, ok := strings.CutPrefix(spec, "recordenv:"); ok {
			name, file, _ := strings.Cut(rest, ":")
			f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				_, err = fmt.Fprintln(f, os.Getenv(name))
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "env-mcp-server:", err)
				os.Exit(1)
			}
			continue
		}
		if rest, ok := strings.CutPrefix(spec, "sha256:"); ok {
			name, want, _ := strings.Cut(rest, ":")
			sum := sha256.Sum256([]byte(os.Getenv(name)))
			if hex.EncodeToString(sum[:]) != want {
				fmt.Fprintf(os.Stderr, "env-mcp-server: %s does not hold the expected secret\n", name)
				os.Exit(1)
			}
			continue
		}
		name, want, _ := strings.Cut(spec, "=")
		if got := os.Getenv(name); got != want {
			fmt.Fprintf(os.Stderr, "env-mcp-server: %s is %q, want %q\n", name, got, want)
			os.Exit(1)
		}
	}
	if err := catalogtest.NewServer(catalogtest.Options{}).Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, "env-mcp-server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// scanentry SCAN_JSON NAME CATALOG_ID asserts that a scan report lists an
// entry named NAME that is governed (launched through mcpgov shim),
// matched to catalog server CATALOG_ID (approved) and free of
// plaintext-secret findings.
func cmdScanEntry(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: scanentry SCAN_JSON NAME CATALOG_ID")
	}
	doc := ts.ReadFile(args[0])
	var rep struct {
		Servers []struct {
			Name     string `json:"name"`
			File     string `json:"file"`
			Governed bool   `json:"governed"`
			Catalog  *struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"catalog"`
			Findings []struct {
				Rule string `json:"rule"`
			} `json:"findings"`
		} `json:"servers"`
	}
	ts.Check(json.Unmarshal([]byte(doc), &rep))
	var why string
	found := false
	for _, s := range rep.Servers {
		if s.Name != args[1] {
			continue
		}
		found = true
		switch {
		case !s.Governed:
			why = fmt.Sprintf("%s in %s is not governed", s.Name, s.File)
		case s.Catalog == nil || s.Catalog.ID != args[2] || s.Catalog.Status != "approved":
			why = fmt.Sprintf("%s in %s is matched to %+v, not approved catalog server %s", s.Name, s.File, s.Catalog, args[2])
		}
		for _, f := range s.Findings {
			if f.Rule == "plaintext-secret" {
				why = fmt.Sprintf("%s in %s has a plaintext secret", s.Name, s.File)
			}
		}
	}
	if !found {
		why = "no entry named " + args[1]
	}
	if (why == "") == neg {
		if neg {
			ts.Fatalf("%s is found, governed and matched to %s", args[1], args[2])
		}
		ts.Fatalf("%s", why)
	}
}
