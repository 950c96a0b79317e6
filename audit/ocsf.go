package audit

import (
	"encoding/json"
)

// OCSFVersion is the OCSF schema version OCSF maps to.
const OCSFVersion = "1.4.0"

// OCSF maps a record onto an OCSF API Activity event (class_uid 6003)
// with the security_control profile (action, disposition, policy), the
// view SIEMs and data lakes (Security Lake, Splunk's OCSF-CIM add-on)
// read. Fields OCSF has no home for go under unmapped.mcpgov.
func OCSF(r *Record, product string) map[string]any {
	allowed := r.Decision.Allow
	actionID, disposition, dispositionID, severity, status := 1, "Allowed", 1, 1, 1
	if !allowed {
		actionID, disposition, dispositionID, severity = 2, "Blocked", 2, 3
	}
	if r.Result != nil && r.Result.IsError || r.Outcome == OutcomeError || r.Outcome == OutcomeCancelled {
		status = 2
	}
	if !allowed {
		status = 2
	}
	const activityID = 99 // Other: an MCP method is none of Create/Read/Update/Delete
	ev := map[string]any{
		"class_uid":      6003,
		"class_name":     "API Activity",
		"category_uid":   6,
		"category_name":  "Application Activity",
		"activity_id":    activityID,
		"type_uid":       600300 + activityID,
		"time":           r.Time.UnixMilli(),
		"severity_id":    severity,
		"status_id":      status,
		"action_id":      actionID,
		"disposition":    disposition,
		"disposition_id": dispositionID,
		"is_alert":       !allowed,
		"metadata": map[string]any{
			"uid":      r.ID,
			"version":  OCSFVersion,
			"log_name": "mcpgov.audit",
			"profiles": []string{"security_control"},
			"product":  map[string]any{"name": "mcpgov", "vendor_name": "mcpgov", "version": product},
			"sequence": r.Seq,
		},
		"actor": map[string]any{
			"user":        map[string]any{"uid": r.Identity.Subject, "email_addr": r.Identity.Email, "name": r.Identity.Name, "groups": groups(r.Identity.Groups)},
			"session":     map[string]any{"uid": r.Session},
			"application": r.Client.Name,
		},
		"src_endpoint": map[string]any{"name": r.Client.Name},
		"api": map[string]any{
			"operation": orDefault(r.Method, r.Kind),
			"service":   map[string]any{"name": orDefault(r.Server.ID, r.Server.Name)},
		},
		"status_detail": r.Outcome,
		"unmapped": map[string]any{"mcpgov": map[string]any{
			"kind": r.Kind, "arguments": json.RawMessage(orDefault(string(r.Arguments), "null")),
			"guardrails": r.Guardrails, "latency": r.Latency, "logging": r.Logging, "prev": r.Prev,
		}},
	}
	if r.Tool != "" {
		ev["resources"] = []map[string]any{{"type": "mcp_tool", "name": r.Tool, "uid": orDefault(r.Server.ID, r.Server.Name) + "/" + r.Tool}}
	}
	if len(r.Decision.RuleIDs) > 0 || len(r.Decision.Reasons) > 0 {
		pol := map[string]any{"uid": first(r.Decision.RuleIDs), "version": r.Decision.Revision}
		if len(r.Decision.Reasons) > 0 {
			pol["desc"] = r.Decision.Reasons[0]
		}
		ev["policy"] = pol
	}
	if r.Result != nil {
		resp := map[string]any{"length": r.Result.Bytes}
		if r.Result.ErrorCode != 0 {
			resp["code"] = r.Result.ErrorCode
		}
		ev["api"].(map[string]any)["response"] = resp
	}
	return ev
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func groups(g []string) []map[string]string {
	out := make([]map[string]string, 0, len(g))
	for _, name := range g {
		out = append(out, map[string]string{"name": name})
	}
	return out
}
