package review

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpgov/mcpgov/scan/finding"
)

// publicPoisoningSet is the labelled tool-description set shared beside the
// repository (see its README for sources and licences), in $MCPGOV_SHARED
// or the shared folder beside the repository, as guard's eval finds it. It
// is not copied into testdata: the test measures against it where it exists.
var publicPoisoningSet = func() string {
	dir := os.Getenv("MCPGOV_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared")
	}
	return filepath.Join(dir, "data", "guardrails-public", "poisoning.jsonl")
}()

type poisoningCase struct {
	ID          string          `json:"id"`
	Hook        string          `json:"hook"`
	Label       string          `json:"label"`
	Tool        string          `json:"tool"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
	Note        string          `json:"note"`
}

// flaggedAt is the severity at which a review blocks approval: low findings
// are hints for the reviewer, not verdicts.
const flaggedAt = finding.SeverityMedium

func flagged(fs []Finding) bool { return MaxSeverity(fs).Rank() >= flaggedAt.Rank() }

// TestReviewPublicSet measures the reviewer on the public labelled set.
//
// Measured (73 describe cases, 21 bad, 52 good), flagged = a finding of
// severity medium or higher:
//
//	recall on bad 20/21 = 95.2%   (miss: a "read-only" query tool whose
//	                                write_mode parameter defaults to true; a
//	                                contradiction between claim and schema,
//	                                not a phrase)
//	false positives on good 0/52 = 0%   (at any severity, low included: 1/52,
//	                                the ~/.ssh/config host-alias lister)
//
// The rules were written from published attack patterns, but this set was
// read while writing them, so these figures are optimistic for unseen text;
// the floors below leave room for that and catch regressions.
func TestReviewPublicSet(t *testing.T) {
	f, err := os.Open(publicPoisoningSet)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("public labelled set not found at %s (it lives in the shared folder beside the repository)", publicPoisoningSet)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var bad, good, tp, fp, fpAny int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for sc.Scan() {
		var c poisoningCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", publicPoisoningSet, err)
		}
		if c.Hook != "describe" {
			continue
		}
		findings := Tool(ToolDef{Name: c.Tool, Description: c.Description, InputSchema: c.InputSchema}, nil)
		switch c.Label {
		case "bad":
			bad++
			if flagged(findings) {
				tp++
			} else {
				t.Logf("missed %s (%s): %q", c.ID, c.Note, c.Description)
			}
		case "good":
			good++
			if flagged(findings) {
				fp++
				t.Logf("false positive %s (%s): %+v", c.ID, c.Note, findings)
			}
			if len(findings) > 0 {
				fpAny++
				t.Logf("low finding on good %s: %+v", c.ID, findings)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if bad == 0 || good == 0 {
		t.Fatalf("%s: %d bad and %d good describe cases; expected both", publicPoisoningSet, bad, good)
	}
	recall := float64(tp) / float64(bad)
	fpRate := float64(fp) / float64(good)
	t.Logf("public poisoning set: recall %d/%d = %.1f%%, false positives %d/%d = %.1f%% (any severity: %d/%d)",
		tp, bad, 100*recall, fp, good, 100*fpRate, fpAny, good)

	const minRecall, maxFPRate = 0.90, 0.04
	if recall < minRecall {
		t.Errorf("recall %.3f below the floor %.2f", recall, minRecall)
	}
	if fpRate > maxFPRate {
		t.Errorf("false-positive rate %.3f above the ceiling %.2f", fpRate, maxFPRate)
	}
}
