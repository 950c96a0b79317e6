package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// PoliciesDir is where a bundle keeps its Rego.
const PoliciesDir = "policies"

// Package is the Rego package that decides; DecisionQuery is its rule.
const (
	Package       = "mcpgov.authz"
	DecisionQuery = "data.mcpgov.authz.decision"
)

// impure built-ins are removed from the capabilities: policies stay pure
// and deterministic, and cannot reach the network from the call path.
var impure = map[string]bool{
	"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true, "rand.intn": true,
	"time.now_ns": false, // kept: rate windows and business hours need it
}

// Capabilities are what policies and their tests may use.
func Capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	var keep []*ast.Builtin
	for _, b := range c.Builtins {
		if !impure[b.Name] {
			keep = append(keep, b)
		}
	}
	c.Builtins = keep
	return c
}

// RegoError is a policy that does not parse or compile; each line is
// file:line:col: message.
type RegoError struct{ Problems []string }

func (e *RegoError) Error() string { return strings.Join(e.Problems, "\n") }

func regoError(err error) error {
	var errs ast.Errors
	if errors.As(err, &errs) {
		re := &RegoError{}
		for _, e := range errs {
			if e.Location != nil {
				re.Problems = append(re.Problems, fmt.Sprintf("%s:%d:%d: %s", e.Location.File, e.Location.Row, e.Location.Col, e.Message))
			} else {
				re.Problems = append(re.Problems, e.Message)
			}
		}
		return re
	}
	return err
}

// PolicyFiles lists a bundle's policy files, tests included when tests is
// set, sorted.
func PolicyFiles(dir string, tests bool) ([]string, error) {
	var out []string
	root := filepath.Join(dir, PoliciesDir)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return nil
		}
		if !tests && strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		out = append(out, p)
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// ParseModules parses files; names in errors are relative to base.
func ParseModules(base string, files []string) (map[string]*ast.Module, error) {
	mods := map[string]*ast.Module{}
	var problems []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := f
		if rel, err := filepath.Rel(base, f); err == nil {
			name = rel
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			var re *RegoError
			if errors.As(regoError(err), &re) {
				problems = append(problems, re.Problems...)
				continue
			}
			return nil, err
		}
		mods[name] = m
	}
	if len(problems) > 0 {
		return nil, &RegoError{Problems: problems}
	}
	return mods, nil
}

// compilePolicies compiles the bundle's policies and prepares the
// decision query; nil when the bundle has no policies.
func compilePolicies(ctx context.Context, dir string) (q *rego.PreparedEvalQuery, use inputUse, pure bool, err error) {
	pq, mods, err := compile(ctx, dir)
	if pq == nil || err != nil {
		return nil, inputUse{}, false, err
	}
	return pq, readsInput(mods), !callsVolatile(mods), nil
}

// volatile built-ins make a decision depend on more than its input, so
// decisions of policies that call them are never cached.
var volatile = map[string]bool{"time.now_ns": true, "time.clock": false, "rand.intn": true, "uuid.rfc4122": true, "opa.runtime": true, "http.send": true}

func callsVolatile(mods map[string]*ast.Module) bool {
	found := false
	for _, m := range mods {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if e.IsCall() && volatile[e.Operator().String()] {
				found = true
			}
			return found
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if c, ok := t.Value.(ast.Call); ok && len(c) > 0 && volatile[c[0].String()] {
				found = true
			}
			return found
		})
	}
	return found
}

func compile(ctx context.Context, dir string) (*rego.PreparedEvalQuery, map[string]*ast.Module, error) {
	files, err := PolicyFiles(dir, false)
	if err != nil || len(files) == 0 {
		return nil, nil, err
	}
	mods, err := ParseModules(dir, files)
	if err != nil {
		return nil, nil, err
	}
	c := ast.NewCompiler().WithCapabilities(Capabilities()).WithStrict(true)
	c.Compile(mods)
	if c.Failed() {
		return nil, nil, regoError(c.Errors)
	}
	if len(c.GetRulesExact(ast.MustParseRef(DecisionQuery))) == 0 {
		return nil, nil, fmt.Errorf("%s: no policy defines %s; a policy declares `package %s` and a rule `decision := {\"allow\": …, \"reasons\": […], \"rule_ids\": […]}`", filepath.Join(dir, PoliciesDir), DecisionQuery, Package)
	}
	pq, err := rego.New(rego.Query(DecisionQuery), rego.Compiler(c)).PrepareForEval(ctx)
	if err != nil {
		return nil, nil, regoError(err)
	}
	return &pq, mods, nil
}

// regoDecision is the decision object a policy produces.
type regoDecision struct {
	Allow   bool
	Reasons []string
	RuleIDs []string
}

func evalDecision(ctx context.Context, pq *rego.PreparedEvalQuery, input map[string]any) (regoDecision, error) {
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return regoDecision{}, fmt.Errorf("policy input: %w", err)
	}
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(v))
	if err != nil {
		return regoDecision{}, fmt.Errorf("evaluate %s: %w", DecisionQuery, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return regoDecision{}, fmt.Errorf("%s is undefined for this input", DecisionQuery)
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return regoDecision{}, fmt.Errorf("%s is %T, want an object {allow, reasons, rule_ids}", DecisionQuery, rs[0].Expressions[0].Value)
	}
	var d regoDecision
	d.Allow, _ = obj["allow"].(bool)
	d.Reasons = strings_(obj["reasons"])
	d.RuleIDs = strings_(obj["rule_ids"])
	return d, nil
}

// strings_ reads a Rego array or set of strings, sorted for sets.
func strings_(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []string
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
