package shim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// decided remembers what the core let through, so the fake upstream can
// check that what it received is what was decided.
type decided struct {
	mu    sync.Mutex
	calls map[string]int // tool + "\x00" + arguments -> count allowed
}

func (d *decided) Decide(_ context.Context, _ *catalog.Server, c *enforce.Call) (enforce.Decision, error) {
	if c.Tool == "secret" {
		return enforce.Decision{Reasons: []string{"no"}}, nil
	}
	d.mu.Lock()
	d.calls[c.Tool+"\x00"+string(c.Arguments)]++
	d.mu.Unlock()
	return enforce.Decision{Allow: true}, nil
}

func (d *decided) take(tool string, args json.RawMessage) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := tool + "\x00" + string(args)
	if d.calls[k] == 0 {
		return false
	}
	d.calls[k]--
	return true
}

// filtered is a post hook that replaces every tools/call result: a
// result the client receives unreplaced skipped the post hooks.
type filtered struct{}

const filteredResult = `{"content":[{"type":"text","text":"filtered"}]}`

func (filtered) FilterResult(context.Context, *catalog.Server, *enforce.Call, json.RawMessage) (enforce.ResultDecision, error) {
	return enforce.ResultDecision{Allow: true, Result: json.RawMessage(filteredResult), Redactions: 1}, nil
}

// FuzzRelayDifferential sends generated client messages (duplicate and
// case-variant keys, odd and missing ids, nested tasks, cancellations)
// through the relay to a fake upstream and checks, for every tools/call
// the upstream receives, that its exact-key reading and Go's
// case-insensitive reading name the same tool and arguments, which the
// core decided on; that no denied tool runs; that every tools/call answer
// the client receives passed the post hook; and that every call the
// upstream ran has a record.
func FuzzRelayDifferential(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get-env","Name":"echo","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","name":"get-env"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","na\u006de":"get-env"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"a":1}}}` + "\n" + `{"jsonrpc":"2.0","id":2.0,"method":"tools/call","params":{"name":"echo"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"ping","Method":"tools/call","params":{"name":"get-env"}}`,
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"get-env"}}`,
		`{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"secret"}}`,
		`{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"echo","arguments":{"q":"\u0041"}}}` + "\n" + `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"x"}}`,
		`{"jsonrpc":"2.0","id":1e400,"method":"tools/call","params":{"name":"echo","task":{"ttl":5}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tasks/result","params":{"taskId":"t","TaskId":"u"}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get\u002denv","arguments":{"k":{"K":1,"\u212a":2}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &decided{calls: map[string]int{}}
		sink := &recordSink{}
		srv := &catalog.Server{ID: "s", Status: catalog.StatusApproved, Tools: catalog.ToolRules{Deny: []string{"get-env"}}}
		core := enforce.New(enforce.Config{Server: srv, VersionApproved: true, Hooks: enforce.HookFuncs{Pre: d.Decide, Post: filtered{}.FilterResult}, Sink: enforce.Tee{Store: sink}})

		up := newMemUpstream()
		ran := 0
		var failure string
		upDone := make(chan struct{})
		go func() {
			defer close(upDone)
			for {
				frame, err := up.fromRelay.ReadFrame()
				if err != nil {
					return
				}
				if msg := checkForwarded(frame, d); msg != "" && failure == "" {
					failure = msg
				}
				var m struct {
					ID     jsontext.Value `json:"id"`
					Method string         `json:"method"`
				}
				if jsonv2.Unmarshal(frame, &m) != nil || len(m.ID) == 0 || m.Method == "" {
					continue
				}
				result := `{}`
				if m.Method == "tools/call" {
					ran++
					result = `{"content":[{"type":"text","text":"raw"}]}`
				}
				_ = up.toRelay.WriteFrame([]byte(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":` + result + `}`))
			}
		}()

		outR, outW := io.Pipe()
		r := &Relay{In: bytes.NewReader(data), Out: outW, Stderr: io.Discard, Core: core, Drain: 5 * time.Second, Grace: time.Millisecond}
		runDone := make(chan error, 1)
		go func() { runDone <- r.Run(context.Background(), up); outW.Close() }()
		out := bufio.NewScanner(outR)
		out.Buffer(make([]byte, 1<<20), 1<<20)
		for out.Scan() {
			line := out.Text()
			if !jsontext.Value(line).IsValid() {
				t.Fatalf("the client got invalid JSON: %s", line)
			}
			if strings.Contains(line, `"text":"raw"`) {
				t.Fatalf("a tools/call answer skipped the post hooks: %s", line)
			}
		}
		<-runDone
		<-upDone
		if failure != "" {
			t.Fatal(failure)
		}
		recorded := 0
		for _, rec := range sink.snapshot() {
			// tasks/result, resources/read and prompts/get leave records
			// of their own; the upstream's count is of tools/call.
			neverSent := rec.Outcome == audit.OutcomeCancelled && strings.Contains(rec.Reason, "never sent upstream")
			if rec.Kind == audit.KindToolCall && rec.Method == "tools/call" && rec.Outcome != audit.OutcomeDenied && !neverSent {
				recorded++
			}
		}
		if recorded != ran {
			t.Fatalf("the upstream ran %d tools/call, %d have a record: %v", ran, recorded, sink.outcomes())
		}
	})
}

// checkForwarded reads a frame the upstream received as an exact-key
// parser and as Go's case-insensitive one; a tools/call must read the
// same to both, and be one the core allowed with these arguments.
func checkForwarded(frame []byte, d *decided) string {
	var exact struct {
		Method string `json:"method"`
		Params struct {
			Name      string         `json:"name"`
			Arguments jsontext.Value `json:"arguments"`
		} `json:"params"`
	}
	if err := jsonv2.Unmarshal(frame, &exact); err != nil {
		// Refused by the exact parser: a problem only if some reader
		// could take it for a tools/call — its method member, read
		// exactly or case-insensitively, says so. ("tools/call" as the
		// value of another member, with no method, is no call at all.)
		var exactMethod struct {
			Method jsontext.Value `json:"method"`
		}
		var looseMethod struct{ Method json.RawMessage }
		_ = jsonv2.Unmarshal(frame, &exactMethod, jsonv2.RejectUnknownMembers(false))
		_ = json.Unmarshal(frame, &looseMethod)
		isCall := func(raw []byte) bool {
			var m string
			return json.Unmarshal(raw, &m) == nil && m == "tools/call"
		}
		if isCall(exactMethod.Method) || isCall(looseMethod.Method) {
			return "the upstream got a message an exact parser refuses: " + err.Error() + ": " + string(frame)
		}
		return ""
	}
	var loose struct {
		Method string
		Params struct {
			Name      string
			Arguments json.RawMessage
		}
	}
	_ = json.Unmarshal(frame, &loose)
	if exact.Method != loose.Method {
		return "parsers disagree on the method: " + string(frame)
	}
	if exact.Method != "tools/call" {
		return ""
	}
	if exact.Params.Name != loose.Params.Name || !bytes.Equal(exact.Params.Arguments, loose.Params.Arguments) {
		return "parsers disagree on the call: " + string(frame)
	}
	if exact.Params.Name == "get-env" || exact.Params.Name == "secret" {
		return "a denied tool reached the upstream: " + string(frame)
	}
	if !d.take(exact.Params.Name, json.RawMessage(exact.Params.Arguments)) {
		return "the upstream got a call the core did not decide on: " + string(frame)
	}
	return ""
}
