package audit

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Filter selects records. Zero fields match everything.
type Filter struct {
	Since, Until time.Time // Since ≤ Time < Until
	Server       string    // catalog ID or name
	Tool         string
	Identity     string // subject or email
	// Decision is allow or deny (the enforcement decision), or an outcome
	// (allowed, denied, error, cancelled, redacted).
	Decision string
	Kind     string
	AfterSeq uint64 // only records with Seq > AfterSeq
}

// DecisionOf is a record's decision: "allow", "deny", or "hidden" for
// the tool records of a listing.
func DecisionOf(r *Record) string {
	switch r.Kind {
	case KindToolHidden, KindToolDrift, KindToolReview:
		// What a listing showed, once per tool and session: not a call
		// that was denied, so it does not swamp --decision deny.
		return "hidden"
	}
	if r.Decision.Allow {
		return "allow"
	}
	return "deny"
}

// Match reports whether r passes the filter.
func (f Filter) Match(r *Record) bool {
	switch {
	case r.Seq <= f.AfterSeq:
	case !f.Since.IsZero() && r.Time.Before(f.Since):
	case !f.Until.IsZero() && !r.Time.Before(f.Until):
	case f.Server != "" && f.Server != r.Server.ID && f.Server != r.Server.Name && f.Server != r.Server.ConfigName:
	case f.Tool != "" && f.Tool != r.Tool:
	case f.Identity != "" && f.Identity != r.Identity.Subject && !strings.EqualFold(f.Identity, r.Identity.Email):
	case f.Kind != "" && f.Kind != r.Kind:
	case f.Decision != "" && f.Decision != DecisionOf(r) && f.Decision != r.Outcome:
	default:
		return true
	}
	return false
}

// ValidDecision checks a --decision value.
func ValidDecision(d string) error {
	switch d {
	case "", "allow", "deny", "hidden", OutcomeAllowed, OutcomeDenied, OutcomeError, OutcomeCancelled, OutcomeRedacted:
		return nil
	}
	return fmt.Errorf("invalid decision %q: want allow, deny, hidden, or an outcome (allowed, denied, error, cancelled, redacted)", d)
}

// Records calls fn with each record matching f, in chain order, with the
// exact stored line. A line that is not a record is an error naming its
// segment and line: a corrupt segment is reported, never skipped. Only an
// incomplete last line of the newest segment (a writer killed mid-write,
// never acknowledged) is passed over.
func Records(dir string, f Filter, fn func(r *Record, line []byte) error) error {
	segs, err := ListSegments(dir)
	if err != nil {
		return err
	}
	for i, seg := range segs {
		isLast := i == len(segs)-1
		if f.AfterSeq > 0 && !isLast {
			// Whole segments before the cursor are passed over unread.
			if line, _, _, err := lastLine(seg.Path); err == nil && line != nil {
				var h lineHead
				if json.Unmarshal(line, &h) == nil && h.Seq <= f.AfterSeq {
					continue
				}
			}
		}
		err := scanLines(seg.Path, func(n int, line []byte, complete bool) error {
			if !complete {
				if isLast {
					return nil
				}
				return &ChainError{Segment: seg.Name(), Line: n, Reason: "segment ends in an incomplete line; run mcpgov audit verify"}
			}
			var r Record
			if err := json.Unmarshal(line, &r); err != nil || r.Seq == 0 {
				reason := "not an audit record"
				if err != nil {
					reason = "not an audit record: " + err.Error()
				}
				return &ChainError{Segment: seg.Name(), Line: n, Reason: reason + "; run mcpgov audit verify"}
			}
			if !f.Match(&r) {
				return nil
			}
			return fn(&r, line)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
