package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
)

// CatalogValidateOptions are the inputs of `mcpgov catalog validate`.
type CatalogValidateOptions struct {
	IO         *IOStreams
	Factory    *Factory
	Bundle     string
	JSON       bool
	UnsignedOK bool
}

func newCatalogValidateCmd(f *Factory, runF func(*CatalogValidateOptions) error) *cobra.Command {
	opts := &CatalogValidateOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "validate [BUNDLE]",
		Short: "Check a bundle's catalog and list every problem",
		Long: `Load the bundle's catalog.toml strictly and list every problem with its file
and line: syntax errors, unknown keys, invalid values, duplicate ids, bad globs,
malformed pins and virtual servers that reference missing servers.

It also warns about servers that match the same launches as an earlier
server (the same package, URL or command line, by launch or match rules):
a launch goes to the first, so the later entry never applies to it.

When trusted_keys are set, the bundle must be signed by one of them, as for
every command. --unsigned-ok checks an edited bundle before it is signed
(for review, in CI on a pull request): a failed signature check is then a
warning, and the result says "signature": "unverified".

Exits 0 when the catalog is valid (warnings or not), 1 otherwise.`,
		Example: `  mcpgov catalog validate ./governance
  mcpgov catalog validate --unsigned-ok ./governance   # edited, not yet signed`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if opts.Bundle != "" && opts.Bundle != args[0] {
					return flagErrorf("give the bundle either as an argument or with --bundle, not both")
				}
				opts.Bundle = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return catalogValidateRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVar(&opts.UnsignedOK, "unsigned-ok", false, "with trusted_keys set, check a bundle that is not (or no longer) signed, for review before signing")
	return cmd
}

type validateReport struct {
	SchemaVersion int    `json:"schemaVersion"`
	Bundle        string `json:"bundle"`
	Valid         bool   `json:"valid"`
	Servers       int    `json:"servers"`
	Virtual       int    `json:"virtual"`
	// Signature is "verified" when trusted keys are set and the bundle's
	// signature checked out, "unverified" when --unsigned-ok let a failed
	// check pass, and empty when no key is pinned.
	Signature string            `json:"signature,omitempty"`
	Problems  []catalog.Problem `json:"problems"`
	Warnings  []catalog.Problem `json:"warnings"`
}

func catalogValidateRun(opts *CatalogValidateOptions) error {
	s, err := resolveAuthoringBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	b, unverified, err := loadForReview(opts.IO.ErrOut, s, opts.UnsignedOK, "catalog validate")
	rep := validateReport{SchemaVersion: 1, Problems: []catalog.Problem{}, Warnings: []catalog.Problem{}}
	var ve *catalog.ValidationError
	switch {
	case errors.As(err, &ve):
		rep.Problems = ve.Problems
	case err != nil:
		return err
	default:
		rep.Valid = true
		if len(s.Keys) > 0 {
			rep.Signature = map[bool]string{false: "verified", true: "unverified"}[unverified]
		}
		rep.Bundle = b.Dir
		rep.Servers, rep.Virtual = len(b.Catalog.Servers), len(b.Catalog.Virtual)
		rep.Warnings = append(rep.Warnings, b.Catalog.Warnings...)
		rep.Warnings = append(rep.Warnings, b.Catalog.DuplicateIdentities()...)
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(opts.IO.Out, p.String())
		}
		for _, w := range rep.Warnings {
			fmt.Fprintln(opts.IO.Out, warningLine(w))
		}
		if rep.Valid {
			warned := ""
			if len(rep.Warnings) > 0 {
				warned = ", " + plural(len(rep.Warnings), "warning", "warnings")
			}
			fmt.Fprintf(opts.IO.Out, "%s: valid (%s, %s%s)\n", b.Dir, plural(rep.Servers, "server", "servers"), plural(rep.Virtual, "virtual server", "virtual servers"), warned)
		}
	}
	if !rep.Valid {
		return fmt.Errorf("catalog has %s", plural(len(rep.Problems), "problem", "problems"))
	}
	return nil
}

// warningLine is a warning as "file:line: warning: message".
func warningLine(w catalog.Problem) string {
	return catalog.Problem{File: w.File, Line: w.Line, Message: "warning: " + w.Message}.String()
}
