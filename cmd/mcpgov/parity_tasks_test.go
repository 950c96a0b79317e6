package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// The tasks-parity test drives the 2025-11-25 tasks flow (SEP-1686) against
// server-everything at the raw JSON-RPC level, directly and through
// `mcpgov shim`. go-sdk does not implement tasks, so a go-sdk client cannot
// exercise them; this is the case the shim's raw relaying exists for.

// rawMCP is a newline-delimited JSON-RPC peer over a process's stdio.
type rawMCP struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan json.RawMessage

	mu     sync.Mutex
	notifs []string // the notifications the server sent, as received
}

func startRawMCP(t *testing.T, cmd *exec.Cmd) *rawMCP {
	t.Helper()
	cmd.Stderr = os.Stderr
	cmd.Env = sandboxEnv(t)
	// The shim and its upstream (or node alone) form one process group;
	// kill it all at the end so no server outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	r := &rawMCP{t: t, stdin: stdin, lines: make(chan json.RawMessage, 256)}
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			r.lines <- json.RawMessage(slices.Clone(sc.Bytes()))
		}
	}()
	return r
}

func (r *rawMCP) send(msg map[string]any) {
	r.t.Helper()
	msg["jsonrpc"] = "2.0"
	b, err := json.Marshal(msg)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.stdin.Write(append(b, '\n')); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// call sends a request and returns its response (the whole JSON-RPC
// message). Notifications received meanwhile are recorded; server requests
// are answered with "method not found" (the client declares no
// client-side capabilities, so none are expected).
func (r *rawMCP) call(id, method string, params any) map[string]any {
	r.t.Helper()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	r.send(msg)
	deadline := time.After(await.Budget(r.t))
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("%s: stdout closed", method)
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				r.t.Fatalf("%s: bad line %s: %v", method, line, err)
			}
			switch {
			case m["method"] != nil && m["id"] == nil:
				r.mu.Lock()
				r.notifs = append(r.notifs, string(line))
				r.mu.Unlock()
			case m["method"] != nil:
				r.t.Logf("unexpected server request: %s", line)
				r.send(map[string]any{"id": m["id"], "error": map[string]any{"code": -32601, "message": "not supported"}})
			case m["id"] == id:
				return m
			default:
				r.t.Fatalf("%s: unexpected message %s", method, line)
			}
		case <-deadline:
			r.t.Fatalf("%s: no response", method)
		}
	}
}

var (
	// createdAt/lastUpdatedAt are wall-clock ISO 8601 timestamps; they
	// differ between the two runs.
	isoTimeRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
)

// normTask renders v as JSON with the run-specific values replaced: the task
// id is random per run (the server generates it), and timestamps are
// wall-clock times.
func normTask(v any, taskID string) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if taskID != "" {
		s = strings.ReplaceAll(s, taskID, "<task-id>")
	}
	return isoTimeRE.ReplaceAllString(s, "<timestamp>")
}

// observeTasks runs the tasks flow and returns the normalised responses in
// order, plus the task statuses seen.
func observeTasks(t *testing.T, r *rawMCP) (seq []string, statuses []string) {
	t.Helper()
	init := r.call("init", "initialize", map[string]any{
		"protocolVersion": "2025-11-25",
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "parity-tasks", "version": "1"},
	})
	res, _ := init["result"].(map[string]any)
	if res["protocolVersion"] != "2025-11-25" {
		t.Fatalf("initialize: %v", init)
	}
	caps, _ := res["capabilities"].(map[string]any)
	if caps["tasks"] == nil {
		t.Fatalf("server declares no tasks capability: %v", caps)
	}
	seq = append(seq, normTask(init, ""))
	r.send(map[string]any{"method": "notifications/initialized"})

	// simulate-research-query is registered after initialization (and
	// announced with tools/list_changed); poll tools/list until it appears.
	// The number of polls depends on timing, so only the tool's final entry
	// is part of the sequence, not the list responses' ids.
	var tool map[string]any
	for i, deadline := 0, await.Deadline(t); tool == nil; i++ {
		lt := r.call(fmt.Sprintf("list-%d", i), "tools/list", nil)
		tools, _ := lt["result"].(map[string]any)["tools"].([]any)
		for _, x := range tools {
			if m, _ := x.(map[string]any); m["name"] == "simulate-research-query" {
				tool = m
			}
		}
		if tool == nil {
			if time.Now().After(deadline) {
				t.Fatalf("simulate-research-query never appeared in tools/list (%d lists)", i+1)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if execution, _ := tool["execution"].(map[string]any); execution["taskSupport"] != "required" {
		t.Fatalf("simulate-research-query execution: %v", tool["execution"])
	}
	seq = append(seq, normTask(tool, ""))

	// Task-augmented tools/call: the server answers with a CreateTaskResult.
	// ambiguous=false avoids the input_required/elicitation path.
	created := r.call("call", "tools/call", map[string]any{
		"name":      "simulate-research-query",
		"arguments": map[string]any{"topic": "parity", "ambiguous": false},
		"task":      map[string]any{"ttl": 60000},
	})
	task, _ := created["result"].(map[string]any)["task"].(map[string]any)
	taskID, _ := task["taskId"].(string)
	if taskID == "" {
		t.Fatalf("tools/call did not create a task: %v", created)
	}
	seq = append(seq, normTask(created, taskID))
	statuses = append(statuses, task["status"].(string))

	// Poll tasks/get until terminal. How many polls land in each stage is
	// timing-dependent, so consecutive identical (normalised) responses are
	// collapsed and the poll ids are dropped.
	terminal := []string{"completed", "failed", "cancelled"}
	for i, deadline := 0, await.Deadline(t); ; i++ {
		got := r.call(fmt.Sprintf("get-%d", i), "tasks/get", map[string]any{"taskId": taskID})
		gr, _ := got["result"].(map[string]any)
		if gr == nil {
			t.Fatalf("tasks/get: %v", got)
		}
		s := normTask(gr, taskID)
		if seq[len(seq)-1] != s {
			seq = append(seq, s)
		}
		st, _ := gr["status"].(string)
		if statuses[len(statuses)-1] != st {
			statuses = append(statuses, st)
		}
		if slices.Contains(terminal, st) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task not terminal by the test's deadline: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	result := r.call("result", "tasks/result", map[string]any{"taskId": taskID})
	rr, _ := result["result"].(map[string]any)
	content, _ := rr["content"].([]any)
	if len(content) == 0 {
		t.Fatalf("tasks/result has no content: %v", result)
	}
	seq = append(seq, normTask(result, taskID))

	// The server's notifications (tools/list_changed, then one
	// notifications/tasks/status per status change) are part of the
	// sequence too, normalised like the responses.
	r.mu.Lock()
	for _, n := range r.notifs {
		var v any
		json.Unmarshal([]byte(n), &v)
		seq = append(seq, "notification "+normTask(v, taskID))
	}
	r.mu.Unlock()
	for _, s := range seq {
		t.Log(s)
	}
	return seq, statuses
}

// TestShimTasksParityStdio: the tasks flow (initialize with 2025-11-25,
// task-augmented tools/call, tasks/get polling, tasks/result) gives the same
// normalised responses directly and through the shim.
func TestShimTasksParityStdio(t *testing.T) {
	t.Parallel()
	needEverything(t)
	type obs struct{ seq, statuses []string }
	var direct, shimmed obs
	t.Run("sides", func(t *testing.T) {
		t.Run("direct", func(t *testing.T) {
			t.Parallel()
			r := startRawMCP(t, exec.Command("mcp-server-everything", "stdio"))
			direct.seq, direct.statuses = observeTasks(t, r)
		})
		t.Run("shim", func(t *testing.T) {
			t.Parallel()
			r := startRawMCP(t, exec.Command("mcpgov", "shim", "--bundle", writeBundle(t), "--", "mcp-server-everything", "stdio"))
			shimmed.seq, shimmed.statuses = observeTasks(t, r)
		})
	})
	if t.Failed() {
		return
	}
	t.Logf("statuses: direct %v, shim %v", direct.statuses, shimmed.statuses)
	if direct.statuses[len(direct.statuses)-1] != "completed" {
		t.Errorf("task did not complete: %v", direct.statuses)
	}
	if !slices.Equal(direct.seq, shimmed.seq) {
		for i := range max(len(direct.seq), len(shimmed.seq)) {
			var d, s string
			if i < len(direct.seq) {
				d = direct.seq[i]
			}
			if i < len(shimmed.seq) {
				s = shimmed.seq[i]
			}
			if d != s {
				t.Errorf("response %d differs:\n direct %s\n  shim  %s", i, d, s)
			}
		}
	}
}
