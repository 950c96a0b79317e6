package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/policy/guard/review"
)

// DefaultVetTimeout bounds a whole vet (start, initialize, every list call)
// when VetOptions.Timeout is zero. npx and uvx may download the server on
// first use, which is why it is not shorter.
const DefaultVetTimeout = 30 * time.Second

// Endpoint is how to reach a server for vetting: a command started over stdio
// or a Streamable HTTP URL.
type Endpoint struct {
	Command string
	Args    []string
	Env     []string // KEY=VALUE added to the child's environment
	Dir     string   // working directory of the child; empty: the current one
	URL     string
	Headers map[string]string // sent with every HTTP request (Authorization, …)
}

// String names the endpoint in errors and logs. It never includes
// environment values, header values or a URL's credentials and query.
func (ep Endpoint) String() string {
	if ep.URL != "" {
		return redactURL(ep.URL)
	}
	argv := append([]string{ep.Command}, ep.Args...)
	return fmt.Sprintf("%q", clip(strings.Join(argv, " "), 200))
}

// VetOptions tune Vet.
type VetOptions struct {
	// Pins are the approved fingerprints (tool name → "sha256:…") to compare
	// the advertised tools with; nil reports every tool as new.
	Pins map[string]string
	// OtherTools are tool names of the catalog's other servers; a
	// description that names one is reported as shadowing.
	OtherTools []string
	// Timeout bounds the whole vet; zero means DefaultVetTimeout.
	Timeout time.Duration
	// Stderr receives the child's stderr (never stdout, which carries the
	// protocol); nil discards it. The last lines are kept for errors either way.
	Stderr io.Writer
}

// VetServer is what the server said about itself at initialize.
type VetServer struct {
	Name            string `json:"name"`
	Version         string `json:"version"`
	ProtocolVersion string `json:"protocolVersion"`
	// Instructions go into the model's context like tool descriptions do.
	Instructions string `json:"instructions,omitempty"`
}

// VettedTool is one advertised tool with its fingerprint and review.
type VettedTool struct {
	ToolDef
	Fingerprint string           `json:"fingerprint"`
	Findings    []review.Finding `json:"findings"`
}

// VetReport is the outcome of vetting one server.
type VetReport struct {
	Server            VetServer    `json:"server"`
	Tools             []VettedTool `json:"tools"`             // sorted by name
	Prompts           []string     `json:"prompts"`           // names
	Resources         []string     `json:"resources"`         // URIs
	ResourceTemplates []string     `json:"resourceTemplates"` // URI templates
	PinChanges        []PinChange  `json:"pinChanges"`
	// Findings on the server itself: its initialize instructions.
	Findings []review.Finding `json:"findings"`
	Duration time.Duration    `json:"duration"`
}

// Digest returns "sha256:" and the hex SHA-256 of the canonical JSON of the
// review: for every tool (by name) its fingerprint and findings, plus the
// findings on the server's instructions. It is the evidence recorded as the
// catalog's review.findings_digest: it changes when any finding or any
// reviewed definition changes, and it is the same for the same review.
func (r *VetReport) Digest() string {
	type toolEvidence struct {
		Name        string           `json:"name"`
		Fingerprint string           `json:"fingerprint"`
		Findings    []review.Finding `json:"findings"`
	}
	doc := struct {
		Server []review.Finding `json:"server"`
		Tools  []toolEvidence   `json:"tools"`
	}{Server: nonNil(r.Findings), Tools: []toolEvidence{}}
	for _, t := range r.Tools {
		doc.Tools = append(doc.Tools, toolEvidence{t.Name, t.Fingerprint, nonNil(t.Findings)})
	}
	slices.SortStableFunc(doc.Tools, func(a, b toolEvidence) int { return strings.Compare(a.Name, b.Name) })
	raw, err := json.Marshal(doc)
	if err != nil {
		panic(err) // only strings and slices of them
	}
	canon, err := CanonicalJSON(raw)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(canon)
	return FingerprintPrefix + hex.EncodeToString(sum[:])
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Vet connects to a server as an MCP client, lists what it advertises (tools
// on every page, prompts, resources and resource templates, each only if the
// server declares the capability), fingerprints and reviews every tool and
// compares the fingerprints with the pins. It never calls a tool.
//
// A stdio server runs in its own process group, which is killed when Vet
// returns, whatever happened; Timeout bounds the whole exchange, so a dead or
// silent server cannot hang it. Errors are *VetError values that name what was
// contacted and match ErrCommandNotFound, ErrServerExited, ErrNoAnswer or
// ErrConnectionRefused with errors.Is.
func Vet(ctx context.Context, ep Endpoint, opts VetOptions) (*VetReport, error) {
	start := time.Now()
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultVetTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	v := &vetRun{ep: ep, target: ep.String(), timeout: timeout, op: "initialize"}
	var inner mcp.Transport
	switch {
	case ep.Command != "" && ep.URL != "":
		return nil, &VetError{Target: v.target, Op: "connect", Err: errors.New("endpoint has both a command and a URL")}
	case ep.Command != "":
		t, err := v.stdioTransport(ctx, opts.Stderr)
		if err != nil {
			return nil, err
		}
		inner = t
	case ep.URL != "":
		inner = v.httpTransport(ctx)
	default:
		return nil, &VetError{Target: v.target, Op: "connect", Err: errors.New("endpoint has neither a command nor a URL")}
	}
	defer v.cleanup()

	capture := &captureTransport{inner: inner}
	v.capture = capture
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpgov-vet", Version: "1"}, &mcp.ClientOptions{
		// No roots, sampling or elicitation: a server being vetted gets
		// nothing from this client.
		Capabilities: &mcp.ClientCapabilities{},
	})
	cs, err := client.Connect(ctx, capture, nil)
	if err != nil {
		return nil, v.fail(parent, ctx, err)
	}
	defer cs.Close()

	report, err := v.list(ctx, cs, opts)
	if err != nil {
		return nil, v.fail(parent, ctx, err)
	}
	report.Duration = time.Since(start)
	return report, nil
}

func (v *vetRun) list(ctx context.Context, cs *mcp.ClientSession, opts VetOptions) (*VetReport, error) {
	hello := cs.InitializeResult()
	r := &VetReport{Prompts: []string{}, Resources: []string{}, ResourceTemplates: []string{}, Tools: []VettedTool{}}
	if hello.ServerInfo != nil {
		r.Server.Name, r.Server.Version = hello.ServerInfo.Name, hello.ServerInfo.Version
	}
	r.Server.ProtocolVersion = hello.ProtocolVersion
	r.Server.Instructions = hello.Instructions
	rv := review.New(opts.OtherTools)
	r.Findings = nonNil(rv.Text("instructions", hello.Instructions))
	caps := hello.Capabilities
	if caps == nil {
		caps = &mcp.ServerCapabilities{}
	}

	var defs []ToolDef
	if caps.Tools != nil {
		v.op = "tools/list"
		err := paginate(func(cursor string) (string, error) {
			res, err := cs.ListTools(ctx, &mcp.ListToolsParams{Cursor: cursor})
			if err != nil {
				return "", err
			}
			page, err := v.capture.toolPage(res)
			if err != nil {
				return "", err
			}
			defs = append(defs, page...)
			return res.NextCursor, nil
		})
		if err != nil {
			return nil, err
		}
	}
	if caps.Prompts != nil {
		v.op = "prompts/list"
		err := paginate(func(cursor string) (string, error) {
			res, err := cs.ListPrompts(ctx, &mcp.ListPromptsParams{Cursor: cursor})
			if err != nil {
				return "", err
			}
			for _, p := range res.Prompts {
				r.Prompts = append(r.Prompts, p.Name)
			}
			return res.NextCursor, nil
		})
		if err != nil {
			return nil, err
		}
	}
	if caps.Resources != nil {
		v.op = "resources/list"
		err := paginate(func(cursor string) (string, error) {
			res, err := cs.ListResources(ctx, &mcp.ListResourcesParams{Cursor: cursor})
			if err != nil {
				return "", err
			}
			for _, res := range res.Resources {
				r.Resources = append(r.Resources, res.URI)
			}
			return res.NextCursor, nil
		})
		if err != nil {
			return nil, err
		}
		v.op = "resources/templates/list"
		err = paginate(func(cursor string) (string, error) {
			res, err := cs.ListResourceTemplates(ctx, &mcp.ListResourceTemplatesParams{Cursor: cursor})
			if err != nil {
				return "", err
			}
			for _, t := range res.ResourceTemplates {
				r.ResourceTemplates = append(r.ResourceTemplates, t.URITemplate)
			}
			return res.NextCursor, nil
		})
		if err != nil {
			return nil, err
		}
	}

	slices.SortStableFunc(defs, func(a, b ToolDef) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range defs {
		r.Tools = append(r.Tools, VettedTool{ToolDef: d, Fingerprint: Fingerprint(d), Findings: nonNil(rv.Tool(review.ToolDef(d)))})
	}
	r.PinChanges = nonNil(ComparePins(opts.Pins, defs))
	return r, nil
}

// vetMaxPages stops a server that hands out cursors forever.
const vetMaxPages = 1000

// paginate calls page with "" and then with each next cursor until a page
// returns none.
func paginate(page func(cursor string) (next string, err error)) error {
	seen := map[string]bool{}
	cursor := ""
	for range vetMaxPages {
		next, err := page(cursor)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if seen[next] {
			return fmt.Errorf("server repeated the pagination cursor %q", clip(next, 80))
		}
		seen[next] = true
		cursor = next
	}
	return fmt.Errorf("more than %d pages", vetMaxPages)
}

// vetRun is the state of one Vet call.
type vetRun struct {
	ep      Endpoint
	target  string
	timeout time.Duration
	op      string // what we are waiting for, for errors
	capture *captureTransport

	cmd    *exec.Cmd
	stderr *stderrTail
	http   *httpState
}

const (
	vetTerminateDelay = 2 * time.Second // stdin closed → SIGTERM → SIGKILL steps
	vetWaitDelay      = 2 * time.Second // for grandchildren holding stderr open
)

func (v *vetRun) stdioTransport(ctx context.Context, stderr io.Writer) (mcp.Transport, error) {
	cmd := exec.CommandContext(ctx, v.ep.Command, v.ep.Args...)
	if cmd.Err != nil {
		return nil, v.startError(cmd.Err)
	}
	cmd.Dir = v.ep.Dir
	cmd.Env = append(os.Environ(), v.ep.Env...)
	v.stderr = newStderrTail(stderr)
	cmd.Stderr = v.stderr
	setProcessGroup(cmd)
	// On timeout or cancellation the whole group dies, not just the leader:
	// npx, uvx and shell wrappers leave the real server as a grandchild.
	cmd.Cancel = func() error { return killProcessGroup(cmd) }
	cmd.WaitDelay = vetWaitDelay
	v.cmd = cmd
	return &mcp.CommandTransport{Command: cmd, TerminateDuration: vetTerminateDelay}, nil
}

// cleanup kills whatever is left of a stdio server's process group and
// drops idle HTTP connections.
func (v *vetRun) cleanup() {
	if v.cmd != nil && v.cmd.Process != nil {
		_ = killProcessGroup(v.cmd)
	}
	if v.http != nil {
		v.http.transport.CloseIdleConnections()
	}
}

// fail turns an error from the SDK into a precise VetError.
func (v *vetRun) fail(parent, ctx context.Context, err error) error {
	if v.cmd != nil && v.cmd.Process == nil {
		return v.startError(err) // the command never started
	}
	if parent.Err() != nil {
		return &VetError{Target: v.target, Op: v.op, Err: parent.Err()}
	}
	// The deadline first: when it passes, the process group is killed,
	// and the server then looks as if it had exited by itself.
	if ctx.Err() != nil {
		return &VetError{Kind: ErrNoAnswer, Target: v.target, Op: v.op, Err: ctx.Err(), Timeout: v.timeout, Stderr: v.stderr.lines()}
	}
	if c := v.capture.connection(); c != nil && v.cmd != nil {
		if gone, exit := c.peerGone(); gone {
			return &VetError{Kind: ErrServerExited, Target: v.target, Op: v.op, Err: exitError(exit), Stderr: v.stderr.lines()}
		}
	}
	if v.http != nil {
		return v.http.classify(v, err)
	}
	return &VetError{Target: v.target, Op: v.op, Err: err, Stderr: v.stderr.lines()}
}

func (v *vetRun) startError(err error) error {
	e := &VetError{Target: v.target, Op: "start", Err: err}
	var execErr *exec.Error
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.As(err, &execErr) && errors.Is(execErr.Err, exec.ErrNotFound) {
		e.Kind = ErrCommandNotFound
		e.Command = v.ep.Command
	}
	return e
}

// exitError describes how a command ended: "exit status 1", "signal: killed".
func exitError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee
	}
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
