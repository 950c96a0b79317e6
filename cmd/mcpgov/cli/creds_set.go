package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mcpgov/mcpgov/catalog"
)

// CredsSetOptions are the inputs of `mcpgov creds set`.
type CredsSetOptions struct {
	IO      *IOStreams
	Factory *Factory
	Server  string
	User    string
}

func newCredsSetCmd(f *Factory, runF func(context.Context, *CredsSetOptions) error) *cobra.Command {
	opts := &CredsSetOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "set SERVER",
		Short: "Store your own key for a catalog server (prompted, or read from stdin)",
		Long: `Store your own key for SERVER in the vault. On a terminal it is asked for
with the input hidden; otherwise it is read from stdin (one line). It is
never taken from the command line, where shell history and process
listings would keep it. An existing key is replaced.

--user stores the key for someone else (an administrator on the gateway's
host, for a vault the gateway shares).`,
		Example: `  mcpgov creds set github
  printf %s "$KEY" | mcpgov creds set github
  mcpgov creds set github --user ann@example.com < ann.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Server = args[0]
			if !catalog.ValidID(opts.Server) {
				return flagErrorf("invalid server id %q: use the catalog id (lower-case letters, digits, '.', '_' and '-')", opts.Server)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return credsSetRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.User, "user", "", "store the key for this person (default: you)")
	return cmd
}

func credsSetRun(ctx context.Context, opts *CredsSetOptions) error {
	key, err := readSecret(opts.IO, fmt.Sprintf("key for %s", opts.Server))
	if err != nil {
		return err
	}
	if key == "" {
		return withHint(errors.New("no key given"), "type it at the prompt, or pipe it on stdin: printf %s \"$KEY\" | mcpgov creds set "+opts.Server)
	}
	user, actor := credsUser(ctx, opts.Factory, opts.User)
	v, closeFn, err := openVault(ctx, opts.Factory, true, actor)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := v.SetAPIKey(ctx, user, opts.Server, key); err != nil {
		return err
	}
	opts.IO.Notef("stored the key for %s of %s in the vault", opts.Server, user)
	return nil
}

// readSecret reads a secret: hidden from the terminal, else one line of
// stdin. Surrounding whitespace and the line end are not part of it.
func readSecret(ios *IOStreams, label string) (string, error) {
	if f, ok := ios.In.(*os.File); ok && ios.IsStdinTTY() && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(ios.ErrOut, "%s (input hidden): ", label)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(ios.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", label, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := bufio.NewReader(ios.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s from stdin: %w", label, err)
	}
	return strings.TrimSpace(line), nil
}
