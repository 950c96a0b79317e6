package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// nginxBinary finds Debian's nginx (make scale-deps installs it); the
// test skips without it, or fails under MCPGOV_E2E=1.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	msg := "nginx not found; run `make scale-deps` (apt-get install nginx)"
	if os.Getenv("MCPGOV_E2E") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startNginx runs nginx on a free loopback address as a round-robin load
// balancer in front of backends (host:port) and returns its base URL. A
// backend that refuses connections is passed over (the request was not
// sent, so even a POST goes to the next one).
func startNginx(t *testing.T, backends []string) string {
	t.Helper()
	return startNginxWith(t, backends, "")
}

// startNginxWith is startNginx with more directives in its location.
func startNginxWith(t *testing.T, backends []string, location string) string {
	t.Helper()
	bin := nginxBinary(t)
	dir, err := os.MkdirTemp("", "mcpgov-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	addr := freeAddr(t)
	var servers strings.Builder
	for _, b := range backends {
		fmt.Fprintf(&servers, "    server %s max_fails=1 fail_timeout=2s;\n", b)
	}
	user := ""
	if os.Getuid() == 0 {
		user = "user root;\n" // the workers write nothing, but must read nothing root-only either
	}
	conf := fmt.Sprintf(`%sworker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  upstream gateway {
%[3]s  }
  server {
    listen %[4]s;
    location / {
      proxy_pass http://gateway;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout 1h;
      proxy_next_upstream error timeout;
%[5]s    }
  }
}
`, user, dir, servers.String(), addr, location)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	listening(t, addr)
	return "http://" + addr
}

// replica is one gateway process the test can kill.
type replica struct {
	addr  string
	audit string
	cmd   *exec.Cmd
	log   *syncBuffer
}

// startReplica runs `mcpgov gateway serve` in its own process group with
// a state directory and an audit directory of its own, and flags extra.
func startReplica(t testing.TB, bundle, store string, extra ...string) *replica {
	t.Helper()
	return startReplicaAt(t, freeAddr(t), bundle, store, extra...)
}

// startReplicaAt is startReplica listening on addr.
func startReplicaAt(t testing.TB, addr, bundle, store string, extra ...string) *replica {
	t.Helper()
	r := &replica{addr: addr, audit: filepath.Join(t.TempDir(), "audit"), log: &syncBuffer{}}
	args := []string{"gateway", "serve", "--listen", r.addr, "--bundle", bundle, "--allow-anonymous"}
	if store != "" {
		args = append(args, "--store", store)
	}
	args = append(args, extra...)
	r.cmd = exec.Command("mcpgov", args...)
	r.cmd.Env = sandboxEnv(t, "MCPGOV_AUDIT_DIR="+r.audit)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(r.log, sc.Text())
		}
		close(copied)
	}()
	t.Cleanup(func() {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-copied
		r.cmd.Wait()
	})
	await.Until(t, r.addr+" listening", func() bool {
		c, err := net.Dial("tcp", r.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return r
}

// kill9 kills the replica and every process it started (its stdio
// servers), as the loss of its machine would.
func (r *replica) kill9(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// TestGatewayFailover: three replicas sharing a real Redis behind nginx,
// round robin. One client session makes 1,000 tools/call requests; after
// the 300th, the replica that opened the session is killed with SIGKILL
// (with its stdio servers). Every request gets exactly one answer, its
// own (the id and the echoed text match), the replicas that did not open
// the session serve it from its signed id, and across the replicas'
// audit trails every call is recorded exactly once under the session's
// one record id.
//
// A client retries a request whose answer it did not get (a transport
// error or a 502 from the balancer) with the same id; the test counts
// those retries, and then sends three answered calls again, as a client
// that lost their answers would: the call log answers them with their
// first answer, and they are neither run nor recorded again. A call in
// flight on the killed replica at the moment of the kill has no answer
// in the log: its retry runs it once the dead replica's claim lapses (at
// least once). Here the kill falls between two calls.
func TestGatewayFailover(t *testing.T) {
	redis := statetest.Start(t)
	bundle := writeBundle(t)
	replicas, backends := startReplicaSet(t, 3, bundle, redis.URL())
	lb := startNginx(t, backends) + "/servers/fake/mcp"

	sid := initSession(t, lb, "failover")
	if !strings.HasPrefix(sid, "mcpgov1.") {
		t.Fatalf("initialize through nginx: session %q, want a signed one (mcpgov1.)", sid)
	}
	const calls = 1000
	const killAfter = 300
	retries := 0
	killed := -1
	for i := 1; i <= calls; i++ {
		if i == killAfter+1 {
			killed = openerOf(t, replicas)
			replicas[killed].kill9(t)
		}
		msg := fmt.Sprintf("m%d", i)
		req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":%q}}}`, i, msg)
		for {
			status, body, _ := rawPost(t, lb, sid, req)
			if status == 0 || status == 502 || status == 503 || status == 504 {
				retries++
				t.Logf("call %d: retry after %d %.200s", i, status, body)
				if retries > 50 {
					t.Fatalf("call %d: too many retries; last %d %s", i, status, body)
				}
				continue
			}
			var resp struct {
				ID     int `json:"id"`
				Result struct {
					Content []struct {
						Text string `json:"text"`
					} `json:"content"`
					IsError bool `json:"isError"`
				} `json:"result"`
			}
			if status != 200 || json.Unmarshal([]byte(body), &resp) != nil || resp.ID != i || resp.Result.IsError ||
				len(resp.Result.Content) != 1 || resp.Result.Content[0].Text != msg {
				t.Fatalf("call %d: %d %s", i, status, body)
			}
			break
		}
	}
	t.Logf("1000 calls answered, each once and its own; replica %d killed after call %d; %d client retries", killed, killAfter, retries)
	resumed := 0
	for i, r := range replicas {
		if i != killed && strings.Contains(r.log.String(), "resumed on this replica") {
			resumed++
		}
	}
	if resumed != 2 {
		t.Errorf("%d surviving replicas resumed the session, want 2", resumed)
	}

	// A client that lost answers sends the calls again with the same
	// ids: each is answered from the call log, with its first answer, and
	// not run or recorded again, whichever replica gets it.
	for _, i := range []int{killAfter, killAfter + 1, calls} {
		msg := fmt.Sprintf("m%d", i)
		req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":%q}}}`, i, msg)
		for range 2 { // two replicas are left: both answer it
			status, body, _ := rawPost(t, lb, sid, req)
			if status != 200 || !strings.Contains(body, fmt.Sprintf(`"id":%d`, i)) || !strings.Contains(body, `"text":"`+msg+`"`) {
				t.Fatalf("retry of call %d: %d %s", i, status, body)
			}
		}
	}
	fromLog := func() int {
		n := 0
		for i, r := range replicas {
			if i != killed {
				n += strings.Count(r.log.String(), "from the call log")
			}
		}
		return n
	}
	await.Until(t, "six retries logged as answered from the call log", func() bool { return fromLog() >= 6 })
	if fromLog := fromLog(); fromLog != 6 {
		t.Errorf("%d retries answered from the call log, want 6", fromLog)
	}

	// The client ends the session through one replica: every replica
	// ends its copy, and none resumes it.
	req, err := http.NewRequestWithContext(await.Context(t), http.MethodDelete, lb, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	for i, r := range replicas {
		if i == killed {
			continue
		}
		await.Until(t, "the ended session refused by every replica", func() bool {
			status, _, _ := rawPost(t, "http://"+r.addr+"/servers/fake/mcp", sid, `{"jsonrpc":"2.0","id":5000,"method":"tools/list"}`)
			return status == 404
		})
	}

	// Records: every call once, across the three trails, under one
	// session record id.
	seen := map[string]int{}
	sessions := map[string]bool{}
	for _, r := range replicas {
		out, err := exec.Command("mcpgov", "audit", "query", "--dir", r.audit, "--kind", "tool_call", "--format", "jsonl").CombinedOutput()
		if err != nil {
			if _, statErr := os.Stat(r.audit); statErr != nil {
				continue // a replica that served no call has no trail
			}
			t.Fatalf("audit query %s: %v\n%s", r.audit, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" {
				continue
			}
			var rec struct {
				Session   string          `json:"session"`
				Tool      string          `json:"tool"`
				Arguments json.RawMessage `json:"arguments"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("record: %v: %s", err, line)
			}
			var args struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(rec.Arguments, &args)
			seen[args.Message]++
			sessions[rec.Session] = true
		}
	}
	if len(sessions) != 1 {
		t.Errorf("the calls are recorded under %d session ids, want 1", len(sessions))
	}
	for i := 1; i <= calls; i++ {
		if n := seen[fmt.Sprintf("m%d", i)]; n != 1 {
			t.Errorf("call %d recorded %d times", i, n)
		}
	}
	if len(seen) != calls {
		t.Errorf("%d distinct calls recorded, want %d", len(seen), calls)
	}
}

// openerOf is the replica that opened the session: the one whose log
// does not say it resumed it.
func openerOf(t *testing.T, replicas []*replica) int {
	t.Helper()
	for i, r := range replicas {
		if !strings.Contains(r.log.String(), "resumed on this replica") {
			return i
		}
	}
	t.Fatal("every replica says it resumed the session")
	return -1
}
