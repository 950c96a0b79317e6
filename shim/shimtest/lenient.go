// Package shimtest has a lenient MCP server for attack tests of the shim:
// like many hand-written servers, it reads messages with Go's
// encoding/json v1 (keys matched case-insensitively, the last match wins),
// executes a tools/call whether or not it has an id, echoes ids by their
// raw bytes, and answers calls the client cancelled. Every call it
// executes is appended to the file named by LENIENT_LOG, so a test can
// compare what the server ran with what the shim decided.
package shimtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
)

// Texts the lenient server returns, for tests to assert on.
const (
	// EnvSecret is what the get-env tool returns: a denied tool's output
	// that must never reach the client.
	EnvSecret = "LENIENT_SECRET=hunter2-lenient"
	// ResourceText is what resources/read returns: an email and a
	// card number that post guardrails must redact.
	ResourceText = "contact alice@example.com, card 4111 1111 1111 1111"
)

// message is the lenient reading of a JSON-RPC message.
type message struct {
	JSONRPC string
	ID      json.RawMessage
	Method  string
	Params  json.RawMessage
}

type server struct {
	out     *bufio.Writer
	outMu   sync.Mutex
	log     *os.File
	mu      sync.Mutex
	waiting map[string]json.RawMessage // raw id of a slow call -> its id, answered at cancellation
}

// LenientServerMain is the lenient-mcp-server command.
func LenientServerMain() {
	s := &server{out: bufio.NewWriter(os.Stdout), waiting: map[string]json.RawMessage{}}
	if path := os.Getenv("LENIENT_LOG"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lenient-mcp-server:", err)
			os.Exit(1)
		}
		s.log = f
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		var m message
		if json.Unmarshal(in.Bytes(), &m) != nil {
			continue
		}
		s.handle(m)
	}
	// At EOF, answer what is still waiting, as a server that ignores
	// cancellation would.
	s.mu.Lock()
	for _, id := range s.waiting {
		s.reply(id, textResult("slow done"))
	}
	s.mu.Unlock()
}

func (s *server) handle(m message) {
	switch m.Method {
	case "initialize":
		s.reply(m.ID, json.RawMessage(`{"protocolVersion":"2025-06-18","capabilities":{"tools":{},"resources":{},"prompts":{}},"serverInfo":{"name":"lenient-mcp-server","version":"0.1.0"}}`))
	case "tools/list":
		s.reply(m.ID, json.RawMessage(`{"tools":[`+
			`{"name":"echo","description":"Echoes the message.","inputSchema":{"type":"object","properties":{"message":{"type":"string"}}}},`+
			`{"name":"get-env","description":"Returns the environment.","inputSchema":{"type":"object"}},`+
			`{"name":"slow","description":"Answers when cancelled.","inputSchema":{"type":"object"}},`+
			`{"name":"link","description":"Returns a resource link.","inputSchema":{"type":"object"}},`+
			`{"name":"sample","description":"Asks the client's model.","inputSchema":{"type":"object"}}]}`))
	case "tools/call":
		var p struct {
			Name      string
			Arguments map[string]any
		}
		_ = json.Unmarshal(m.Params, &p)
		args, _ := json.Marshal(p.Arguments)
		s.logf("EXEC %s %s id=%s", p.Name, args, idText(m.ID))
		switch p.Name {
		case "echo":
			msg, _ := p.Arguments["message"].(string)
			s.reply(m.ID, textResult(msg))
		case "get-env":
			s.reply(m.ID, textResult(EnvSecret))
		case "slow":
			if m.ID != nil {
				s.mu.Lock()
				s.waiting[string(m.ID)] = m.ID
				s.mu.Unlock()
			}
		case "sample":
			// Content for the model, in the server's own request.
			b, _ := json.Marshal(ResourceText)
			s.write(`{"jsonrpc":"2.0","id":"sample-1","method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":` + string(b) + `}}],"maxTokens":10}}`)
			s.reply(m.ID, textResult("sampled"))
		case "link":
			s.reply(m.ID, json.RawMessage(`{"content":[{"type":"resource_link","uri":"secret://env","name":"env"}]}`))
		case "crash":
			// Not listed: a server dying in the middle of a call.
			os.Exit(7)
		default:
			s.replyError(m.ID, -32602, "Unknown tool: "+p.Name)
		}
	case "resources/read":
		var p struct{ URI string }
		_ = json.Unmarshal(m.Params, &p)
		s.logf("READ %s id=%s", p.URI, idText(m.ID))
		b, _ := json.Marshal(ResourceText)
		uri, _ := json.Marshal(p.URI)
		s.reply(m.ID, json.RawMessage(`{"contents":[{"uri":`+string(uri)+`,"mimeType":"text/plain","text":`+string(b)+`}]}`))
	case "prompts/get":
		var p struct{ Name string }
		_ = json.Unmarshal(m.Params, &p)
		s.logf("PROMPT %s id=%s", p.Name, idText(m.ID))
		b, _ := json.Marshal(ResourceText)
		s.reply(m.ID, json.RawMessage(`{"messages":[{"role":"user","content":{"type":"text","text":`+string(b)+`}}]}`))
	case "notifications/cancelled":
		var p struct{ RequestID json.RawMessage }
		_ = json.Unmarshal(m.Params, &p)
		s.logf("CANCELLED id=%s", idText(p.RequestID))
		s.mu.Lock()
		id, ok := s.waiting[string(p.RequestID)]
		delete(s.waiting, string(p.RequestID))
		s.mu.Unlock()
		if ok { // answers anyway, after the cancellation
			s.reply(id, textResult("slow done: "+EnvSecret))
		}
	case "ping":
		s.reply(m.ID, json.RawMessage(`{}`))
	default:
		if m.ID != nil && !strings.HasPrefix(m.Method, "notifications/") && m.Method != "" {
			s.replyError(m.ID, -32601, "Method not found")
		}
	}
}

func idText(id json.RawMessage) string {
	if id == nil {
		return "none"
	}
	return string(id)
}

func textResult(text string) json.RawMessage {
	b, _ := json.Marshal(text)
	return json.RawMessage(`{"content":[{"type":"text","text":` + string(b) + `}]}`)
}

func (s *server) reply(id, result json.RawMessage) {
	if id == nil || string(id) == "null" {
		return
	}
	s.write(`{"jsonrpc":"2.0","id":` + string(id) + `,"result":` + string(result) + `}`)
}

func (s *server) replyError(id json.RawMessage, code int, msg string) {
	if id == nil || string(id) == "null" {
		return
	}
	b, _ := json.Marshal(msg)
	s.write(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":%s}}`, id, code, b))
}

func (s *server) write(line string) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	s.out.WriteString(line + "\n")
	s.out.Flush()
}

func (s *server) logf(format string, args ...any) {
	if s.log == nil {
		return
	}
	fmt.Fprintf(s.log, format+"\n", args...)
}
