package enforce

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// LogRecorder writes each event as one diagnostic line, until the audit
// trail replaces it with records. Lines of events that blocked start with
// "mcpgov: "; lines of events that would have blocked (audit mode, failing
// open) start with "mcpgov: audit: ".
type LogRecorder struct {
	mu sync.Mutex
	W  io.Writer
}

// Record implements Recorder.
func (l *LogRecorder) Record(_ context.Context, e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	verb := "blocked"
	if e.Kind == EventToolHidden || e.Kind == EventToolDrifted {
		verb = "hidden"
	}
	if e.Enforced {
		fmt.Fprintf(l.W, "mcpgov: %s: %s: %s\n", verb, e.Kind, e.Reason)
		return
	}
	fmt.Fprintf(l.W, "mcpgov: audit: would have %s (%s): %s\n", verb, e.Kind, e.Reason)
}

// Warn writes a diagnostic line that is not a decision (an audit record
// that could not be stored).
func (l *LogRecorder) Warn(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.W, "mcpgov: %s\n", msg)
}
