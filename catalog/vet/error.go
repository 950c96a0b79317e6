package vet

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of Vet failure, for errors.Is.
var (
	ErrCommandNotFound   = errors.New("command not found")
	ErrServerExited      = errors.New("server exited")
	ErrNoAnswer          = errors.New("no answer")
	ErrConnectionRefused = errors.New("connection refused")
)

// Error is a failed Vet: what was contacted, what we were doing, and why
// it failed, with the server's last stderr lines when it wrote any.
type Error struct {
	Kind    error         // ErrCommandNotFound, ErrServerExited, ErrNoAnswer, ErrConnectionRefused or nil
	Target  string        // the endpoint, as Endpoint.String gives it
	Op      string        // start, initialize, tools/list, prompts/list, …
	Err     error         // the underlying error
	Command string        // for ErrCommandNotFound
	Timeout time.Duration // for ErrNoAnswer
	Status  int           // the last HTTP status, for HTTP endpoints
	Stderr  []string      // last lines the server wrote to stderr, rendered visible
}

func (e *Error) Error() string {
	var b strings.Builder
	switch e.Kind {
	case ErrCommandNotFound:
		fmt.Fprintf(&b, "start %s: command %q not found", e.Target, e.Command)
	case ErrServerExited:
		fmt.Fprintf(&b, "server %s exited before answering %s (%v)", e.Target, e.Op, e.Err)
	case ErrNoAnswer:
		fmt.Fprintf(&b, "no answer within %s from %s (waiting for %s)", e.Timeout, e.Target, e.Op)
	case ErrConnectionRefused:
		fmt.Fprintf(&b, "connect to %s: connection refused", e.Target)
	default:
		fmt.Fprintf(&b, "%s %s: %v", e.Op, e.Target, e.Err)
	}
	if len(e.Stderr) > 0 {
		b.WriteString("; its last stderr lines:")
		for _, l := range e.Stderr {
			b.WriteString("\n\t")
			b.WriteString(l)
		}
	}
	return b.String()
}

// Unwrap lets errors.Is match both the kind and the underlying error
// (exec.ErrNotFound, context.DeadlineExceeded, syscall.ECONNREFUSED, …).
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Hint says what to try next, for the CLI's "hint:" line.
func (e *Error) Hint() string {
	switch e.Kind {
	case ErrCommandNotFound:
		return "install the server's runtime or package, or give the full path of the command"
	case ErrServerExited:
		return "run the command by hand to see why it fails; missing environment variables and credentials are the usual cause"
	case ErrNoAnswer:
		return "check that the server speaks MCP on stdio (or at this URL) and is not waiting for input or a login; raise the timeout for slow first starts (npx, uvx)"
	case ErrConnectionRefused:
		return "is the server running and listening at that address?"
	}
	switch e.Status {
	case 401, 403:
		return "the server wants credentials: pass them as headers (Authorization: Bearer …)"
	case 404:
		return "check the URL's path; Streamable HTTP servers usually serve /mcp"
	}
	return ""
}
