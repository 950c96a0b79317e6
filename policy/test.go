package policy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is one Rego test's outcome.
type TestResult struct {
	Package    string `json:"package"`
	Name       string `json:"name"`
	File       string `json:"file"`
	Line       int    `json:"line"`
	Pass       bool   `json:"pass"`
	Error      string `json:"error,omitempty"`
	Output     string `json:"output,omitempty"`
	DurationUS int64  `json:"duration_us"`
}

// TestReport is what RunTests returns.
type TestReport struct {
	Results  []TestResult `json:"results"`
	Passed   int          `json:"passed"`
	Failed   int          `json:"failed"`
	Coverage *float64     `json:"coverage,omitempty"` // percent, with --coverage
	// NotCovered lists file:line ranges no test reached, with --coverage.
	NotCovered []string `json:"notCovered,omitempty"`
}

// TestOptions select what RunTests runs.
type TestOptions struct {
	Run      string // regular expression over test names
	Coverage bool
	Timeout  time.Duration
}

// RunTests runs the bundle's *_test.rego against its policies, with the
// same capabilities as the shim.
func RunTests(ctx context.Context, dir string, opts TestOptions) (*TestReport, error) {
	files, err := PolicyFiles(dir, true)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no policies (%s/*.rego)", dir, PoliciesDir)
	}
	mods, err := ParseModules(dir, files)
	if err != nil {
		return nil, err
	}
	// The policies must load as the shim loads them (strict, with the
	// shim's capabilities), or passing tests would mean nothing.
	if _, _, err := compile(ctx, dir); err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	store := inmem.New()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	r := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithCapabilities(Capabilities()).WithEnablePrintStatements(true)).
		SetStore(store).SetModules(mods).CapturePrintOutput(true).SetTimeout(opts.Timeout)
	if opts.Run != "" {
		r = r.Filter(opts.Run)
	}
	var cov *cover.Cover
	if opts.Coverage {
		cov = cover.New()
		r = r.SetCoverageQueryTracer(cov)
	}
	ch, err := r.RunTests(ctx, txn)
	if err != nil {
		return nil, regoError(err)
	}
	rep := &TestReport{Results: []TestResult{}}
	for res := range ch {
		tr := TestResult{Package: res.Package, Name: res.Name, Pass: res.Pass(), DurationUS: res.Duration.Microseconds(), Output: string(res.Output)}
		if res.Location != nil {
			tr.File, tr.Line = res.Location.File, res.Location.Row
		}
		if res.Error != nil {
			tr.Error = res.Error.Error()
			tr.Pass = false
		} else if res.Fail {
			tr.Error = "test evaluated to false or undefined"
		}
		if tr.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
		rep.Results = append(rep.Results, tr)
	}
	if cov != nil {
		report := cov.Report(mods)
		c := report.Coverage
		rep.Coverage = &c
		for file, fr := range report.Files {
			for _, rng := range fr.NotCovered {
				rep.NotCovered = append(rep.NotCovered, fmt.Sprintf("%s:%d-%d", file, rng.Start.Row, rng.End.Row))
			}
		}
		sort.Strings(rep.NotCovered)
	}
	return rep, nil
}

// FormatFile returns path's source formatted as `opa fmt` would, and
// whether it changed.
func FormatFile(path string) ([]byte, bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	out, err := format.SourceWithOpts(path, src, format.Opts{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, false, regoError(err)
	}
	return out, !bytes.Equal(out, src), nil
}
