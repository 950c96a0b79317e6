package enforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
)

// ListOutcome is what FilterTools did with one tools/list result.
type ListOutcome struct {
	// Result is the rewritten result, or nil when the original is to be
	// forwarded unchanged.
	Result json.RawMessage
	// Changed is true when a tool's visibility differs from the last time
	// it was listed: the client should be sent
	// notifications/tools/list_changed.
	Changed bool
	// Err is set when the result could not be parsed and the fail mode is
	// closed: the client gets this error instead of the result.
	Err error
}

// FilterTools governs one page of a tools/list result: it removes tools
// outside the allow/deny lists and tools whose fingerprint differs from
// their pin, and keeps every other key of the result and of each tool
// verbatim. Pages are filtered independently.
func (c *Core) FilterTools(ctx context.Context, result json.RawMessage) ListOutcome {
	if c.cfg.Server == nil {
		return ListOutcome{}
	}
	var obj map[string]json.RawMessage
	var tools []json.RawMessage
	err := json.Unmarshal(result, &obj)
	if err == nil {
		err = json.Unmarshal(obj["tools"], &tools)
	}
	if err != nil {
		return c.undecidable(ctx, fmt.Errorf("tools/list result is not a JSON object with a tools array: %w", err))
	}
	kept := make([]json.RawMessage, 0, len(tools))
	changed := false
	for _, raw := range tools {
		def, err := catalog.ParseToolDef(raw)
		if err != nil {
			if out := c.undecidable(ctx, fmt.Errorf("tools/list result: %w", err)); out.Err != nil {
				return out
			}
			kept = append(kept, raw)
			continue
		}
		c.mu.Lock()
		c.annotation[def.Name] = def.Annotations
		c.mu.Unlock()
		reason, kind := c.hideReason(def)
		if reason == "" {
			reason, kind = c.review(ctx, def, raw)
		}
		visible := reason == ""
		if !visible {
			enforced := !c.audit()
			c.record(ctx, kind, def.Name, reason, enforced)
			if !enforced {
				visible = true
			}
		}
		c.mu.Lock()
		prev, seen := c.visible[def.Name]
		c.visible[def.Name] = visible
		c.mu.Unlock()
		if seen && prev != visible {
			changed = true
		}
		if visible {
			kept = append(kept, raw)
		}
	}
	if len(kept) == len(tools) {
		return ListOutcome{Changed: changed}
	}
	out, err := replaceTools(result, obj, kept)
	if err != nil {
		return c.undecidable(ctx, err)
	}
	return ListOutcome{Result: out, Changed: changed}
}

// hideReason says why a tool must be hidden, with the record kind, or "".
func (c *Core) hideReason(def catalog.ToolDef) (string, string) {
	s := c.cfg.Server
	if !s.ToolAllowed(def.Name) {
		return fmt.Sprintf("tool %s is not allowed by the catalog entry %s", def.Name, s.ID), audit.KindToolHidden
	}
	if reason := c.toolGroupBlocked(def.Name); reason != "" {
		return reason, audit.KindToolHidden
	}
	pin, ok := s.Pins[def.Name]
	if !ok {
		return "", ""
	}
	if got := catalog.Fingerprint(def); !equalFold(got, pin) {
		return fmt.Sprintf("tool %s drifted from its pin: definition %s, pinned %s", def.Name, got, pin), audit.KindToolDrift
	}
	return "", ""
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// undecidable applies the fail mode to a result the core cannot read.
func (c *Core) undecidable(ctx context.Context, err error) ListOutcome {
	enforced := !c.audit() && c.cfg.FailMode != catalog.FailOpen
	c.record(ctx, audit.KindListUndecided, "", err.Error(), enforced)
	if enforced {
		return ListOutcome{Err: err}
	}
	return ListOutcome{}
}

// replaceTools re-encodes the result with only the kept tools, keeping
// every other member.
func replaceTools(result json.RawMessage, obj map[string]json.RawMessage, kept []json.RawMessage) (json.RawMessage, error) {
	arr, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	obj["tools"] = arr
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("re-encode tools/list result: %w", err)
	}
	return out, nil
}

// Unverified reports whether a tools/call names a pinned tool (or, with
// a describe hook, any tool) whose current definition the core has not
// seen yet (the client called it
// without listing tools first): the caller should list the upstream's
// tools through FilterTools before CheckCall, or a drifted definition
// would go unnoticed.
func (c *Core) Unverified(params json.RawMessage) bool {
	return c.unverified(func() string { return toolName(params) })
}

// unverified is Unverified for the tool name that name reads.
func (c *Core) unverified(name func() string) bool {
	reviewed := reviews(c.cfg.Hooks)
	if c.cfg.Server == nil || len(c.cfg.Server.Pins) == 0 && !reviewed {
		return false
	}
	tool := name()
	if tool == "" {
		return false
	}
	// A pinned tool must match its pin, and with a describe hook every
	// tool must pass review, before its first call: a call sent beside
	// (or without) the client's tools/list would otherwise run unchecked.
	if _, pinned := c.cfg.Server.Pins[tool]; !pinned && !reviewed {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, seen := c.visible[tool]
	return !seen
}

// VerifyFailed tells the core that the relay's own listing of the
// upstream's tools (see Unverified) failed: until a listing succeeds, a
// call of a tool the core has not seen cannot be checked and follows the
// fail mode. VerifyFailed(nil) clears it.
func (c *Core) VerifyFailed(err error) {
	c.mu.Lock()
	c.listErr = err
	c.mu.Unlock()
}

// unverifiable says why a call of tool cannot be checked against its
// definition, or "": a pinned tool the server has not listed (it is not
// offered, or the listing failed), or with a describe hook any unlisted
// tool while the listing fails. An unpinned tool the listing lacks has no
// definition the model saw, so nothing to review: the server answers it.
func (c *Core) unverifiable(tool string) string {
	if c.cfg.Server == nil || len(c.cfg.Server.Pins) == 0 && !reviews(c.cfg.Hooks) {
		return ""
	}
	c.mu.Lock()
	_, seen := c.visible[tool]
	listErr := c.listErr
	c.mu.Unlock()
	if seen {
		return ""
	}
	_, pinned := c.cfg.Server.Pins[tool]
	switch {
	case listErr != nil && (pinned || reviews(c.cfg.Hooks)):
		return fmt.Sprintf("tool %s could not be verified against its approved definition: the server's tools/list failed (%v)", tool, listErr)
	case pinned:
		return fmt.Sprintf("pinned tool %s is not offered by the server's tools/list, so its definition cannot be verified", tool)
	}
	return ""
}

// annotations returns the tool's annotations from the last tools/list.
func (c *Core) annotations(tool string) json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.annotation[tool]
}

// review runs the describe hook on a definition and returns why the tool
// must be hidden, or "". It runs on every listing: the hook keeps the one
// cache of verdicts (the Pipeline's, per bundle revision and shared by
// every session of the process), so a gateway with many sessions reviews
// each definition once, not once per session.
func (c *Core) review(ctx context.Context, def catalog.ToolDef, raw json.RawMessage) (string, string) {
	if !reviews(c.cfg.Hooks) {
		return "", ""
	}
	dec, err := c.cfg.Hooks.ReviewTool(ctx, c.cfg.Server, raw)
	switch {
	case err == nil:
	case !c.audit() && c.cfg.FailMode != catalog.FailOpen:
		// An unreviewable definition follows the fail mode.
		dec = Decision{Reasons: []string{"could not be reviewed: " + err.Error()}}
	default:
		dec = Decision{Allow: true}
	}
	if dec.Allow {
		return "", ""
	}
	reason := fmt.Sprintf("tool %s was flagged by the description review: %s", def.Name, strings.Join(dec.Reasons, "; "))
	if len(dec.RuleIDs) > 0 {
		reason += " (rule " + strings.Join(dec.RuleIDs, ", ") + ")"
	}
	return reason, audit.KindToolReview
}
