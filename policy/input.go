package policy

import (
	"encoding/json"
	"sync"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
	"github.com/mcpgov/mcpgov/policy/guard"
)

// buildInput is the policy input (see InputSchema): facts computed in Go,
// so that policies do lookups rather than scans.
func buildInput(hook string, server *catalog.Server, call *enforce.Call, payload *guard.Payload, results []guard.Result) map[string]any {
	return buildInputFor(inputUse{all: true}, hook, server, call, payload, results)
}

// buildInputFor is buildInput projected on what the policies read (use):
// use.project(buildInput(...)), built without the members the projection
// would drop, which cost a third of a governed call's allocations
// (TestBuildInputForProjectsAlike).
func buildInputFor(use inputUse, hook string, server *catalog.Server, call *enforce.Call, payload *guard.Payload, results []guard.Result) map[string]any {
	in := make(map[string]any, 10)
	if use.reads("hook") {
		in["hook"] = use.pick("hook", hook)
	}
	if s := use.member("session"); s.read {
		in["session"] = sessionInput(s, call.Facts)
	}
	if s := use.member("identity"); s.read {
		id := call.Identity
		m := make(map[string]any, s.size(7))
		put(s, m, "subject", id.Subject)
		put(s, m, "email", id.Email)
		put(s, m, "name", id.Name)
		if s.wants("groups") {
			groups := make([]any, 0, len(id.Groups))
			for _, g := range id.Groups {
				groups = append(groups, g)
			}
			m["groups"] = groups
		}
		put(s, m, "issuer", id.Issuer)
		put(s, m, "method", methodOrNone(id.Method))
		put(s, m, "authenticated", id.Authenticated())
		in["identity"] = m
	}
	if s := use.member("client"); s.read {
		m := make(map[string]any, s.size(2))
		put(s, m, "name", call.Client.Name)
		put(s, m, "version", call.Client.Version)
		in["client"] = m
	}
	if s := use.member("server"); s.read {
		m := make(map[string]any, s.size(7))
		put(s, m, "known", server != nil)
		if server == nil {
			put(s, m, "id", "")
			put(s, m, "status", "")
			put(s, m, "risk", "")
			if s.wants("groups") {
				m["groups"] = []any{}
			}
			if s.wants("data_scope") {
				m["data_scope"] = []any{}
			}
			put(s, m, "owner", "")
		} else {
			put(s, m, "id", server.ID)
			put(s, m, "status", string(server.Status))
			put(s, m, "risk", string(server.Risk))
			if s.wants("groups") {
				m["groups"] = anyStrings(server.Groups)
			}
			if s.wants("data_scope") {
				m["data_scope"] = anyStrings(server.DataScope)
			}
			put(s, m, "owner", server.Owner)
		}
		in["server"] = m
	}
	if s := use.member("tool"); s.read {
		m := make(map[string]any, s.size(4))
		put(s, m, "name", call.Tool)
		if s.wants("annotations") {
			m["annotations"] = toolAnnotations.get(call.Annotations)
		}
		if s.wants("egress") || s.wants("untrusted") {
			egress, untrusted := false, false
			if server != nil {
				egress, untrusted = server.ToolEgress(call.Tool), server.ToolUntrusted(call.Tool)
			}
			put(s, m, "egress", egress)
			put(s, m, "untrusted", untrusted)
		}
		in["tool"] = m
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
		if use.reads("arguments") {
			in["arguments"] = use.pick("arguments", args)
		}
		if use.reads("arguments_omitted") {
			in["arguments_omitted"] = use.pick("arguments_omitted", omitted)
		}
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
		if use.reads("guardrails") {
			in["guardrails"] = use.pick("guardrails", gr)
		}
		if use.reads("findings") {
			in["findings"] = use.pick("findings", findings)
		}
	}
	return in
}

// sessionInput is the session's facts as the policy sees them (the
// members s selects).
func sessionInput(s inputMember, f *enforce.FactsView) map[string]any {
	if f == nil {
		f = &enforce.FactsView{}
	}
	m := make(map[string]any, s.size(6))
	put(s, m, "calls", f.Calls)
	if s.wants("servers") {
		m["servers"] = anyStrings(f.Servers)
	}
	if s.wants("tools") {
		m["tools"] = anyStrings(f.Tools)
	}
	if s.wants("data_classes") {
		m["data_classes"] = anyStrings(f.DataClasses)
	}
	put(s, m, "untrusted", f.Untrusted)
	if s.wants("taint") {
		taint := map[string]any{}
		for k, t := range f.Taint {
			taint[k] = map[string]any{"server": t.Server, "tool": t.Tool, "call": t.Call, "record": t.Record,
				"time": t.Time.Format("2006-01-02T15:04:05Z"), "why": t.Why}
		}
		m["taint"] = taint
	}
	return m
}

// toolAnnotations holds decoded tool annotations by their JSON text: a
// tool's annotations are the same bytes call after call, and decoding
// them for every call's input was a tenth of its allocations. The maps
// are shared between inputs, which only read them.
var toolAnnotations annotationCache

type annotationCache struct {
	mu sync.Mutex
	m  map[string]map[string]any
}

// maxCachedAnnotations bounds the cache; it is cleared when full.
const maxCachedAnnotations = 1024

func (c *annotationCache) get(raw json.RawMessage) map[string]any {
	if len(raw) == 0 {
		return map[string]any{}
	}
	c.mu.Lock()
	v, ok := c.m[string(raw)]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = map[string]any{}
	_ = json.Unmarshal(raw, &v)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedAnnotations {
		c.m = map[string]map[string]any{}
	}
	c.m[string(raw)] = v
	c.mu.Unlock()
	return v
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
