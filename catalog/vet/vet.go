package vet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcpgov/mcpgov/catalog"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/policy/guard/review"
	"github.com/mcpgov/mcpgov/shim"
)

// DefaultTimeout bounds a whole vet (start, initialize, every list call)
// when Options.Timeout is zero. npx and uvx may download the server on
// first use, which is why it is not shorter.
const DefaultTimeout = 30 * time.Second

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

// Options tune Vet.
type Options struct {
	// Pins are the approved fingerprints (tool name → "sha256:…") to compare
	// the advertised tools with; nil reports every tool as new.
	Pins map[string]string
	// OtherTools are tool names of the catalog's other servers; a
	// description that names one is reported as shadowing.
	OtherTools []string
	// Timeout bounds the whole vet; zero means DefaultTimeout.
	Timeout time.Duration
	// Stderr receives the child's stderr (never stdout, which carries the
	// protocol); nil discards it. The last lines are kept for errors either way.
	Stderr io.Writer
}

// ServerInfo is what the server said about itself at initialize.
type ServerInfo struct {
	Name            string `json:"name"`
	Version         string `json:"version"`
	ProtocolVersion string `json:"protocolVersion"`
	// Instructions go into the model's context like tool descriptions do.
	Instructions string `json:"instructions,omitempty"`
}

// Tool is one advertised tool with its fingerprint and review.
type Tool struct {
	catalog.ToolDef
	Fingerprint string           `json:"fingerprint"`
	Findings    []review.Finding `json:"findings"`
}

// Report is the outcome of vetting one server.
type Report struct {
	Server            ServerInfo          `json:"server"`
	Tools             []Tool              `json:"tools"`             // sorted by name
	Prompts           []string            `json:"prompts"`           // names
	Resources         []string            `json:"resources"`         // URIs
	ResourceTemplates []string            `json:"resourceTemplates"` // URI templates
	PinChanges        []catalog.PinChange `json:"pinChanges"`
	// Findings on the server itself: its initialize instructions.
	Findings []review.Finding `json:"findings"`
	Duration time.Duration    `json:"duration"`
}

// Digest returns "sha256:" and the hex SHA-256 of the canonical JSON of the
// review: for every tool (by name) its fingerprint and findings, plus the
// findings on the server's instructions. It is the evidence recorded as the
// catalog's review.findings_digest: it changes when any finding or any
// reviewed definition changes, and it is the same for the same review.
func (r *Report) Digest() string {
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
	canon, err := catalog.CanonicalJSON(raw)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(canon)
	return catalog.FingerprintPrefix + hex.EncodeToString(sum[:])
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Run connects to a server as an MCP client, lists what it advertises (tools
// on every page, prompts, resources and resource templates, each only if the
// server declares the capability), fingerprints and reviews every tool and
// compares the fingerprints with the pins. It never calls a tool.
//
// A stdio server is started by the relay's own process handling
// (shim.StartProcess): it runs in its own process group, which is killed when Run
// returns, whatever happened; Timeout bounds the whole exchange, so a dead or
// silent server cannot hang it. Errors are *Error values that name what was
// contacted and match ErrCommandNotFound, ErrServerExited, ErrNoAnswer or
// ErrConnectionRefused with errors.Is.
func Run(ctx context.Context, ep Endpoint, opts Options) (*Report, error) {
	start := time.Now()
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	v := &vetRun{ep: ep, target: ep.String(), timeout: timeout, op: "initialize"}
	var inner mcp.Transport
	switch {
	case ep.Command != "" && ep.URL != "":
		return nil, &Error{Target: v.target, Op: "connect", Err: errors.New("endpoint has both a command and a URL")}
	case ep.Command != "":
		t, err := v.stdioTransport(ctx, opts.Stderr)
		if err != nil {
			return nil, err
		}
		inner = t
	case ep.URL != "":
		inner = v.httpTransport(ctx)
	default:
		return nil, &Error{Target: v.target, Op: "connect", Err: errors.New("endpoint has neither a command nor a URL")}
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

func (v *vetRun) list(ctx context.Context, cs *mcp.ClientSession, opts Options) (*Report, error) {
	hello := cs.InitializeResult()
	r := &Report{Prompts: []string{}, Resources: []string{}, ResourceTemplates: []string{}, Tools: []Tool{}}
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

	var defs []catalog.ToolDef
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

	slices.SortStableFunc(defs, func(a, b catalog.ToolDef) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range defs {
		r.Tools = append(r.Tools, Tool{ToolDef: d, Fingerprint: catalog.Fingerprint(d), Findings: nonNil(rv.Tool(review.ToolDef(d)))})
	}
	r.PinChanges = nonNil(catalog.ComparePins(opts.Pins, defs))
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

	proc   *shim.Process
	stderr *stderrTail
	http   *httpState
}

// vetTerminateDelay is each step of a stdio server's shutdown once the
// vet is done: stdin closed, SIGTERM, SIGKILL.
const vetTerminateDelay = 2 * time.Second

func (v *vetRun) stdioTransport(ctx context.Context, stderr io.Writer) (mcp.Transport, error) {
	path, err := shim.LookCommand(v.ep.Command, "")
	if err != nil {
		return nil, v.startError(err)
	}
	v.stderr = newStderrTail(stderr)
	// The relay's own process handling: the server leads a new process
	// group, and npx, uvx and shell wrappers that leave the real server
	// as a grandchild are stopped with it.
	p, err := shim.StartProcess(shim.Command{Path: path, Args: v.ep.Args, Env: append(os.Environ(), v.ep.Env...), Dir: v.ep.Dir, Stderr: v.stderr})
	if err != nil {
		return nil, v.startError(err)
	}
	v.proc = p
	// On timeout or cancellation the whole group dies at once, with no
	// polite steps: it did not answer.
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Kill()
		case <-p.Done():
		}
	}()
	return &shim.SDKTransport{Upstream: p, Grace: vetTerminateDelay}, nil
}

// cleanup stops whatever is left of a stdio server's process group and
// drops idle HTTP connections.
func (v *vetRun) cleanup() {
	if v.proc != nil {
		_ = v.proc.Kill()
	}
	if v.http != nil {
		v.http.transport.CloseIdleConnections()
	}
}

// fail turns an error from the SDK into a precise Error.
func (v *vetRun) fail(parent, ctx context.Context, err error) error {
	if parent.Err() != nil {
		return &Error{Target: v.target, Op: v.op, Err: parent.Err()}
	}
	// The deadline first: when it passes, the process group is killed,
	// and the server then looks as if it had exited by itself.
	if ctx.Err() != nil {
		return &Error{Kind: ErrNoAnswer, Target: v.target, Op: v.op, Err: ctx.Err(), Timeout: v.timeout, Stderr: v.stderr.lines()}
	}
	if c := v.capture.connection(); c != nil && v.proc != nil {
		if gone, exit := c.peerGone(); gone {
			return &Error{Kind: ErrServerExited, Target: v.target, Op: v.op, Err: exitError(exit), Stderr: v.stderr.lines()}
		}
	}
	if v.http != nil {
		return v.http.classify(v, err)
	}
	return &Error{Target: v.target, Op: v.op, Err: err, Stderr: v.stderr.lines()}
}

func (v *vetRun) startError(err error) error {
	e := &Error{Target: v.target, Op: "start", Err: err}
	var notFound *shim.CommandNotFoundError
	if errors.As(err, &notFound) || errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
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
