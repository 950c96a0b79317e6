package cli

import (
	"errors"
	"fmt"
	"testing"
)

func TestPrinterPrefixes(t *testing.T) {
	io, _, _, errOut := TestStreams()
	io.Errorf("load bundle %s: %v", "gov", errors.New("gov/catalog.toml:2: bad status"))
	io.Warnf("two lines:\nsecond\n")
	io.Hintf("run `mcpgov catalog validate`")
	io.Notef("wrote %s", "gov/catalog.toml")
	want := `mcpgov: error: load bundle gov: gov/catalog.toml:2: bad status
mcpgov: warning: two lines:
  second
mcpgov: hint: run ` + "`mcpgov catalog validate`" + `
mcpgov: wrote gov/catalog.toml
`
	if got := errOut.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestPrintErrorOnce: a returned error is printed once with its hint, and
// one already reported where it happened gets only its hint.
func TestPrintErrorOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("boom"), "mcpgov: error: boom\n"},
		{"hinted", fmt.Errorf("scan: %w", withHint(errors.New("load bundle gov"), "run `mcpgov catalog validate gov`")),
			"mcpgov: error: scan: load bundle gov\nmcpgov: hint: run `mcpgov catalog validate gov`\n"},
		{"findings", &FindingsError{Summary: "1 finding at or above high"}, "mcpgov: error: 1 finding at or above high\n"},
		{"reported", &ReportedError{Err: withHint(errors.New("server x is not in the catalog"), "request approval at https://example.com")},
			"mcpgov: hint: request approval at https://example.com\n"},
		{"reported, no hint", &ReportedError{Err: errors.New("server x is not in the catalog")}, ""},
	} {
		io, _, _, errOut := TestStreams()
		printError(io, tc.err)
		if got := errOut.String(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if exitCode(tc.err) == ExitOK {
			t.Errorf("%s: exit 0", tc.name)
		}
	}
}
