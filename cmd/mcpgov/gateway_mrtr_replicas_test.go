package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
	"github.com/mcpgov/mcpgov/shim/gateway/gatewaytest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// statelessPost posts one request of protocol 2026-07-28 declaring
// elicitation, with the headers that mirror it, and extra headers in
// pairs.
func statelessPost(t *testing.T, endpoint string, id int, params string, extra ...string) (int, string) {
	t.Helper()
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw-e2e","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}`
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{%s,%s}}`, id, params, meta)
	h := http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"tools/call"}, "Mcp-Name": {"trigger-elicitation-request"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	status, text, _ := rawPost(t, endpoint, "", body, h)
	return status, text
}

// TestGatewayRetryOnAnotherReplica: two real `mcpgov gateway serve`
// replicas sharing a real Redis, each with --advertise-url. A go-sdk
// client (protocol 2026-07-28) with an elicitation handler calls
// server-everything's trigger-elicitation-request; the call starts on
// replica A, whose server asks for input, and the client's retry goes to
// replica B, which forwards it to A: the tool's answer carries what the
// handler returned, and A records the call once (B none). Behind nginx
// round robin a second client's four calls are answered, each retry
// forwarded by the replica it landed on. Then a call
// waiting on A gets a forward that A's key did not sign (refused, 403),
// A is killed, and the retry through B gets the error that the call was
// lost with its replica, recorded by B; once A is back at its address,
// the retry reaches it and it says the call was lost when it restarted.
func TestGatewayRetryOnAnotherReplica(t *testing.T) {
	bundle := everythingBundle(t)
	redis := statetest.Start(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startReplicaAt(t, addrA, bundle, redis.URL(), "--advertise-url", "http://"+addrA)
	b := startReplicaAt(t, addrB, bundle, redis.URL(), "--advertise-url", "http://"+addrB)
	await.Until(t, "both replicas serving and saying what they advertise", func() bool {
		return strings.Contains(a.log.String(), "advertised to the other replicas as http://"+addrA) &&
			strings.Contains(b.log.String(), "advertised to the other replicas as http://"+addrB)
	})
	const path = "/servers/everything/mcp"
	ctx := await.Context(t)

	split := &gatewaytest.RetrySplit{Retries: "http://" + addrB, Others: "http://" + addrA}
	client := gatewaytest.AcceptingClient("replicas-e2e", map[string]any{"name": "Grace Hopper", "check": true})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addrA + path, HTTPClient: &http.Client{Transport: split}}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, a.log.String())
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q, want 2026-07-28", v)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-elicitation-request", Arguments: map[string]any{}})
	if err != nil || res.IsError || !strings.Contains(textOf(res), "Grace Hopper") || !strings.Contains(textOf(res), "accept") {
		t.Fatalf("trigger-elicitation-request retried on B: %+v %v\nA:\n%s\nB:\n%s", res, err, a.log.String(), b.log.String())
	}
	if n := split.Retried(); n != 1 {
		t.Fatalf("%d retries went to B, want 1", n)
	}
	await.Until(t, "the call recorded on A", func() bool { return a.toolCalls("trigger-elicitation-request") == 1 })
	if n := b.toolCalls("trigger-elicitation-request"); n != 0 {
		t.Errorf("B recorded the call %d times, want 0: it ran on A", n)
	}

	// Behind nginx round robin (no affinity), a second client's calls
	// and their retries land wherever the balancer sends them: each is
	// answered, the replicas forwarding the retries that land away from
	// their call.
	lb := startNginx(t, []string{addrA, addrB})
	rr, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: lb + path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	for i := range 4 {
		res, err := rr.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-elicitation-request", Arguments: map[string]any{}})
		if err != nil || res.IsError || !strings.Contains(textOf(res), "Grace Hopper") {
			t.Fatalf("call %d through nginx: %+v %v\nA:\n%s\nB:\n%s", i, res, err, a.log.String(), b.log.String())
		}
	}
	forwards := 0
	for _, addr := range []string{addrA, addrB} {
		_, body, _ := rawGet(t, "http://"+addr+"/metrics")
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, `mcpgov_gateway_retry_forwards_total{outcome="forwarded"} `); ok {
				n, _ := strconv.Atoi(v)
				forwards += n
			}
		}
	}
	// A call and its retry are two requests in a row: round robin
	// sends every retry to the replica that did not get its call.
	if forwards != 5 {
		t.Errorf("the replicas forwarded %d retries in all, want 5: the first client's, and each of the 4 behind round robin", forwards)
	}

	// A call waiting on A; a forward signed with another key is refused
	// and consumes nothing.
	status, text := statelessPost(t, "http://"+addrA+path, 10, `"name":"trigger-elicitation-request","arguments":{}`)
	var asked struct {
		Result struct {
			ResultType    string                     `json:"resultType"`
			InputRequests map[string]json.RawMessage `json:"inputRequests"`
			RequestState  string                     `json:"requestState"`
		} `json:"result"`
	}
	if status != 200 || json.Unmarshal([]byte(text), &asked) != nil || asked.Result.ResultType != "input_required" || len(asked.Result.InputRequests) != 1 {
		t.Fatalf("the call on A: %d %s", status, text)
	}
	var key string
	for k := range asked.Result.InputRequests {
		key = k
	}
	q, _ := json.Marshal(asked.Result.RequestState)
	retry := fmt.Sprintf(`"name":"trigger-elicitation-request","arguments":{},"inputResponses":{%q:{"action":"accept","content":{"name":"Ada","check":true}}},"requestState":%s`, key, q)
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"m":"POST","p":"/servers/everything/mcp","b":"00","a":"00","ip":"198.51.100.1","x":9999999999999}`))
	forged := "v1." + payload + "." + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	status, text = statelessPost(t, "http://"+addrA+path, 11, retry, "Mcpgov-Replica-Forward", forged)
	if status != 403 || !strings.Contains(text, "forwarded request refused: its signature is not the replicas'") {
		t.Fatalf("forged forward to A: %d %s", status, text)
	}
	await.Until(t, "A's log saying it refused the forged forward", func() bool {
		return strings.Contains(a.log.String(), "says it is forwarded by a replica was refused: its signature is not the replicas'")
	})

	// A is gone before the retry: B says the call was lost with it.
	a.kill9(t)
	await.Until(t, "replica A gone", func() bool {
		c, err := net.Dial("tcp", addrA)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	status, text = statelessPost(t, "http://"+addrB+path, 12, retry)
	if status != 400 || !strings.Contains(text, `"code":-32602`) ||
		!strings.Contains(text, "the call this requestState continues was lost with the replica of the gateway that held it (it stopped, or cannot be reached); send the request again without requestState") {
		t.Fatalf("retry on B after A was killed: %d %s", status, text)
	}
	if strings.Contains(text, addrA) {
		t.Errorf("the client is shown a replica's address: %s", text)
	}
	await.Until(t, "B's record of the lost retry", func() bool {
		out, _ := exec.Command("mcpgov", "audit", "query", "--dir", b.audit, "--format", "jsonl").CombinedOutput()
		return strings.Contains(string(out), "retry refused: the call this requestState continues was lost with the replica")
	})

	// A comes back at the same address: the retry reaches it through B,
	// and it says the call was lost when it restarted.
	a2 := startReplicaAt(t, addrA, bundle, redis.URL(), "--advertise-url", "http://"+addrA)
	await.Until(t, "A serving again", func() bool { return strings.Contains(a2.log.String(), "advertised to the other replicas") })
	status, text = statelessPost(t, "http://"+addrB+path, 13, retry)
	if status != 400 || !strings.Contains(text, "the call this requestState continues was lost when the replica of the gateway that held it restarted; send the request again without requestState") {
		t.Fatalf("retry on B after A restarted: %d %s", status, text)
	}
}

// everythingBundle is a bundle serving server-everything (stdio) as
// "everything"; the test skips without it.
func everythingBundle(t *testing.T) string {
	t.Helper()
	return catalogBundle(t, fmt.Sprintf(`[catalog]
name = "mrtr-replicas"
mode = "enforce"
[servers.everything]
status = "approved"
[servers.everything.launch]
command = %q
args = ["stdio"]
`, needEverything(t)))
}

// TestGatewayRetryOnAnotherReplicaTLS: two replicas serving HTTPS with
// one self-signed certificate (for server and client authentication),
// each advertising its https:// URL: a go-sdk client's retry sent to B
// is forwarded to A over mutual TLS, each side's certificate checked
// against its own tls_cert, and answered.
func TestGatewayRetryOnAnotherReplicaTLS(t *testing.T) {
	bundle := everythingBundle(t)
	redis := statetest.Start(t)
	certFile, keyFile, pool := selfSigned(t, t.TempDir(), x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	retryOnAnotherReplicaTLS(t, bundle, redis.URL(), pool, "--tls-cert", certFile, "--tls-key", keyFile)
}

// retryOnAnotherReplicaTLS starts two replicas serving HTTPS with
// tlsArgs, each advertising its https:// URL, and checks that a go-sdk
// client's retry sent to B is forwarded to A and answered; pool trusts
// their serving certificate.
func retryOnAnotherReplicaTLS(t *testing.T, bundle, store string, pool *x509.CertPool, tlsArgs ...string) {
	t.Helper()
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startReplicaAt(t, addrA, bundle, store, append(slices.Clone(tlsArgs), "--advertise-url", "https://"+addrA)...)
	b := startReplicaAt(t, addrB, bundle, store, append(slices.Clone(tlsArgs), "--advertise-url", "https://"+addrB)...)
	await.Until(t, "both replicas serving HTTPS", func() bool {
		return strings.Contains(a.log.String(), "advertised to the other replicas as https://"+addrA) &&
			strings.Contains(b.log.String(), "advertised to the other replicas as https://"+addrB)
	})
	ctx := await.Context(t)
	split := &gatewaytest.RetrySplit{Retries: "https://" + addrB, Others: "https://" + addrA,
		Base: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	client := gatewaytest.AcceptingClient("replicas-tls-e2e", map[string]any{"name": "Ada Lovelace", "check": true})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "https://" + addrA + "/servers/everything/mcp", HTTPClient: &http.Client{Transport: split}}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, a.log.String())
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-elicitation-request", Arguments: map[string]any{}})
	if err != nil || res.IsError || !strings.Contains(textOf(res), "Ada Lovelace") {
		t.Fatalf("trigger-elicitation-request retried on B over TLS: %+v %v\nA:\n%s\nB:\n%s", res, err, a.log.String(), b.log.String())
	}
	if n := split.Retried(); n != 1 {
		t.Fatalf("%d retries went to B, want 1", n)
	}
	await.Until(t, "the call recorded on A", func() bool { return a.toolCalls("trigger-elicitation-request") == 1 })
}

// TestGatewayAdvertiseURLInvalid: an advertised URL that is not one the
// other replicas could use is refused before the gateway starts, by flag
// (usage, exit 2) and by config (naming the key and the file), and so is
// one without the store the replicas share.
func TestGatewayAdvertiseURLInvalid(t *testing.T) {
	bundle := writeBundle(t)
	run := func(env []string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command("mcpgov", append([]string{"gateway", "serve", "--bundle", bundle, "--allow-anonymous", "--listen", freeAddr(t)}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("mcpgov gateway serve %v: %v\n%s", args, err, out)
		}
		return ee.ExitCode(), string(out)
	}
	for _, tc := range []struct{ value, want string }{
		{"http://0.0.0.0:8080", `invalid --advertise-url: "http://0.0.0.0:8080" is an address to listen on, not one the other replicas can reach`},
		{"10.0.0.7:8080", `invalid --advertise-url: not a URL (first path segment in URL cannot contain colon): want an http:// or https:// URL`},
		{"http://10.0.0.7:8080/mcp", `has a path: give the scheme, host and port only`},
		{"http://admin:pw@10.0.0.7:8080", `holds credentials`},
	} {
		code, out := run(sandboxEnv(t), "--advertise-url", tc.value)
		if code != 2 || !strings.Contains(out, tc.want) || strings.Contains(out, ":pw@") {
			t.Errorf("--advertise-url %s: exit %d\n%s\nwant exit 2 and %q", tc.value, code, out, tc.want)
		}
	}
	code, out := run(sandboxEnv(t), "--advertise-url", "http://10.0.0.7:8080")
	if code != 1 || !strings.Contains(out, "advertise URL http://10.0.0.7:8080 is set, but no store is shared with other replicas") || !strings.Contains(out, "hint: name the replicas' store with --store") {
		t.Errorf("--advertise-url without a store: exit %d\n%s", code, out)
	}
	config := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, config, "[gateway]\nadvertise_url = \"https://10.0.0.7:8443\"\nstore = \"redis://127.0.0.1:1/0\"\n")
	code, out = run(sandboxEnv(t, "MCPGOV_CONFIG="+config))
	if code != 1 || !strings.Contains(out, "advertise URL https://10.0.0.7:8443 is https://, but this replica serves plain HTTP (no tls_cert)") {
		t.Errorf("https advertised without TLS: exit %d\n%s", code, out)
	}
	writeFile(t, config, "[gateway]\nadvertise_url = \"ftp://10.0.0.7\"\n")
	code, out = run(sandboxEnv(t, "MCPGOV_CONFIG="+config))
	if code != 1 || !strings.Contains(out, "config "+config+": invalid [gateway] advertise_url: \"ftp://10.0.0.7\": want an http:// or https:// URL") {
		t.Errorf("advertise_url ftp://: exit %d\n%s", code, out)
	}
}

// rawGet gets url; it returns the status, the body and the headers.
func rawGet(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(await.Context(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}
