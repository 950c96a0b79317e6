package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/policy"
	"github.com/mcpgov/mcpgov/policy/guard"
)

// PolicyEvalOptions are the inputs of `mcpgov policy eval`.
type PolicyEvalOptions struct {
	IO      *IOStreams
	Factory *Factory
	Bundle  string
	JSONL   bool
	// Modes are the --guardrail-mode values, [NAME=]MODE each.
	Modes []string
}

func newPolicyEvalCmd(f *Factory, runF func(context.Context, *PolicyEvalOptions) error) *cobra.Command {
	opts := &PolicyEvalOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Run the shim's policy and guardrail pipeline on calls from stdin",
		Long: `Read one input (or, with --jsonl, one per line) from stdin and print the
decision the shim would make, as JSON: the same guardrails, policies and
redaction, with each guardrail's verdict, findings and time.

A call:     {"identity":{"subject":"…","groups":["…"]},"server":"ID","tool":"NAME","arguments":{…}}
  add "result":{…} (an MCP CallToolResult) to run the post hook too; the
  output's "result" is then the result after redaction.
A tool:     {"hook":"describe","server":"ID","tool":"NAME","description":"…","inputSchema":{…}}

Output: {"allow","mode","reasons","rule_ids","guardrails":[{"name","kind",
"hook","mode","verdict","findings":[{"rule","message"}],"duration_us"}],
"result"}. Rate limits are not counted.

--guardrail-mode MODE sets every guardrail's mode for this run, and
--guardrail-mode NAME=MODE one guardrail's (NAME is a guardrail's name or
kind; a name wins over a kind, a kind over a bare MODE): measure a bundle
in enforce mode without editing its guardrails.toml.

With --jsonl a blank line is skipped (it has no output line), and a bad
input line does not stop the batch: its output line is
{"input":N,"error":"…"}, N being its line number in the input, stderr says
why, and the exit code is 1 once every line has been read. Exits 0 whatever the decisions; 1 on bad input.`,
		Example: `  echo '{"server":"db","tool":"query","arguments":{"sql":"DROP TABLE users"}}' | mcpgov policy eval --bundle ./governance
  mcpgov policy eval --jsonl --bundle ./governance < calls.jsonl
  mcpgov policy eval --jsonl --guardrail-mode enforce --guardrail-mode injection=audit < calls.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return policyEvalRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().BoolVar(&opts.JSONL, "jsonl", false, "read one input per line and print one decision per line")
	cmd.Flags().StringArrayVar(&opts.Modes, "guardrail-mode", nil, "override guardrail modes: `[NAME=]MODE` (enforce, enforce_ignore_error, audit); repeatable")
	return cmd
}

func policyEvalRun(ctx context.Context, opts *PolicyEvalOptions) error {
	b, err := loadBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	modes, err := parseGuardrailModes(opts.Modes)
	if err != nil {
		return err
	}
	p, err := policy.Load(b, policy.Options{Getenv: opts.Factory.Getenv, GuardrailModes: modes})
	if err != nil {
		return err
	}
	eval := func(n int, data []byte) error {
		var in policy.EvalInput
		dec := json.NewDecoder(bytesReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return fmt.Errorf("input %d: %v; want {\"server\",\"tool\",\"arguments\"[,\"result\"]} or {\"hook\":\"describe\",…}", n, err)
		}
		out, err := p.Eval(ctx, in)
		if err != nil {
			return fmt.Errorf("input %d: %w", n, err)
		}
		if opts.JSONL {
			enc := json.NewEncoder(opts.IO.Out)
			enc.SetEscapeHTML(false)
			return enc.Encode(out)
		}
		return writeJSON(opts.IO.Out, out)
	}
	if !opts.JSONL {
		data, err := io.ReadAll(io.LimitReader(opts.IO.In, 64<<20))
		if err != nil {
			return err
		}
		if len(bytesTrim(data)) == 0 {
			return flagErrorf("no input on stdin; pipe one JSON call or tool description")
		}
		return eval(1, data)
	}
	sc := bufio.NewScanner(opts.IO.In)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	lineNo, n, bad := 0, 0, 0
	enc := json.NewEncoder(opts.IO.Out)
	enc.SetEscapeHTML(false)
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(bytesTrim(line)) == 0 {
			continue
		}
		n++
		if err := eval(lineNo, line); err != nil {
			// One bad line is reported in place, by its line number in
			// the input, so the output keeps one line per input line and
			// the batch goes on.
			bad++
			opts.IO.Errorf("%v", err)
			if err := enc.Encode(badInput{Input: lineNo, Error: err.Error()}); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("input %d: line longer than 64 MiB", lineNo+1)
		}
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d inputs were bad; their output lines carry the error", bad, n)
	}
	return nil
}

// badInput is the output line of an input line that could not be
// evaluated.
type badInput struct {
	Input int    `json:"input"`
	Error string `json:"error"`
}

// parseGuardrailModes turns --guardrail-mode values into
// policy.Options.GuardrailModes.
func parseGuardrailModes(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		name, mode, ok := strings.Cut(v, "=")
		if !ok {
			name, mode = "", v
		}
		switch mode {
		case guard.ModeEnforce, guard.ModeEnforceIgnoreError, guard.ModeAudit:
		default:
			return nil, flagErrorf("--guardrail-mode %q: the mode must be enforce, enforce_ignore_error or audit", v)
		}
		out[name] = mode
	}
	return out, nil
}
