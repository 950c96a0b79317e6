package cli

import (
	"context"
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/policy"
)

// PolicyTestOptions are the inputs of `mcpgov policy test`.
type PolicyTestOptions struct {
	IO         *IOStreams
	Factory    *Factory
	Bundle     string
	Coverage   bool
	Run        string
	JSON       bool
	UnsignedOK bool
}

func newPolicyTestCmd(f *Factory, runF func(context.Context, *PolicyTestOptions) error) *cobra.Command {
	opts := &PolicyTestOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "test [BUNDLE]",
		Short: "Run the bundle's Rego policy tests",
		Long: `Run every test rule (test_*) in the bundle's policies/*_test.rego against its
policies, with the built-ins the shim allows (no http.send). Prints each
failing test with its file and line, then a summary.

With trusted_keys set the bundle must be signed, as for every command;
--unsigned-ok runs the tests of an edited bundle before it is signed.

Exits 0 when every test passes, 3 when one fails, 1 when the policies do not
compile (each problem as file:line:col).`,
		Example: `  mcpgov policy test ./governance
  mcpgov policy test --coverage --json ./governance
  mcpgov policy test --run 'broad_group' ./governance`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Bundle = args[0]
			}
			if opts.Run != "" {
				if _, err := regexp.Compile(opts.Run); err != nil {
					return flagErrorf("--run %q: %v", opts.Run, err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return policyTestRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().BoolVar(&opts.Coverage, "coverage", false, "report which policy lines the tests reach")
	cmd.Flags().StringVar(&opts.Run, "run", "", "run only tests whose name matches this regular expression")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the results as JSON")
	cmd.Flags().BoolVar(&opts.UnsignedOK, "unsigned-ok", false, "with trusted_keys set, test a bundle that is not (or no longer) signed, for review before signing")
	return cmd
}

type policyTestReport struct {
	SchemaVersion int    `json:"schemaVersion"`
	Bundle        string `json:"bundle"`
	*policy.TestReport
}

func policyTestRun(ctx context.Context, opts *PolicyTestOptions) error {
	s, err := resolveAuthoringBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	b, _, err := loadForReview(opts.IO.ErrOut, s, opts.UnsignedOK, "policy test")
	if err != nil {
		return err
	}
	dir := b.Dir
	rep, err := policy.RunTests(ctx, dir, policy.TestOptions{Run: opts.Run, Coverage: opts.Coverage})
	if err != nil {
		return err
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, policyTestReport{1, dir, rep}); err != nil {
			return err
		}
	} else {
		out := opts.IO.Out
		for _, r := range rep.Results {
			if r.Pass {
				continue
			}
			fmt.Fprintf(out, "FAIL %s:%d: %s.%s: %s\n", r.File, r.Line, r.Package, r.Name, r.Error)
			if r.Output != "" {
				fmt.Fprintf(out, "  output: %s\n", r.Output)
			}
		}
		fmt.Fprintf(out, "%d passed, %d failed\n", rep.Passed, rep.Failed)
		if rep.Coverage != nil {
			fmt.Fprintf(out, "coverage: %.1f%%\n", *rep.Coverage)
			for _, nc := range rep.NotCovered {
				fmt.Fprintf(out, "  not covered: %s\n", nc)
			}
		}
	}
	if rep.Failed > 0 {
		return &FindingsError{Summary: fmt.Sprintf("%s failed", plural(rep.Failed, "policy test", "policy tests"))}
	}
	if len(rep.Results) == 0 {
		return fmt.Errorf("no tests ran in %s (test rules are named test_* in policies/*_test.rego)", dir)
	}
	return nil
}

// policyBundleDir resolves the bundle directory like every bundle command,
// loading it so a broken catalog is reported first.
func policyBundleDir(f *Factory, flag string) (string, error) {
	b, err := loadBundle(f, flag)
	if err != nil {
		return "", err
	}
	return b.Dir, nil
}
