package scan

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestEveryClientInREADME keeps the README's client table, which says where
// each client's paths were verified, in step with Clients: a client added
// without its row, or a row left for a client removed, fails.
func TestEveryClientInREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\| .* \\| .* \\| (.+) \\|$")
	rows := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		rows[m[1]] = m[2]
	}
	known := map[string]bool{}
	for _, c := range Clients {
		known[c] = true
		if v, ok := rows[c]; !ok {
			t.Errorf("client %s has no row in the README's client table", c)
		} else if v == "" || v == "—" {
			t.Errorf("client %s: the README does not say where it was verified", c)
		}
	}
	for c := range rows {
		if !known[c] {
			t.Errorf("README's client table lists %s, which scan does not know", c)
		}
	}
	if len(rows) < 30 {
		t.Errorf("README's client table has %d rows; the regexp no longer matches it", len(rows))
	}
}
