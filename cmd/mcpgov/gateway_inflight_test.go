package main

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestGatewayFailoverInFlight: a replica is killed (SIGKILL, with its
// stdio server) while a call runs on it. The client's retry through the
// balancer is refused (409, in flight on another replica) while the dead
// replica's claim on the call lasts, then runs the call on a live replica
// and gets its answer; the call is recorded once, by the replica that
// answered it. This is the "at least once" case: the dead replica had
// started the call upstream.
func TestGatewayFailoverInFlight(t *testing.T) {
	if _, err := exec.LookPath("mcp-server-everything"); err != nil {
		t.Skip("mcp-server-everything is not on PATH; run make e2e-deps")
	}
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	replicas, backends := startReplicaSet(t, 3, bundle, redis.URL())
	const path = "/servers/everything/mcp"
	lb := startNginx(t, backends) + path
	sid := initSession(t, lb, "inflight")

	// The call runs on replica 1 (directly, so the test knows where),
	// as a stream with progress: the first progress event says it runs.
	const call = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":4,"steps":4},"_meta":{"progressToken":"p42"}}}`
	victim := replicas[1]
	ctx, cancel := context.WithCancel(await.Context(t))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+victim.addr+path, strings.NewReader(call))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	progressed := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "notifications/progress") {
				close(progressed)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	await.Recv(t, progressed, "the long call's first progress on replica 1")
	victim.kill9(t)

	// The client did not get the answer: it sends the call again, with
	// the same id, through the balancer.
	conflicts := 0
	var answer string
	await.Until(t, "the retried call answered by a live replica", func() bool {
		status, body, _ := rawPost(t, lb, sid, call)
		switch status {
		case 409:
			conflicts++
			return false
		case 0, 502, 503, 504:
			return false
		case 200:
			answer = body
			return true
		}
		t.Fatalf("retry: %d %s", status, body)
		return false
	})
	if conflicts == 0 {
		t.Errorf("no retry was refused while the dead replica's claim lasted")
	}
	if !strings.Contains(answer, `"id":42`) || !strings.Contains(answer, "Long running operation completed. Duration: 4 seconds, Steps: 4.") {
		t.Fatalf("answer: %s", answer)
	}
	t.Logf("retry refused %d times while the dead replica's claim lasted, then answered", conflicts)

	records := 0
	for i, r := range replicas {
		out, err := exec.Command("mcpgov", "audit", "query", "--dir", r.audit, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
		if err != nil {
			continue // no trail: a replica that recorded no call
		}
		n := strings.Count(string(out), `"tool":"trigger-long-running-operation"`)
		if i == 1 && n != 0 {
			t.Errorf("the killed replica recorded the call it did not finish")
		}
		records += n
	}
	if records != 1 {
		t.Errorf("the call is recorded %d times across the replicas, want 1", records)
	}
}
