# The starter authorization policy. The shim asks data.mcpgov.authz.decision
# before every tools/call; `mcpgov policy input-schema` prints the input,
# `mcpgov policy test` runs authz_test.rego, `mcpgov policy eval` tries one
# call. Each deny rule has a stable id that audit records and CI refer to.
package mcpgov.authz

# Groups so broad that membership says little about need: their members may
# call only tools that declare themselves read-only (readOnlyHint).
broad_groups := {"everyone", "all-staff", "contractors"}

decision := {
	"allow": count(deny) == 0,
	"reasons": [d.reason | some d in deny],
	"rule_ids": [d.id | some d in deny],
}

# Approved servers only: the catalog is the list of reviewed servers.
deny contains {
	"id": "approved-servers-only",
	"reason": "this MCP server is not in the catalog; ask for it to be reviewed and approved",
} if {
	not input.server.known
}

deny contains {
	"id": "approved-servers-only",
	"reason": sprintf("MCP server %s is %s, not approved", [input.server.id, input.server.status]),
} if {
	input.server.known
	input.server.status != "approved"
}

# Group-based access: a server that lists groups is for their members.
deny contains {
	"id": "group-access",
	"reason": sprintf("MCP server %s is for members of %s; %s", [input.server.id, concat(", ", input.server.groups), group_hint]),
} if {
	input.server.known
	count(input.server.groups) > 0
	not member
}

member if {
	some g in input.identity.groups
	g in input.server.groups
}

group_hint := "log in with `mcpgov login` so your groups are known" if {
	not input.identity.authenticated
} else := "ask the server's owner for access"

# Read-only tools for broad groups.
deny contains {
	"id": "read-only-for-broad-groups",
	"reason": sprintf("tool %s may change data, and your access to %s comes only through a broad group; ask for membership of a narrower group", [input.tool.name, input.server.id]),
} if {
	member
	not narrow_member
	not read_only
}

narrow_member if {
	some g in input.identity.groups
	g in input.server.groups
	not g in broad_groups
}

read_only if input.tool.annotations.readOnlyHint == true
