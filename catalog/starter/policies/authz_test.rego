# Tests of authz.rego; `mcpgov policy test` runs them, and so should CI.
package mcpgov.authz_test

import data.mcpgov.authz

engineer := {"subject": "u1", "email": "ann@example.com", "groups": ["engineering"], "method": "oidc", "authenticated": true}

db := {"known": true, "id": "db", "status": "approved", "risk": "high", "groups": ["engineering", "everyone"], "data_scope": ["customers"]}

call(identity, server, tool) := {
	"hook": "pre",
	"identity": identity,
	"client": {"name": "test"},
	"server": server,
	"tool": tool,
	"arguments": {},
	"guardrails": {},
	"findings": [],
}

test_engineer_may_call_an_approved_server if {
	d := authz.decision with input as call(engineer, db, {"name": "query", "annotations": {}})
	d.allow
	d.rule_ids == []
}

test_unknown_server_is_denied if {
	d := authz.decision with input as call(engineer, {"known": false, "groups": []}, {"name": "x", "annotations": {}})
	not d.allow
	"approved-servers-only" in d.rule_ids
}

test_pending_server_is_denied if {
	d := authz.decision with input as call(engineer, object.union(db, {"status": "pending"}), {"name": "query", "annotations": {}})
	not d.allow
	d.reasons == ["MCP server db is pending, not approved"]
}

test_other_group_is_denied if {
	sales := object.union(engineer, {"groups": ["sales"]})
	d := authz.decision with input as call(sales, db, {"name": "query", "annotations": {}})
	not d.allow
	d.rule_ids == ["group-access"]
	contains(d.reasons[0], "ask the server's owner")
}

test_anonymous_is_told_to_log_in if {
	anon := {"groups": [], "method": "none", "authenticated": false}
	d := authz.decision with input as call(anon, db, {"name": "query", "annotations": {}})
	not d.allow
	contains(d.reasons[0], "mcpgov login")
}

test_server_without_groups_is_for_everyone if {
	open := object.union(db, {"groups": []})
	d := authz.decision with input as call({"groups": [], "authenticated": false}, open, {"name": "query", "annotations": {}})
	d.allow
}

test_broad_group_gets_read_only_tools if {
	staff := object.union(engineer, {"groups": ["everyone"]})
	ro := authz.decision with input as call(staff, db, {"name": "query", "annotations": {"readOnlyHint": true}})
	ro.allow
	rw := authz.decision with input as call(staff, db, {"name": "update", "annotations": {"readOnlyHint": false}})
	not rw.allow
	rw.rule_ids == ["read-only-for-broad-groups"]
	unknown := authz.decision with input as call(staff, db, {"name": "update", "annotations": {}})
	not unknown.allow
}
