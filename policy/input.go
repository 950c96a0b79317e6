package policy

import (
	"encoding/json"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/guard"
)

// buildInput is the policy input (see InputSchema): facts computed in Go,
// so that policies do lookups rather than scans.
func buildInput(hook string, server *catalog.Server, call *enforce.Call, payload *guard.Payload, results []guard.Result) map[string]any {
	return buildInputFor(inputUse{all: true}, hook, server, call, payload, results)
}

// buildInputFor is buildInput with only the members the policies read
// (use): the rest would be dropped by use.project before the decision,
// and building it costs a third of a governed call's allocations.
func buildInputFor(use inputUse, hook string, server *catalog.Server, call *enforce.Call, payload *guard.Payload, results []guard.Result) map[string]any {
	in := make(map[string]any, 10)
	if use.reads("hook") {
		in["hook"] = hook
	}
	if use.reads("session") {
		in["session"] = sessionInput(call.Facts)
	}
	if use.reads("identity") {
		id := call.Identity
		groups := make([]any, 0, len(id.Groups))
		for _, g := range id.Groups {
			groups = append(groups, g)
		}
		in["identity"] = map[string]any{
			"subject": id.Subject, "email": id.Email, "name": id.Name, "groups": groups,
			"issuer": id.Issuer, "method": methodOrNone(id.Method), "authenticated": id.Authenticated(),
		}
	}
	if use.reads("client") {
		in["client"] = map[string]any{"name": call.Client.Name, "version": call.Client.Version}
	}
	if use.reads("server") {
		srv := map[string]any{"known": server != nil, "id": "", "status": "", "risk": "", "groups": []any{}, "data_scope": []any{}, "owner": ""}
		if server != nil {
			srv = map[string]any{
				"known": true, "id": server.ID, "status": string(server.Status), "risk": string(server.Risk),
				"groups": anyStrings(server.Groups), "data_scope": anyStrings(server.DataScope), "owner": server.Owner,
			}
		}
		in["server"] = srv
	}
	if use.reads("tool") {
		annotations := map[string]any{}
		if len(call.Annotations) > 0 {
			_ = json.Unmarshal(call.Annotations, &annotations)
		}
		egress, untrusted := false, false
		if server != nil {
			egress, untrusted = server.ToolEgress(call.Tool), server.ToolUntrusted(call.Tool)
		}
		in["tool"] = map[string]any{"name": call.Tool, "annotations": annotations, "egress": egress, "untrusted": untrusted}
	}
	if use.reads("arguments") || use.reads("arguments_omitted") {
		var args any = map[string]any{}
		omitted := false
		if payload != nil && payload.IsJSON {
			if payload.Bytes <= maxRegoArguments {
				args = payload.Decoded()
			} else {
				omitted = true
			}
		}
		in["arguments"], in["arguments_omitted"] = args, omitted
	}
	if use.reads("guardrails") || use.reads("findings") {
		gr := map[string]any{}
		findings := []any{}
		for _, r := range results {
			rules := []any{}
			for _, f := range r.Findings {
				rules = append(rules, f.Rule)
				findings = append(findings, map[string]any{"guardrail": r.Name, "rule": f.Rule, "message": f.Message})
			}
			gr[r.Name] = map[string]any{"kind": r.Kind, "mode": r.Mode, "verdict": r.Verdict, "rules": rules}
		}
		in["guardrails"], in["findings"] = gr, findings
	}
	return in
}

// sessionInput is the session's facts as the policy sees them.
func sessionInput(f *enforce.FactsView) map[string]any {
	if f == nil {
		f = &enforce.FactsView{}
	}
	taint := map[string]any{}
	for k, t := range f.Taint {
		taint[k] = map[string]any{"server": t.Server, "tool": t.Tool, "call": t.Call, "record": t.Record,
			"time": t.Time.Format("2006-01-02T15:04:05Z"), "why": t.Why}
	}
	return map[string]any{
		"calls": f.Calls, "servers": anyStrings(f.Servers), "tools": anyStrings(f.Tools),
		"data_classes": anyStrings(f.DataClasses), "untrusted": f.Untrusted, "taint": taint,
	}
}

func methodOrNone(m string) string {
	if m == "" {
		return "none"
	}
	return m
}

func anyStrings(ss []string) []any {
	out := make([]any, 0, len(ss))
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}

// InputSchema is the JSON Schema of the policy input (`mcpgov policy
// input-schema`).
const InputSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://mcpgov.dev/schemas/policy-input.json",
  "title": "mcpgov policy input (data.mcpgov.authz.decision)",
  "type": "object",
  "required": ["hook", "session", "identity", "client", "server", "tool", "arguments", "guardrails", "findings"],
  "properties": {
    "hook": {"enum": ["pre"], "description": "the policy decides before the call goes upstream"},
    "session": {
      "type": "object",
      "description": "what this client session did before this call (calls whose results reached the client)",
      "properties": {
        "calls": {"type": "integer"},
        "servers": {"type": "array", "items": {"type": "string"}, "description": "catalog IDs called"},
        "tools": {"type": "array", "items": {"type": "string"}, "description": "server/tool called"},
        "data_classes": {"type": "array", "items": {"type": "string"}, "description": "data classes read: the catalog data_scope of servers called, pii and secret when a post guardrail found them in a result"},
        "untrusted": {"type": "boolean", "description": "untrusted content ingested: a tool the catalog marks untrusted, one annotated openWorldHint, or an injection finding in a result"},
        "taint": {
          "type": "object",
          "description": "data:CLASS and untrusted to the first call that established each",
          "additionalProperties": {
            "type": "object",
            "properties": {"server": {"type": "string"}, "tool": {"type": "string"}, "call": {"type": "integer"}, "record": {"type": "string"}, "time": {"type": "string"}, "why": {"type": "string"}}
          }
        }
      }
    },
    "identity": {
      "type": "object",
      "description": "who makes the call, as verified by mcpgov login",
      "properties": {
        "subject": {"type": "string"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "groups": {"type": "array", "items": {"type": "string"}},
        "issuer": {"type": "string"},
        "method": {"enum": ["oidc", "token", "none"]},
        "authenticated": {"type": "boolean"}
      }
    },
    "client": {
      "type": "object",
      "description": "the MCP client, from initialize's clientInfo",
      "properties": {"name": {"type": "string"}, "version": {"type": "string"}}
    },
    "server": {
      "type": "object",
      "description": "the catalog entry of the server; known is false for an uncatalogued server",
      "properties": {
        "known": {"type": "boolean"},
        "id": {"type": "string"},
        "status": {"enum": ["", "approved", "pending", "blocked"]},
        "risk": {"type": "string"},
        "groups": {"type": "array", "items": {"type": "string"}},
        "data_scope": {"type": "array", "items": {"type": "string"}},
        "owner": {"type": "string"}
      }
    },
    "tool": {
      "type": "object",
      "properties": {
        "name": {"type": "string"},
        "annotations": {"type": "object", "description": "the tool's MCP annotations (readOnlyHint, destructiveHint, idempotentHint, openWorldHint, title)"},
        "egress": {"type": "boolean", "description": "the catalog lists the tool in tools.egress: it can send data out"},
        "untrusted": {"type": "boolean", "description": "the catalog lists the tool in tools.untrusted: its results carry outside content"}
      }
    },
    "arguments": {"type": "object", "description": "the call's arguments; empty when arguments_omitted"},
    "arguments_omitted": {"type": "boolean", "description": "true when the arguments exceed 256 KiB and were not passed to the policy"},
    "guardrails": {
      "type": "object",
      "description": "this call's pre guardrail results by guardrail name",
      "additionalProperties": {
        "type": "object",
        "properties": {
          "kind": {"type": "string"},
          "mode": {"enum": ["enforce", "enforce_ignore_error", "audit"]},
          "verdict": {"enum": ["pass", "fail", "error"]},
          "rules": {"type": "array", "items": {"type": "string"}}
        }
      }
    },
    "findings": {
      "type": "array",
      "items": {
        "type": "object",
        "properties": {"guardrail": {"type": "string"}, "rule": {"type": "string"}, "message": {"type": "string"}}
      }
    }
  }
}
`
