# Tests of taint.rego; `mcpgov policy test` runs them.
package mcpgov.taint_test

import data.mcpgov.authz

notes := {"known": true, "id": "notes", "status": "approved", "groups": [], "data_scope": ["none"]}

read_pii := {"server": "crm", "tool": "get_customer", "call": 1, "record": "r1", "time": "2026-12-07T10:00:00Z", "why": "guardrail pii found email in its result"}

fetched := {"server": "web", "tool": "fetch", "call": 2, "record": "", "time": "2026-12-07T10:01:00Z", "why": "fetch is annotated openWorldHint"}

tainted := {"calls": 2, "servers": ["crm", "web"], "tools": ["crm/get_customer", "web/fetch"], "data_classes": ["pii"], "untrusted": true, "taint": {"data:pii": read_pii, "untrusted": fetched}}

call(session, tool) := {
	"hook": "pre",
	"session": session,
	"identity": {"authenticated": false, "groups": []},
	"client": {"name": "test"},
	"server": notes,
	"tool": tool,
	"arguments": {},
	"guardrails": {},
	"findings": [],
}

test_egress_after_private_data_and_untrusted_content_is_denied if {
	d := authz.decision with input as call(tainted, {"name": "send_mail", "annotations": {}, "egress": true})
	not d.allow
	d.rule_ids == ["session-taint"]
	d.reasons == ["tool send_mail can send data out, and this session has read pii data (call 1, crm/get_customer, record r1: guardrail pii found email in its result) and ingested untrusted content (call 2, web/fetch: fetch is annotated openWorldHint); start a new session to use it"]
}

test_egress_without_untrusted_content_is_allowed if {
	d := authz.decision with input as call(object.union(tainted, {"untrusted": false}), {"name": "send_mail", "annotations": {}, "egress": true})
	d.allow
}

test_other_tools_in_a_tainted_session_are_allowed if {
	d := authz.decision with input as call(tainted, {"name": "list_notes", "annotations": {}, "egress": false})
	d.allow
}
