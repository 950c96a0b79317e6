package guard

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// gitleaksBeside runs gitleaks (the binary $MCPGOV_GITLEAKS names; `make
// eval` builds it into .cache/bin) on the same secrets cases, in the same
// run, and prints its precision and recall beside mcpgov's, per half
// (issue 17: "secrets recall at least gitleaks' on the shared set at equal
// or better precision"). Each case becomes one file holding what the
// secrets guardrail reads: the content argument where there is one (the
// external set's cases are file writes), else the arguments as JSON. One
// `gitleaks dir` scans them all with its default rules; a case counts as
// flagged when any finding is in its file.
func gitleaksBeside(t *testing.T, name string, cases []evalCase, tune, held evalResult) {
	bin := os.Getenv("MCPGOV_GITLEAKS")
	if bin == "" {
		return
	}
	var sc []evalCase
	for _, c := range cases {
		if c.scoredAs() == KindSecrets {
			sc = append(sc, c)
		}
	}
	if len(sc) == 0 {
		return
	}
	dir := t.TempDir()
	for i, c := range sc {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("case-%d.txt", i)), []byte(gitleaksInput(t, c)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, "dir", "--no-banner", "--log-level", "error", "--exit-code", "0",
		"--report-format", "json", "--report-path", report, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gitleaks: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var findings []struct{ File string }
	if err := json.Unmarshal(raw, &findings); err != nil {
		t.Fatalf("gitleaks report: %v", err)
	}
	flagged := map[int]bool{}
	for _, f := range findings {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f.File), "case-"), ".txt"))
		if err == nil {
			flagged[n] = true
		}
	}
	halves := [2]map[string]*score{{}, {}}
	for i, c := range sc {
		h := 0
		if heldOut(c.ID) {
			h = 1
		}
		k := c.Guardrail + "/" + c.Hook
		if halves[h][k] == nil {
			halves[h][k] = &score{}
		}
		s := halves[h][k]
		switch bad := c.Label == "bad"; {
		case bad && flagged[i]:
			s.tp++
		case bad:
			s.fn++
		case flagged[i]:
			s.fp++
		default:
			s.tn++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, gitleaks (%s) beside mcpgov on the same cases\n  %-22s %-9s %17s %17s\n", name, filepath.Base(bin), "guardrail/hook", "half", "mcpgov P / R", "gitleaks P / R")
	for h, r := range []evalResult{tune, held} {
		if h == 1 && tuningOnly() {
			break
		}
		keys := make([]string, 0, len(halves[h]))
		for k := range halves[h] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m, g := r.scores[k], halves[h][k]
			if m == nil {
				m = &score{}
			}
			fmt.Fprintf(&b, "  %-22s %-9s %8.3f / %.3f %8.3f / %.3f\n", k, []string{"tuning", "held-out"}[h], m.precision(), m.recall(), g.precision(), g.recall())
		}
	}
	t.Log(b.String())
}

func gitleaksInput(t *testing.T, c evalCase) string {
	if c.Arguments != nil {
		var args map[string]any
		if json.Unmarshal(c.Arguments, &args) == nil {
			if s, ok := args["content"].(string); ok {
				return s
			}
		}
		return string(c.Arguments)
	}
	key := c.Key
	if key == "" {
		key = "input"
	}
	raw, err := json.Marshal(map[string]string{key: c.Text})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
