package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// EvalInput is one input of `mcpgov policy eval`: a call (with a result
// for the post hook) or a tool description (hook "describe").
type EvalInput struct {
	Hook        string          `json:"hook,omitempty"` // "" or "call": a call; "describe": a tool description
	Identity    audit.Identity  `json:"identity"`
	Client      audit.Client    `json:"client"`
	Session     string          `json:"session,omitempty"`
	Server      string          `json:"server"`
	Tool        string          `json:"tool"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	Arguments   json.RawMessage `json:"arguments,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"inputSchema,omitempty"`
}

// EvalGuardrail is one guardrail's result in EvalOutput.
type EvalGuardrail struct {
	Name       string          `json:"name"`
	Kind       string          `json:"kind"` // sql, secrets, …; "" for the pipeline's own checks (arguments, result)
	Hook       string          `json:"hook"`
	Mode       string          `json:"mode"`
	Verdict    string          `json:"verdict"`
	Findings   []audit.Finding `json:"findings"`
	DurationUS int64           `json:"duration_us"`
	Mutated    bool            `json:"mutated,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// EvalOutput is the decision `mcpgov policy eval` prints per input.
type EvalOutput struct {
	Allow      bool            `json:"allow"`
	Mode       string          `json:"mode"` // the catalog's mode: enforce, or audit (nothing is blocked)
	Reasons    []string        `json:"reasons"`
	RuleIDs    []string        `json:"rule_ids"`
	Guardrails []EvalGuardrail `json:"guardrails"`
	Result     json.RawMessage `json:"result,omitempty"`
	Redactions int             `json:"redactions,omitempty"`
	// WouldBlock lists what audit-mode guardrails would have blocked.
	WouldBlock []string `json:"would_block,omitempty"`
}

// Eval runs the pipeline exactly as the shim does on one input.
func (p *Pipeline) Eval(ctx context.Context, in EvalInput) (*EvalOutput, error) {
	st := p.st.Load()
	kinds := map[string]string{}
	for _, sp := range st.set.Specs() {
		kinds[sp.Name] = sp.Kind
	}
	server := st.bundle.Catalog.Server(in.Server)
	out := &EvalOutput{Allow: true, Mode: string(st.bundle.Catalog.Meta.Mode), Reasons: []string{}, RuleIDs: []string{}, Guardrails: []EvalGuardrail{}}
	if out.Mode == "" {
		out.Mode = string(catalog.ModeEnforce)
	}
	switch in.Hook {
	case "describe":
		if in.Tool == "" {
			return nil, errors.New(`a describe input needs "tool"`)
		}
		def, _ := json.Marshal(catalog.ToolDef{Name: in.Tool, Description: in.Description, InputSchema: in.InputSchema, Annotations: in.Annotations})
		d, err := p.ReviewTool(ctx, server, def)
		if err != nil {
			return nil, err
		}
		out.add(kinds, d.Allow, d.Reasons, d.RuleIDs, d.Guardrails)
		return out, nil
	case "", "call":
	default:
		return nil, fmt.Errorf("hook %q: want \"call\" (the default) or \"describe\"", in.Hook)
	}
	if in.Tool == "" {
		return nil, errors.New(`a call input needs "tool"`)
	}
	args := in.Arguments
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	call := &enforce.Call{Tool: in.Tool, Arguments: args, Identity: in.Identity, Client: in.Client, Session: in.Session, Annotations: in.Annotations}
	if server == nil && in.Server != "" {
		out.Reasons = append(out.Reasons, fmt.Sprintf("server %s is not in the catalog", in.Server))
	}
	if server != nil && !server.ToolAllowed(in.Tool) {
		out.Allow = false
		out.Reasons = append(out.Reasons, fmt.Sprintf("tool %s is not allowed by the catalog entry %s", in.Tool, server.ID))
		out.RuleIDs = append(out.RuleIDs, "catalog.tools")
	}
	d, err := p.Decide(ctx, server, call)
	if err != nil {
		return nil, err
	}
	out.add(kinds, d.Allow, d.Reasons, d.RuleIDs, d.Guardrails)
	if len(in.Result) > 0 {
		rd, err := p.FilterResult(ctx, server, call, in.Result)
		if err != nil {
			return nil, err
		}
		out.add(kinds, rd.Allow, rd.Reasons, rd.RuleIDs, rd.Guardrails)
		out.Result = in.Result
		if rd.Result != nil {
			out.Result, out.Redactions = rd.Result, rd.Redactions
		}
	}
	return out, nil
}

func (o *EvalOutput) add(kinds map[string]string, allow bool, reasons, ruleIDs []string, gs []enforce.Guardrail) {
	o.Allow = o.Allow && allow
	o.Reasons = append(o.Reasons, reasons...)
	o.RuleIDs = append(o.RuleIDs, ruleIDs...)
	for _, g := range gs {
		if g.Mode == "audit" && g.Verdict != "pass" {
			o.WouldBlock = append(o.WouldBlock, fmt.Sprintf("guardrail %s (audit) would have blocked the %s hook: %s", g.Name, g.Hook, wouldBlockWhy(g)))
		}
		f := []audit.Finding{}
		for _, x := range g.Findings {
			f = append(f, audit.Finding{Rule: x.Rule, Message: x.Message})
		}
		o.Guardrails = append(o.Guardrails, EvalGuardrail{Name: g.Name, Kind: kinds[g.Name], Hook: g.Hook, Mode: g.Mode, Verdict: g.Verdict, Findings: f, DurationUS: g.Duration.Microseconds(), Mutated: g.Mutated, Error: g.Error})
	}
}

func wouldBlockWhy(g enforce.Guardrail) string {
	if g.Verdict == "error" {
		return g.Error
	}
	rules := []string{}
	seen := map[string]bool{}
	for _, f := range g.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			rules = append(rules, f.Rule)
		}
	}
	return strings.Join(rules, ", ")
}
