package cli

import (
	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/policy/govern"
)

// addGatewayStoreFlags adds the flags of the store replicas share.
func addGatewayStoreFlags(cmd *cobra.Command, opts *GatewayServeOptions) {
	cmd.Flags().StringVar(&opts.Store, "store", "", "Redis or Valkey URL the replicas share (redis://HOST:PORT/DB, rediss://, unix:///PATH): rate limits, tokens, the credential vault, bundle reloads")
	cmd.Flags().StringVar(&opts.StoreDown, "store-down", "", "while the store is unreachable: enforce (refuse calls that need a shared counter) or audit (count per replica); default enforce")
}

// openGatewayStore opens the store the replicas share, when the flags or
// [gateway] store name one; nil otherwise. Outages and recoveries are
// printed as they happen.
func openGatewayStore(opts *GatewayServeOptions, c govern.Configs) (*govern.SharedState, error) {
	url, mode, err := c.GatewayStore(opts.Store, opts.StoreDown)
	if err != nil {
		if opts.StoreDown != "" {
			return nil, flagErrorf("invalid --store-down: %v", err)
		}
		return nil, err
	}
	if url == "" {
		return nil, nil
	}
	shared, err := govern.OpenSharedState(opts.Factory.Env(), url, mode, func(n govern.Notice) { printNotice(opts.IO, n) })
	if err != nil {
		return nil, err
	}
	opts.IO.Notef("sharing rate limits, tokens, the credential vault and bundle reloads through %s (store_down = %s)", shared.Store, mode)
	return shared, nil
}
