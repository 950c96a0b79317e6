//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/mcpgov/mcpgov/shim/shimtest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayRedTeamParity replays the hardening issue's attack scripts
// (testdata/script/attack_*.txtar: case-variant and duplicate members,
// escaped names, ids that are equal only as numbers, calls without an id,
// an id reused while in flight) through the shim over stdio and through
// the gateway over HTTP, against the same servers and bundle. Every answer
// must be the same, the gateway must refuse and record as many messages
// as the shim, and the server must run exactly the same calls — so an
// attack the shim stops, the gateway stops too.
func TestGatewayRedTeamParity(t *testing.T) {
	for _, name := range []string{"attack_case_keys", "attack_everything", "attack_ids"} {
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(filepath.Join("..", "..", "testdata", "script", name+".txtar"))
			if err != nil {
				t.Fatal(err)
			}
			gov := t.TempDir()
			var lines []string
			for _, f := range ar.Files {
				switch {
				case strings.HasSuffix(f.Name, ".jsonl"):
					lines = strings.Split(strings.TrimSpace(string(f.Data)), "\n")
				case strings.HasPrefix(f.Name, "gov/"):
					writeFile(t, filepath.Join(gov, strings.TrimPrefix(f.Name, "gov/")), string(f.Data))
				}
			}
			server, command := catalogServer(t, gov)
			if ok, err := haveProgram(command); err != nil || !ok {
				t.Skipf("%s is not installed; make test installs it", command)
			}
			shimSide := runAttackShim(t, gov, lines)
			gwSide := runAttackGateway(t, gov, server, lines)
			// The slow call is answered by the lenient server when its
			// input closes: the shim drains at the client's EOF and
			// relays it; a gateway client ends its session with DELETE,
			// and its POST is answered with the session's end.
			delete(shimSide.answers, `"s"`)
			delete(gwSide.answers, `"s"`)

			for id, want := range shimSide.answers {
				if got := gwSide.answers[id]; !reflect.DeepEqual(want, got) {
					t.Errorf("answers with id %s:\nshim    %s\ngateway %s", id, strings.Join(want, "\n        "), strings.Join(got, "\n        "))
				}
			}
			for id, got := range gwSide.answers {
				if _, ok := shimSide.answers[id]; !ok {
					t.Errorf("id %s: the gateway answered %s; the shim did not answer", id, got)
				}
			}
			if shimSide.refused != gwSide.refused || shimSide.refused == "0" {
				t.Errorf("refused messages recorded: shim %s, gateway %s; want the same, at least one", shimSide.refused, gwSide.refused)
			}
			if shimSide.executed != gwSide.executed {
				t.Errorf("calls the server ran:\nshim    %q\ngateway %q", shimSide.executed, gwSide.executed)
			}
			if strings.Contains(gwSide.executed, "get-env") || strings.Contains(fmt.Sprint(gwSide.answers), shimtest.EnvSecret) {
				t.Errorf("a denied tool ran or its output reached the client through the gateway")
			}
		})
	}
}

// attackRun is what one side did: its answers by the client's raw id
// (several under id null, canonical JSON, sorted), the refused messages it
// recorded and the calls the lenient server logged.
type attackRun struct {
	answers  map[string][]string
	refused  string
	executed string
}

// catalogServer returns the one server of the attack's catalog and the
// command it launches.
func catalogServer(t *testing.T, gov string) (string, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(gov, "catalog.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var id, command string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "[servers."); ok && !strings.Contains(rest, ".") {
			id = strings.TrimSuffix(rest, "]")
		}
		if rest, ok := strings.CutPrefix(line, "command = "); ok {
			command = strings.Trim(rest, `"`)
		}
	}
	return id, command
}

func attackEnv(t *testing.T, gov string) ([]string, string, string) {
	auditDir := filepath.Join(t.TempDir(), "audit")
	log := filepath.Join(t.TempDir(), "executed.log")
	return sandboxEnv(t, "MCPGOV_BUNDLE="+gov, "MCPGOV_AUDIT_DIR="+auditDir, "LENIENT_LOG="+log), auditDir, log
}

func (r *attackRun) finish(t *testing.T, env []string, log string) {
	t.Helper()
	q := exec.Command("mcpgov", "audit", "query", "--kind", "message_refused", "--count")
	q.Env = env
	out, err := q.Output()
	if err != nil {
		t.Fatalf("audit query: %v", err)
	}
	r.refused = strings.TrimSpace(string(out))
	b, _ := os.ReadFile(log)
	// The server sees its own ids, which differ between the sides.
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		l, _, _ = strings.Cut(l, " id=")
		calls = append(calls, l)
	}
	r.executed = strings.Join(calls, "\n")
}

func runAttackShim(t *testing.T, gov string, lines []string) attackRun {
	t.Helper()
	env, _, log := attackEnv(t, gov)
	_, command := catalogServer(t, gov)
	args := []string{"shim", "--", command}
	if command == "mcp-server-everything" {
		args = append(args, "stdio")
	}
	cmd := exec.CommandContext(await.Context(t), "mcpgov", args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("shim: %v", err)
	}
	r := attackRun{answers: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		r.add(sc.Text())
	}
	r.finish(t, env, log)
	return r
}

func runAttackGateway(t *testing.T, gov, server string, lines []string) attackRun {
	t.Helper()
	env, _, log := attackEnv(t, gov)
	base, _ := serveGateway(t, env, "--bundle", gov, "--allow-anonymous")
	url := base + "/servers/" + server + "/mcp"
	r := attackRun{answers: map[string][]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	session := ""
	post := func(body string) {
		req, _ := http.NewRequestWithContext(await.Context(t), http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("MCP-Protocol-Version", "2025-06-18")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("POST %s: %v", body, err)
			return
		}
		defer resp.Body.Close()
		if s := resp.Header.Get("Mcp-Session-Id"); s != "" && session == "" {
			session = s
		}
		for _, msg := range answerMessages(t, resp) {
			mu.Lock()
			r.add(msg)
			mu.Unlock()
		}
	}
	for i, line := range lines {
		if i > 0 && strings.Contains(line, `"name":"slow"`) {
			// The shim answers it when the client goes away; here the
			// DELETE below ends the session while it waits.
			wg.Add(1)
			go func() { defer wg.Done(); post(line) }()
			await.Until(t, "the slow call in flight", func() bool {
				b, _ := os.ReadFile(log)
				return strings.Contains(string(b), "EXEC slow")
			})
			continue
		}
		post(line)
	}
	req, _ := http.NewRequestWithContext(await.Context(t), http.MethodDelete, url, nil)
	req.Header.Set("Mcp-Session-Id", session)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	wg.Wait()
	r.finish(t, env, log)
	return r
}

// answerMessages returns the JSON-RPC messages of a POST's answer: the
// body, or each data line of an event stream.
func answerMessages(t *testing.T, resp *http.Response) []string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "{") {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if d, ok := strings.CutPrefix(l, "data: "); ok && strings.HasPrefix(d, "{") {
			out = append(out, d)
		}
	}
	return out
}

// add keeps msg when it is an answer (a message with result or error).
func (r *attackRun) add(msg string) {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	var v any
	if json.Unmarshal([]byte(msg), &m) != nil || (m.Result == nil && m.Error == nil) || json.Unmarshal([]byte(msg), &v) != nil {
		return
	}
	canon, _ := json.Marshal(v)
	id := string(m.ID)
	r.answers[id] = append(r.answers[id], string(canon))
	slices.Sort(r.answers[id])
}
