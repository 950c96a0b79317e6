package guard

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
)

// evalCase is one labelled case: of testdata/guardrails/cases.jsonl (the
// team's own), of the public set, or of the external set in the shared
// folder beside the repository. The external set names the guardrail in
// "category" (a suffix such as secrets_other marks a category no target
// holds) and the sub-type in "kind".
type evalCase struct {
	ID          string          `json:"id"`
	Guardrail   string          `json:"guardrail"`
	Category    string          `json:"category"`
	Kind        string          `json:"kind"`
	Hook        string          `json:"hook"`
	Label       string          `json:"label"`
	Key         string          `json:"key"`
	Text        string          `json:"text"`
	Note        string          `json:"note"`
	Arguments   json.RawMessage `json:"arguments"`
	Output      string          `json:"output"`
	Tool        string          `json:"tool"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
	Source      string          `json:"source"`
}

const ownCases = "../../testdata/guardrails/cases.jsonl"

// sharedDir finds the shared folder: $MCPGOV_SHARED, or shared/ beside the
// repository (a clone's parent holds it, in CI as on a developer's machine).
func sharedDir() string {
	if d := os.Getenv("MCPGOV_SHARED"); d != "" {
		return d
	}
	return "../../../shared"
}

// heldOut splits every labelled set in two halves, decided by the case id
// alone: a case is held out when the first byte of SHA-256 over a fixed
// salt and its id is odd. The split does not depend on the content, the
// label or the order of a file, so it is the same on every machine and
// for every later version of a file.
//
// How the held-out half is kept unread: the detectors are tuned only on
// the tuning half. TestEval prints (and, with MCPGOV_EVAL_MISSES, writes)
// the misses and false positives of the tuning half only; of the held-out
// half it prints counts, never a case. Nobody tuning reads the data files
// themselves, only these reports; and a round of tuning runs with
// MCPGOV_EVAL_HALF=tuning (make eval-tuning), which does not score the
// held-out half at all, so its figures are seen once, at the end.
func heldOut(id string) bool {
	h := sha256.Sum256([]byte("mcpgov-eval-split-v1\x00" + id))
	return h[0]&1 == 1
}

func readCases(t *testing.T, path string) []evalCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var out []evalCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var c evalCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if c.Guardrail == "" {
			c.Guardrail = c.Category
		}
		if c.Kind == "" {
			c.Kind = c.Note
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// evalSet enables every kind in enforce mode, on every hook it supports
// (as the external scorer runs the starter bundle).
func evalSet(t testing.TB) *Set {
	cfg, err := ParseConfig("eval.toml", []byte(`
[defaults]
mode = "enforce"
[guardrails.sql]
[guardrails.secrets]
[guardrails.pii]
hooks = ["post"]
[guardrails.code]
[guardrails.injection]
[guardrails.poisoning]
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scoredAs is the guardrail kind that scores a case: "secrets_other" is
// measured by secrets.
func (c evalCase) scoredAs() string {
	g, _, _ := strings.Cut(c.Guardrail, "_")
	return g
}

func (c evalCase) request(t *testing.T) *Request {
	req := &Request{Hook: c.Hook, Server: "eval", Tool: c.Tool}
	var raw []byte
	switch {
	case c.Hook == HookDescribe:
		req.ToolDef = &catalog.ToolDef{Name: c.Tool, Description: c.Description, InputSchema: c.InputSchema}
		return req
	case c.Arguments != nil:
		raw = c.Arguments
	case c.Hook == HookPost:
		text := c.Text
		if c.Output != "" {
			text = c.Output
		}
		raw, _ = json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": text}}})
	default:
		key := c.Key
		if key == "" {
			key = "input"
		}
		raw, _ = json.Marshal(map[string]string{key: c.Text})
	}
	p, err := Decode(raw, DefaultMaxScanBytes)
	if err != nil {
		t.Fatal(err)
	}
	req.Payload = p
	return req
}

type score struct{ tp, fp, tn, fn int }

func (s score) precision() float64 {
	if s.tp+s.fp == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fp)
}

func (s score) recall() float64 {
	if s.tp+s.fn == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fn)
}

// evalResult is one half of one set, scored.
type evalResult struct {
	scores map[string]*score // guardrail/hook
	kinds  map[string]*score // guardrail/kind (recall per class)
	misses []string          // filled for the tuning half only
}

func runEval(t *testing.T, set *Set, cases []evalCase, keepMisses bool) evalResult {
	res := evalResult{scores: map[string]*score{}, kinds: map[string]*score{}}
	get := func(m map[string]*score, k string) *score {
		if m[k] == nil {
			m[k] = &score{}
		}
		return m[k]
	}
	for _, c := range cases {
		flagged, rules := runCase(t, set, c)
		s := get(res.scores, c.Guardrail+"/"+c.Hook)
		ks := get(res.kinds, c.Guardrail+"/"+c.Kind)
		miss := ""
		switch {
		case c.Label == "bad" && flagged:
			s.tp++
			ks.tp++
		case c.Label == "bad":
			s.fn++
			ks.fn++
			miss = "missed"
		case flagged:
			s.fp++
			ks.fp++
			miss = "false positive " + strings.Join(rules, ",")
		default:
			s.tn++
			ks.tn++
		}
		if miss != "" && keepMisses {
			res.misses = append(res.misses, fmt.Sprintf("%s %s [%s] %s", miss, c.ID, c.Kind, excerpt(c)))
		}
	}
	sort.Strings(res.misses)
	return res
}

func runCase(t *testing.T, set *Set, c evalCase) (bool, []string) {
	flagged := false
	var rules []string
	for _, r := range set.Run(context.Background(), c.request(t)) {
		if r.Kind == c.scoredAs() && r.Verdict != "pass" {
			flagged = true
			for _, f := range r.Findings {
				rules = append(rules, f.Rule)
			}
			if r.Err != nil {
				rules = append(rules, "error: "+r.Err.Error())
			}
		}
	}
	return flagged, rules
}

// excerpt is a tuning-half case as the misses report shows it: whole up
// to 4,000 bytes, since what a detector missed can sit anywhere in it (an
// instruction inserted at the end of a table).
func excerpt(c evalCase) string {
	s := c.Text + c.Output + c.Description + string(c.Arguments)
	if len(s) > 4000 {
		s = s[:4000] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func (r evalResult) table(title string, b *strings.Builder) {
	keys := sortedKeys(r.scores)
	fmt.Fprintf(b, "%s\n  %-22s %5s %5s %5s %5s %9s %7s\n", title, "guardrail/hook", "tp", "fp", "tn", "fn", "precision", "recall")
	for _, k := range keys {
		s := r.scores[k]
		fmt.Fprintf(b, "  %-22s %5d %5d %5d %5d %9.3f %7.3f\n", k, s.tp, s.fp, s.tn, s.fn, s.precision(), s.recall())
	}
}

// kindTable prints recall per class of bad cases, and the false positives
// per class of good ones.
func kindTable(title string, tune, held evalResult, b *strings.Builder) {
	all := map[string]bool{}
	for k := range tune.kinds {
		all[k] = true
	}
	for k := range held.kinds {
		all[k] = true
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cell := func(s *score) string {
		switch {
		case s == nil:
			return "-"
		case s.tp+s.fn > 0:
			return fmt.Sprintf("%d/%d", s.tp, s.tp+s.fn)
		default:
			return fmt.Sprintf("fp %d/%d", s.fp, s.fp+s.tn)
		}
	}
	fmt.Fprintf(b, "%s (recall of bad cases tp/all; on good ones false positives fp/all)\n  %-48s %10s %10s\n", title, "guardrail/kind", "tuning", "held-out")
	for _, k := range keys {
		fmt.Fprintf(b, "  %-48s %10s %10s\n", k, cell(tune.kinds[k]), cell(held.kinds[k]))
	}
}

func sortedKeys(m map[string]*score) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func split(cases []evalCase) (tune, held []evalCase) {
	for _, c := range cases {
		if heldOut(c.ID) {
			held = append(held, c)
		} else {
			tune = append(tune, c)
		}
	}
	return tune, held
}

// evalSetReport scores one labelled set by halves and prints both.
func evalSetReport(t *testing.T, set *Set, name string, cases []evalCase) (tune, held evalResult) {
	tc, hc := split(cases)
	tune = runEval(t, set, tc, true)
	var b strings.Builder
	tune.table(fmt.Sprintf("%s, tuning half (%d cases)", name, len(tc)), &b)
	if tuningOnly() {
		held = evalResult{scores: map[string]*score{}, kinds: map[string]*score{}}
	} else {
		held = runEval(t, set, hc, false)
		held.table(fmt.Sprintf("%s, held-out half (%d cases; never read while tuning)", name, len(hc)), &b)
	}
	kindTable(name+", per class", tune, held, &b)
	t.Log(b.String())
	if f := os.Getenv("MCPGOV_EVAL_MISSES"); f != "" {
		appendFile(t, f, name, tune.misses)
	} else if testing.Verbose() && os.Getenv("MCPGOV_EVAL_QUIET") == "" {
		for _, m := range tune.misses {
			t.Log(m)
		}
	}
	return tune, held
}

// tuningOnly: MCPGOV_EVAL_HALF=tuning scores the tuning half alone, so that
// the rounds of tuning do not even see the held-out figures; the held-out
// half is then measured once, at the end of a round.
func tuningOnly() bool { return os.Getenv("MCPGOV_EVAL_HALF") == "tuning" }

func appendFile(t *testing.T, path, name string, lines []string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "== %s (tuning half)\n%s\n", name, strings.Join(lines, "\n"))
}

// externalFloors hold the external set's held-out half at precision and
// recall floors: issue 17's targets where they are met (0.95 precision),
// and the figures reached where they are not yet (secrets: the labels are
// each scanner's own scope, see the set's README), so that a change that
// loses ground fails.
var externalFloors = map[string][2]float64{
	// The floors are the held-out figures last measured (rounded down),
	// at the end of the round that added the foreign-request rule:
	// sql 0.975/0.990, pii 0.990/0.990, injection on results 1.000/0.870
	// (0.648 before it), secrets outside the targets 0.946/0.733.
	"sql/pre": {0.97, 0.98},
	// The round that added GitLab's newer forms, Slack's legacy tokens
	// and .npmrc credentials took held-out recall from 0.894 to 0.902 and
	// precision from 0.917 to 0.902 (measured once, at the end of the
	// round; the set's labels are each scanner's own scope).
	"secrets/pre": {0.90, 0.90},
	// The round that added config forms (Azure keys outside AccountKey=,
	// --password VALUE, PGPASSWORD) took secrets_other held-out recall
	// from 0.733 to 0.750 at precision 0.947; the other held-out figures
	// did not move (measured once, at the end of the round).
	"secrets_other/pre":  {0.94, 0.75},
	"poisoning/describe": {0.80, 0.80},
	"injection/post":     {0.95, 0.87},
	"pii/post":           {0.99, 0.99},
	"code/post":          {0.95, 0.57},
}

// externalFiles are the files of the external set, one per guardrail.
var externalFiles = []string{"sql.jsonl", "secrets.jsonl", "pii.jsonl", "code.jsonl", "injection.jsonl", "poisoning.jsonl"}

// TestEval measures every guardrail, in enforce mode, on the team's own
// cases (testdata/guardrails) and, when the shared folder is beside the
// repository, on the public and external sets there, which nobody on the
// project wrote. Each set is scored in two halves (heldOut). `make eval`
// prints the tables.
//
// The floors hold the team's own cases at 0.95 and the external set's
// held-out half at precision 0.95 for the guardrails whose targets are
// measured there (issue 17).
func TestEval(t *testing.T) {
	set := evalSet(t)
	own := readCases(t, ownCases)
	if len(own) == 0 {
		t.Fatalf("no cases in %s", ownCases)
	}
	ot, oh := evalSetReport(t, set, "team cases (testdata/guardrails/cases.jsonl)", own)
	gitleaksBeside(t, "team cases", own, ot, oh)
	for _, k := range []string{"sql/pre", "secrets/pre", "pii/post", "code/post"} {
		for _, r := range []evalResult{ot, oh} {
			if s := r.scores[k]; tuningOnly() && len(r.scores) == 0 {
				continue
			} else if s == nil || s.precision() < 0.95 || s.recall() < 0.95 {
				t.Errorf("team cases %s below 0.95: %+v", k, s)
			}
		}
	}
	shared := sharedDir()
	var public []evalCase
	for _, f := range []string{"injection.jsonl", "poisoning.jsonl"} {
		public = append(public, readCases(t, filepath.Join(shared, "data/guardrails-public", f))...)
	}
	if len(public) > 0 {
		evalSetReport(t, set, "public set (shared/data/guardrails-public)", public)
	}
	var ext []evalCase
	for _, f := range externalFiles {
		ext = append(ext, readCases(t, filepath.Join(shared, "data/guardrails-external", f))...)
	}
	if len(ext) == 0 {
		t.Logf("external set skipped: no %s (set MCPGOV_SHARED to the shared folder to measure it)", filepath.Join(shared, "data/guardrails-external"))
		return
	}
	et, eh := evalSetReport(t, set, "external set (shared/data/guardrails-external)", ext)
	gitleaksBeside(t, "external set", ext, et, eh)
	if os.Getenv("MCPGOV_EVAL_NO_FLOORS") != "" || tuningOnly() {
		return
	}
	for k, floor := range externalFloors {
		s := eh.scores[k]
		if s == nil {
			continue
		}
		if s.precision() < floor[0] || s.recall() < floor[1] {
			t.Errorf("external held-out %s: precision %.3f, recall %.3f; the floors are %.2f and %.2f", k, s.precision(), s.recall(), floor[0], floor[1])
		}
	}
}
