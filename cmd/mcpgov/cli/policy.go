package cli

import (
	"github.com/spf13/cobra"
)

func newPolicyCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policy <command>",
		GroupID: "catalog",
		Short:   "Test, format and try the bundle's policies and guardrails",
		Long: `A bundle's policies/*.rego (package mcpgov.authz) decide every governed
tools/call from facts: who calls (identity and groups), which client, the
server's catalog entry, the tool and its annotations, the arguments, and the
findings of the guardrails in guardrails.toml (SQL, secrets, PII, code safety,
prompt injection, tool poisoning, your own patterns, an external detector).

policy test runs the bundle's *_test.rego, as CI should; policy eval runs the
exact pipeline the shim runs on calls you give it; policy input-schema prints
what a policy sees; policy fmt formats the Rego.`,
		Example: `  mcpgov policy test ./governance
  echo '{"server":"db","tool":"query","arguments":{"sql":"DROP TABLE t"}}' | mcpgov policy eval --bundle ./governance
  mcpgov policy fmt --check ./governance`,
	}
	cmd.AddCommand(
		newPolicyTestCmd(f, nil),
		newPolicyEvalCmd(f, nil),
		newPolicyFmtCmd(f, nil),
		newPolicyReplayCmd(f, nil),
		newPolicyInputSchemaCmd(f),
	)
	return cmd
}

func newPolicyInputSchemaCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "input-schema",
		Short: "Print the JSON Schema of the policy input",
		Long: `Print the JSON Schema of the input data.mcpgov.authz.decision receives, so
policy authors and editors know every field.`,
		Example: "  mcpgov policy input-schema > policy-input.schema.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := f.IO.Out.Write([]byte(policyInputSchema()))
			return err
		},
	}
}
