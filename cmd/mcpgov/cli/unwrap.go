package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newUnwrapCmd(f *Factory, runF func(context.Context, *WrapOptions) error) *cobra.Command {
	opts := &WrapOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "unwrap",
		GroupID: "enforce",
		Short:   "Restore client configs that mcpgov wrap rewrote",
		Long: `Restore the server entries that launch through mcpgov shim to what they were
before "mcpgov wrap".

The manifest under the state directory ($XDG_STATE_HOME/mcpgov/wrap,
--state-dir) holds the original bytes of every wrapped entry: when the entry
is still as wrap left it, it is restored byte for byte, and a file whose
entries are all unwrapped is identical to what it was before wrap. An entry
the manifest does not know (wrapped on another machine, or edited since) is
restored from the command line after "--". Entries "mcpgov catalog install"
added are removed, as the install manifest recorded them (see "mcpgov
catalog uninstall"). The same lossless, atomic and concurrency-safe edit as
wrap is used; --dry-run prints the diff instead.`,
		Example: `  # restore everything
  mcpgov unwrap

  # preview restoring one client
  mcpgov unwrap --client cursor --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return wrapRun(cmd.Context(), opts, true)
		},
	}
	addWrapFlags(cmd, opts)
	return cmd
}
