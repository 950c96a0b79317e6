package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	// The official SARIF 2.1.0 schema ships inside go-sarif; the blank import
	// keeps that module (and so the schema) in the build list.
	_ "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/xeipuuv/gojsonschema"
)

var sarifSchema = sync.OnceValues(loadSARIFSchema)

// loadSARIFSchema reads the OASIS SARIF 2.1.0 JSON schema that go-sarif
// embeds as a Go string constant.
func loadSARIFSchema() (*gojsonschema.Schema, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/owenrumney/go-sarif/v3").Output()
	if err != nil {
		return nil, fmt.Errorf("locate go-sarif: %w", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "pkg", "report", "v210", "sarif", "schema.go"))
	if err != nil {
		return nil, err
	}
	_, rest, ok := strings.Cut(string(src), "const schema = `")
	body, _, ok2 := strings.Cut(rest, "`")
	if !ok || !ok2 {
		return nil, fmt.Errorf("go-sarif schema.go no longer holds the schema constant")
	}
	return gojsonschema.NewSchema(gojsonschema.NewStringLoader(body))
}

// validsarif stdout|FILE validates a SARIF document, exactly as written,
// against the official SARIF 2.1.0 schema.
func cmdValidSARIF(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: validsarif stdout|FILE")
	}
	schema, err := sarifSchema()
	ts.Check(err)
	res, err := schema.Validate(gojsonschema.NewStringLoader(ts.ReadFile(args[0])))
	ts.Check(err)
	if neg {
		if res.Valid() {
			ts.Fatalf("%s is valid SARIF, want invalid", args[0])
		}
		return
	}
	if !res.Valid() {
		var msgs []string
		for _, e := range res.Errors() {
			msgs = append(msgs, e.String())
		}
		ts.Fatalf("invalid SARIF:\n  %s", strings.Join(msgs, "\n  "))
	}
}
