package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login/oauthuser"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// shimKeepHello is the first line the shim writes to its redirect keeper:
// whom and which server its records name (as the shim's own).
type shimKeepHello struct {
	Identity audit.Identity  `json:"identity"`
	Server   audit.ServerRef `json:"server"`
}

// newShimLingerCmd is the shim's redirect keeper (see shimKeeper): not
// for people, hidden.
func newShimLingerCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "__shim-linger",
		Short:  "Keep a shim's OAuth redirect endpoint up after the shim (started by mcpgov shim)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return shimLinger(cmd.Context(), f)
		},
	}
}

// shimLinger runs oauthuser.Keep on the listener at fd 3 and the shim's
// pipe on stdin, storing grants in the keyring as the shim does and
// recording in the audit trail the shim would.
func shimLinger(ctx context.Context, f *Factory) error {
	if f.IO.IsStdinTTY() {
		return flagErrorf("__shim-linger is started by mcpgov shim, not by hand")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	in := bufio.NewReader(f.IO.In)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return nil // the shim went before saying anything: nothing to keep
	}
	var hello shimKeepHello
	dec := json.NewDecoder(bytesReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hello); err != nil {
		return fmt.Errorf("the shim's first line: %w", err)
	}
	fd3 := os.NewFile(3, "redirect listener")
	ln, err := net.FileListener(fd3) // its own copy of the socket
	_ = fd3.Close()
	if err != nil {
		return fmt.Errorf("the redirect listener (fd 3): %w", err)
	}
	defer ln.Close()
	kr, _ := shimGrantKeyring(ctx, f, hello.Server.ID) // as the shim found it
	var (
		once  sync.Once
		store *audit.Store
		sink  oauthuser.Sink
	)
	// The audit trail opens at the first event: a keeper the shim stops
	// records nothing.
	lazy := oauthuser.SinkFunc(func(ctx context.Context, e oauthuser.Event) {
		once.Do(func() {
			c, cerr := f.Config()
			if cerr != nil {
				fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: no audit record: %v\n", cerr)
				return
			}
			s, err := govern.OpenAuditor(f.Env(), c, func(msg string) { fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: %s\n", msg) })
			if err != nil {
				fmt.Fprintf(f.IO.ErrOut, "mcpgov: warning: no audit record: %v\n", err)
				return
			}
			store, sink = s, govern.KeyringOAuthSink(s, hello.Identity, hello.Server)
		})
		if sink != nil {
			sink.OAuthEvent(ctx, e)
		}
	})
	err = oauthuser.Keep(ctx, oauthuser.KeepOptions{In: in, Listener: ln, Store: kr, Clients: kr, Sink: lazy, Log: f.IO.ErrOut})
	if store != nil {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
