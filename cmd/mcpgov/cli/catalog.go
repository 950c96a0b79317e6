package cli

import (
	"github.com/spf13/cobra"
)

func newCatalogCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "catalog <command>",
		GroupID: "catalog",
		Short:   "Inspect, validate and maintain the server catalog",
		Long: `The catalog (catalog.toml in the governance bundle) lists every MCP server the
organisation has reviewed: owner, status (approved, pending, blocked), risk,
data scope, authentication, launch parameters, allowed groups, rate limits,
allowed tools and pinned tool fingerprints, plus virtual servers.

An oauth_user server with a client_secret pins its authorization server:
issuer, or authorization_url and token_url (both: no endpoint is then
taken from the metadata the server names; add revocation_url for RFC 7009
revocation, else a grant withdrawn here is not revoked there).

Commands that read the bundle take --bundle DIR; without it MCPGOV_BUNDLE,
then the user's config file, then the managed config decide.`,
		Example: `  mcpgov catalog validate ./governance
  mcpgov catalog list --bundle ./governance
  mcpgov catalog show github --json`,
	}
	cmd.AddCommand(
		newCatalogValidateCmd(f, nil),
		newCatalogListCmd(f, nil),
		newCatalogShowCmd(f, nil),
		newCatalogVetCmd(f, nil),
		newCatalogApproveCmd(f, nil),
		newCatalogPinCmd(f, nil),
		newCatalogBlockCmd(f, nil),
		newCatalogImportCmd(f, nil),
		newCatalogExportCmd(f, nil),
		newCatalogBrowseCmd(f, nil),
		newCatalogInstallCmd(f, nil),
		newCatalogUninstallCmd(f, nil),
	)
	return cmd
}
