package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// stdioServerEnv makes the test binary a small stdio MCP server: tool pid
// answers with its process id, tool exit makes it exit without answering.
const stdioServerEnv = "MCPGOV_GATEWAY_TEST_STDIO_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(stdioServerEnv) != "" {
		stdioServer()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func stdioServer() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil || m.ID == nil {
			continue
		}
		result := `{}`
		switch m.Method {
		case "initialize":
			result = `{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"stdio-test","version":"1"}}`
		case "tools/list":
			result = `{"tools":[{"name":"pid","inputSchema":{"type":"object"}},{"name":"exit","inputSchema":{"type":"object"}}]}`
		case "tools/call":
			if m.Params.Name == "exit" {
				os.Exit(3)
			}
			text := strconv.Itoa(os.Getpid())
			if m.Params.Name == "key" { // the key injected at launch (creds_test.go)
				text = "key=" + os.Getenv(stdioKeyEnv)
			}
			result = fmt.Sprintf(`{"content":[{"type":"text","text":%q}]}`, text)
		}
		fmt.Printf(`{"jsonrpc":"2.0","id":%s,"result":%s}`+"\n", m.ID, result)
	}
}

// TestStdioUpstream: a stdio server gets a process per MCP session; when
// it exits, the call waiting for it gets an error and the session ends,
// so the client's next request gets 404 (initialize anew).
func TestStdioUpstream(t *testing.T) {
	t.Setenv(stdioServerEnv, "1") // inherited by the servers the gateway starts
	gov := &fakeGov{
		servers: []gateway.Server{{ID: "local", Command: []string{os.Args[0]}}},
		entries: map[string]*catalog.Server{"local": {ID: "local", Status: catalog.StatusApproved}},
	}
	ts, h := newGateway(t, gov, gateway.Options{})
	url := ts.URL + "/servers/local/mcp"
	open := func() string {
		status, body, hdr := post(t, url, "", initBody, "Accept", "application/json")
		if status != 200 || hdr.Get("Mcp-Session-Id") == "" {
			t.Fatalf("initialize: %d %q", status, body)
		}
		return hdr.Get("Mcp-Session-Id")
	}
	pid := func(sid string) string {
		status, body, _ := post(t, url, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"pid","arguments":{}}}`, "Accept", "application/json")
		if status != 200 || !strings.Contains(body, `"text":"`) {
			t.Fatalf("call pid: %d %q", status, body)
		}
		return body[strings.Index(body, `"text":"`):]
	}
	a, b := open(), open()
	if pid(a) == pid(b) {
		t.Fatal("two sessions share one stdio process")
	}
	status, body, _ := post(t, url, a, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"exit","arguments":{}}}`, "Accept", "application/json")
	if status != 200 || !strings.Contains(body, `"id":3,"error"`) || !strings.Contains(body, "upstream MCP server local exited: the server process ended (exit status 3)") {
		t.Fatalf("call exit: %d %q", status, body)
	}
	await.Until(t, "the session of the exited server ended", func() bool { return h.Sessions() == 1 })
	if status, _, _ := post(t, url, a, `{"jsonrpc":"2.0","id":4,"method":"ping"}`); status != 404 {
		t.Fatalf("request to the ended session: %d, want 404", status)
	}
	pid(b) // the other session is unaffected
}
