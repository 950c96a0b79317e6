package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// Streams: `token create` prints the token on stdout (the only time it
// exists in clear) and what it is on stderr; `token list` prints the
// records on stdout; `token revoke` prints nothing on stdout.

func newGatewayTokenCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token <command>",
		Short: "Issue, list and revoke the gateway's personal and service tokens",
		Long: `Personal tokens are issued for a person, service tokens for an agent or a CI
job (a virtual account with its own groups). A caller sends one as
"Authorization: Bearer TOKEN"; the gateway checks it like an identity
provider's token and records its identity (method pat or service).

Tokens live hashed (SHA-256) in tokens.json in the state directory's
gateway ($XDG_STATE_HOME/mcpgov/gateway), which a running gateway on this
machine rereads when it changes: a new or revoked token counts at once.`,
		Example: `  mcpgov gateway token create --user ann@example.com --groups eng --expires 30d
  mcpgov gateway token list
  mcpgov gateway token revoke 3f9a1c0d2b7e`,
	}
	cmd.AddCommand(newGatewayTokenCreateCmd(f, nil), newGatewayTokenListCmd(f, nil), newGatewayTokenRevokeCmd(f, nil))
	return cmd
}

// GatewayTokenCreateOptions are the inputs of `mcpgov gateway token create`.
type GatewayTokenCreateOptions struct {
	IO      *IOStreams
	Factory *Factory
	User    string
	Service string
	Groups  []string
	Expires string
	JSON    bool
}

func newGatewayTokenCreateCmd(f *Factory, runF func(*GatewayTokenCreateOptions) error) *cobra.Command {
	opts := &GatewayTokenCreateOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "create (--user U | --service NAME) [--groups G,...] [--expires D]",
		Short: "Issue a token for a person or a service; it is shown once",
		Long: `Issue a token for a person (--user, their name or email as records show it)
or a service (--service, an agent's or job's name), with the groups that
decide what it may use (--groups). It expires after --expires: a duration
("720h") or days ("30d"). The token is printed on stdout once; only its
SHA-256 is kept, so a lost token is revoked and issued again.`,
		Example: `  mcpgov gateway token create --user ann@example.com --groups eng --expires 30d
  mcpgov gateway token create --service ci-release --groups release-bots --expires 90d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (opts.User == "") == (opts.Service == "") {
				return flagErrorf("name exactly one of --user and --service")
			}
			if _, err := audit.ParseAge(opts.Expires); err != nil {
				return flagErrorf("invalid --expires %q: want a duration like 720h or days like 30d", opts.Expires)
			}
			for _, g := range opts.Groups {
				if strings.TrimSpace(g) == "" {
					return flagErrorf("invalid --groups: empty group name")
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return gatewayTokenCreateRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.User, "user", "", "the person the token is for")
	cmd.Flags().StringVar(&opts.Service, "service", "", "the service (agent, CI job) the token is for")
	cmd.Flags().StringSliceVar(&opts.Groups, "groups", nil, "groups of the token's identity (comma-separated or repeated)")
	cmd.Flags().StringVar(&opts.Expires, "expires", "30d", "lifetime: a duration (720h) or days (30d)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the token and its record as JSON")
	return cmd
}

func gatewayTokenCreateRun(opts *GatewayTokenCreateOptions) error {
	store, done, err := openGatewayTokens(opts.Factory)
	if err != nil {
		return err
	}
	defer done()
	ttl, _ := audit.ParseAge(opts.Expires)
	spec := govern.TokenSpec{Kind: govern.TokenPersonal, Subject: opts.User, Groups: opts.Groups, TTL: ttl}
	if opts.Service != "" {
		spec.Kind, spec.Subject = govern.TokenService, opts.Service
	}
	raw, t, err := store.Create(context.Background(), spec)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, struct {
			SchemaVersion int                `json:"schemaVersion"`
			Token         string             `json:"token"`
			Record        govern.IssuedToken `json:"record"`
		}{1, raw, t})
	}
	fmt.Fprintln(opts.IO.Out, raw)
	opts.IO.Notef("%s token %s for %s (groups %s), expires %s; it is shown only now", t.Kind, t.ID, t.Subject, groupList(t.Groups), t.Expires.Format(time.RFC3339))
	return nil
}

// GatewayTokenListOptions are the inputs of `mcpgov gateway token list`.
type GatewayTokenListOptions struct {
	IO      *IOStreams
	Factory *Factory
	JSON    bool
}

func newGatewayTokenListCmd(f *Factory, runF func(*GatewayTokenListOptions) error) *cobra.Command {
	opts := &GatewayTokenListOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List the gateway's tokens with their state and last use",
		Example: `  mcpgov gateway token list --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return gatewayTokenListRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func gatewayTokenListRun(opts *GatewayTokenListOptions) error {
	env := opts.Factory.Env()
	store, done, err := openGatewayTokens(opts.Factory)
	if err != nil {
		return err
	}
	defer done()
	all, err := store.List(context.Background())
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, struct {
			SchemaVersion int                  `json:"schemaVersion"`
			Tokens        []govern.IssuedToken `json:"tokens"`
		}{1, all})
	}
	now := time.Now()
	if env.Now != nil {
		now = env.Now()
	}
	tw := newTabWriter(opts.IO.Out)
	fmt.Fprintln(tw, "ID\tKIND\tSUBJECT\tGROUPS\tSTATE\tEXPIRES\tLAST USED")
	for _, t := range all {
		state := "active"
		switch {
		case t.Revoked != nil:
			state = "revoked " + t.Revoked.Format(time.RFC3339)
		case !now.Before(t.Expires):
			state = "expired"
		}
		last := "never"
		if t.LastUsed != nil {
			last = t.LastUsed.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, t.Subject, groupList(t.Groups), state, t.Expires.Format(time.RFC3339), last)
	}
	if len(all) == 0 {
		opts.IO.Notef("no tokens; make one with `mcpgov gateway token create`")
	}
	return tw.Flush()
}

// GatewayTokenRevokeOptions are the inputs of `mcpgov gateway token revoke`.
type GatewayTokenRevokeOptions struct {
	IO      *IOStreams
	Factory *Factory
	ID      string
}

func newGatewayTokenRevokeCmd(f *Factory, runF func(*GatewayTokenRevokeOptions) error) *cobra.Command {
	opts := &GatewayTokenRevokeOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a token: the gateway refuses it from then on",
		Example: `  mcpgov gateway token revoke 3f9a1c0d2b7e`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return gatewayTokenRevokeRun(opts)
		},
	}
	return cmd
}

func gatewayTokenRevokeRun(opts *GatewayTokenRevokeOptions) error {
	store, done, err := openGatewayTokens(opts.Factory)
	if err != nil {
		return err
	}
	defer done()
	t, err := store.Revoke(context.Background(), opts.ID)
	if err != nil {
		return err
	}
	opts.IO.Notef("revoked %s token %s for %s", t.Kind, t.ID, t.Subject)
	return nil
}

func groupList(g []string) string {
	if len(g) == 0 {
		return "none"
	}
	return strings.Join(g, ",")
}

// openGatewayTokens is the token store of the gateway's configuration:
// the replicas' shared store when [gateway] store names one.
func openGatewayTokens(f *Factory) (govern.TokenStore, func(), error) {
	c, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	return govern.OpenGatewayTokens(f.Env(), c)
}
