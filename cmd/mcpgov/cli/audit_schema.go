package cli

import (
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
)

func newAuditSchemaCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of an audit record",
		Long: `Print the JSON Schema (draft 2020-12) that every stored audit record line
matches, for SIEM parsers and data pipelines.`,
		Example: `  mcpgov audit schema > audit-record.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := audit.Schema()
			if err != nil {
				return err
			}
			_, err = f.IO.Out.Write(append(b, '\n'))
			return err
		},
	}
}
