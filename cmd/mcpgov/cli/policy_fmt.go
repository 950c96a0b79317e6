package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/google/renameio/v2/maybe"
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/policy"
)

// PolicyFmtOptions are the inputs of `mcpgov policy fmt`.
type PolicyFmtOptions struct {
	IO      *IOStreams
	Factory *Factory
	Bundle  string
	Check   bool
}

func newPolicyFmtCmd(f *Factory, runF func(context.Context, *PolicyFmtOptions) error) *cobra.Command {
	opts := &PolicyFmtOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "fmt [BUNDLE]",
		Short: "Format the bundle's Rego files",
		Long: `Rewrite the bundle's policies/*.rego in the canonical Rego style (as opa fmt
does), atomically, keeping each file's mode. With --check nothing is written:
the files that need formatting are listed and the command exits 3.`,
		Example: `  mcpgov policy fmt ./governance
  mcpgov policy fmt --check ./governance`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Bundle = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return policyFmtRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().BoolVar(&opts.Check, "check", false, "list unformatted files and exit 3 instead of rewriting them")
	return cmd
}

func policyFmtRun(opts *PolicyFmtOptions) error {
	dir, err := policyBundleDir(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	files, err := policy.PolicyFiles(dir, true)
	if err != nil {
		return err
	}
	var changed []string
	for _, path := range files {
		out, diff, err := policy.FormatFile(path)
		if err != nil {
			return err
		}
		if !diff {
			continue
		}
		changed = append(changed, path)
		if opts.Check {
			fmt.Fprintln(opts.IO.Out, path)
			continue
		}
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		if err := maybe.WriteFile(path, out, info.Mode().Perm()); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Fprintf(opts.IO.Out, "formatted %s\n", path)
	}
	if opts.Check && len(changed) > 0 {
		return &FindingsError{Summary: fmt.Sprintf("%s not formatted; run `mcpgov policy fmt %s`", plural(len(changed), "file", "files"), dir)}
	}
	return nil
}
