package enforce

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
)

// Sink receives every audit record the core makes: calls, refused
// servers, hidden and flagged tools, refused messages. Record returns
// once rec is durable (or failed); in enforce mode a failed Record
// withholds the reply and the client gets an error instead: nothing runs
// unrecorded.
type Sink interface {
	Record(ctx context.Context, rec *audit.Record) error
	// Keeps reports whether the sink keeps records (an audit store). A
	// sink that does not is only told about records that block or would
	// have blocked, and the core builds no record of an allowed call.
	Keeps() bool
}

// AuditorHealth is implemented by Sinks that can tell before a call runs
// that they could not record it (an unwritable directory, a full disk):
// in enforce mode the call is then refused instead of running
// unrecorded.
type AuditorHealth interface {
	Healthy() error
}

// Store is an audit store, as Tee writes to it (*audit.Store).
type Store interface {
	Append(ctx context.Context, rec *audit.Record) error
}

// Tee is the Sink of a connection with an audit trail: each record goes
// to the Store first, then to Lines (if any) with the Store's error, so
// that a record not stored is reported on stderr.
type Tee struct {
	Store Store
	Lines *Lines
}

var (
	_ Sink          = Tee{}
	_ AuditorHealth = Tee{}
	_ Sink          = (*Lines)(nil)
)

// Record implements Sink.
func (t Tee) Record(ctx context.Context, rec *audit.Record) error {
	err := t.Store.Append(ctx, rec)
	if t.Lines != nil {
		t.Lines.write(rec, err)
	}
	return err
}

// Keeps implements Sink: a store keeps every record.
func (t Tee) Keeps() bool { return true }

// MayBlock implements Blocker: the store's (an fsync per record blocks).
func (t Tee) MayBlock() bool { return mayBlock(t.Store) }

// Healthy implements AuditorHealth for Stores that do.
func (t Tee) Healthy() error {
	if h, ok := t.Store.(AuditorHealth); ok {
		return h.Healthy()
	}
	return nil
}

// Lines is the Sink that writes diagnostics (stderr): one line per record
// that blocked ("mcpgov: warning: blocked …: reason"), or would have in
// audit mode or when failing open ("mcpgov: warning: audit mode: would
// have blocked …: reason"), including refused servers and hidden or
// flagged tools. Records of messages the relay refused are not written:
// the relay says so itself; nor are servers refused in enforce mode: the
// transport reports that as its error. Alone it keeps nothing.
type Lines struct {
	mu sync.Mutex
	W  io.Writer
}

// Record implements Sink.
func (l *Lines) Record(_ context.Context, rec *audit.Record) error {
	l.write(rec, nil)
	return nil
}

// Keeps implements Sink: lines are not records.
func (l *Lines) Keeps() bool { return false }

// MayBlock implements Blocker: a line is written at once.
func (l *Lines) MayBlock() bool { return false }

// write writes rec's line, if it has one, and the store's error.
func (l *Lines) write(rec *audit.Record, storeErr error) {
	text := line(rec)
	if text == "" && storeErr == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if text != "" {
		fmt.Fprintln(l.W, text)
	}
	if storeErr != nil {
		fmt.Fprintf(l.W, "mcpgov: warning: audit record not stored: %v\n", storeErr)
	}
}

// line is the diagnostic line of a record that blocked or would have
// blocked, or "" for other records.
func line(rec *audit.Record) string {
	kind := rec.Kind
	if kind == audit.KindPlaceholder { // the logging mode kept only the decision
		kind = rec.SuppressedKind
	}
	d := rec.Decision
	verb, what, reason := "blocked", "", rec.Reason
	switch kind {
	case audit.KindServerRefused:
		if d.Enforced {
			// A server that may not start is the transport's own error
			// (the shim exits 1 saying why): reported once, there.
			return ""
		}
		what = "the server"
	case audit.KindToolHidden, audit.KindToolDrift, audit.KindToolReview:
		verb, what = "hid", "tool "+rec.Tool
	case audit.KindListUndecided:
		what = "the tools/list result"
	case audit.KindToolCall:
		if d.Allow && len(d.Reasons) == 0 {
			return ""
		}
		what = strings.TrimSpace(rec.Method + " " + rec.Tool)
		reason = strings.Join(d.Reasons, "; ")
	default:
		return ""
	}
	if d.Enforced {
		return fmt.Sprintf("mcpgov: warning: %s %s: %s", verb, what, reason)
	}
	if verb == "hid" {
		verb = "hidden"
	}
	why := "fail mode open" // enforce mode, but the core could not decide
	if d.Mode == string(catalog.ModeAudit) {
		why = "audit mode"
	}
	return fmt.Sprintf("mcpgov: warning: %s: would have %s %s: %s", why, verb, what, reason)
}
