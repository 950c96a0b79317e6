// Package cli wires mcpgov's commands: flag parsing, output modes and exit
// codes. It holds no domain logic; each command calls into scan, catalog,
// shim, policy, login or audit.
package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs mcpgov with the process's arguments and returns its exit code.
func Main() int {
	f := newFactory()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, f, os.Args[1:])
}

// run executes the command tree and maps the outcome to an exit code. Errors
// are printed here and nowhere else.
func run(ctx context.Context, f *Factory, args []string) int {
	root, started := newRootCmdFor(f, args)
	return execute(ctx, f, root, started, args)
}

// execute runs args on the tree root; started is newRootCmd's flag.
func execute(ctx context.Context, f *Factory, root *cobra.Command, started *bool, args []string) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	// Anything that fails before a command's run function starts (unknown
	// command or flag, wrong argument count) is a usage error.
	var flagErr *FlagError
	if !*started && !errors.As(err, &flagErr) {
		err = &FlagError{Err: err}
	}
	printError(f.IO, err)
	if errors.As(err, &flagErr) && cmd != nil {
		f.IO.Hintf("run %q for usage", cmd.CommandPath()+" --help")
	}
	return exitCode(err)
}

// printError prints the error a command returned, and its hint. It is the
// only place a returned error is printed.
func printError(io *IOStreams, err error) {
	var reported *ReportedError
	if !errors.As(err, &reported) {
		io.Errorf("%s", err)
	}
	var hinted *HintError
	if errors.As(err, &hinted) && hinted.Hint != "" {
		io.Hintf("%s", hinted.Hint)
	}
}
