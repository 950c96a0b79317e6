package audit

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Logging modes (the seed's request logging mode).
const (
	LoggingAlways           = "always"
	LoggingHeaderControlled = "header_controlled"
	LoggingNever            = "never"
)

// MetaLogging is the request _meta key through which a call opts in to
// being logged in full under header_controlled ("on"/true) or out ("off"/false).
const MetaLogging = "io.mcpgov/logging"

func validLogging(mode string) error {
	switch mode {
	case "", LoggingAlways, LoggingHeaderControlled, LoggingNever:
		return nil
	}
	return fmt.Errorf("invalid audit logging mode %q: want always, header_controlled or never", mode)
}

// ApplyLogging applies the logging mode to a tool-call record: when the
// call is not to be logged in full, rec becomes a placeholder that keeps
// who, where, which tool and the decision but drops arguments, result
// details and findings, so a gap stays distinguishable from a deletion.
// Other kinds (refused servers, drift, guardrail errors) are always logged.
func ApplyLogging(rec *Record, mode string) {
	if mode == "" {
		mode = LoggingAlways
	}
	rec.Logging = mode
	if rec.Kind != KindToolCall {
		return
	}
	switch mode {
	case LoggingAlways:
		return
	case LoggingHeaderControlled:
		on, said := optedIn(rec.RequestMeta)
		if !said {
			// The call's _meta says nothing: the request's header decides.
			on = rec.RequestLogging == RequestLoggingOn
		}
		if on {
			return
		}
	}
	rec.SuppressedKind = rec.Kind
	rec.Kind = KindPlaceholder
	rec.Arguments = nil
	rec.ArgumentsKept = ""
	if rec.Result != nil {
		rec.Result = &ResultSummary{IsError: rec.Result.IsError, ErrorCode: rec.Result.ErrorCode}
	}
	for i := range rec.Guardrails {
		rec.Guardrails[i].Findings = nil
	}
}

// optedIn reports whether a request's _meta asks for full logging (on),
// and whether it says anything about it (said).
func optedIn(meta json.RawMessage) (on, said bool) {
	if len(meta) == 0 {
		return false, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return false, false
	}
	v, ok := m[MetaLogging]
	if !ok {
		return false, false
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b, true
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		switch strings.ToLower(s) {
		case "on", "true", "always", "full":
			return true, true
		}
	}
	return false, true
}
