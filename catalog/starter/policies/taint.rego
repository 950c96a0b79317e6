# Session taint (the "lethal trifecta"): a session that has read private
# data and ingested untrusted content must not use a tool that can send
# data out, or content planted by a stranger could make the agent send the
# private data to them. input.session says what the session did before this
# call (`mcpgov policy input-schema`): data_classes from the catalog's
# data_scope of the servers called and from guardrail findings in results
# (pii, secret), untrusted from tools the catalog lists in tools.untrusted,
# tools annotated openWorldHint and injection findings in results. The
# catalog lists the tools that can send data out in tools.egress.
package mcpgov.authz

# Data classes that are not private.
public_data_classes := {"none", "public"}

deny contains {
	"id": "session-taint",
	"reason": sprintf("tool %s can send data out, and this session has read %s data (%s) and ingested untrusted content (%s); start a new session to use it", [input.tool.name, class, taint_ref(input.session.taint[sprintf("data:%s", [class])]), taint_ref(input.session.taint.untrusted)]),
} if {
	input.tool.egress
	input.session.untrusted
	private := [c | some c in input.session.data_classes; not c in public_data_classes]
	count(private) > 0
	class := private[0]
}

# taint_ref names the earlier call that brought a fact into the session.
taint_ref(t) := sprintf("call %d, %s/%s, record %s: %s", [t.call, t.server, t.tool, t.record, t.why]) if {
	t.record != ""
} else := sprintf("call %d, %s/%s: %s", [t.call, t.server, t.tool, t.why])
