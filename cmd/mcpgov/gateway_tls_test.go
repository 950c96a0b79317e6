package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir and returns their paths and the pool that trusts it; its
// extended key usages are those given, serverAuth when none is.
func selfSigned(t *testing.T, dir string, usage ...x509.ExtKeyUsage) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	if len(usage) == 0 {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mcpgov gateway test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "gateway.crt"), filepath.Join(dir, "gateway.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// gatewayProc is a running `mcpgov gateway serve`.
type gatewayProc struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	copied chan struct{} // closed once its stderr is read to the end
}

// stderr is what the gateway wrote so far.
func (g *gatewayProc) stderr() string { return g.log.String() }

// runGateway starts `mcpgov gateway serve args…` and waits for its
// "gateway serving" line.
func runGateway(t *testing.T, env []string, args ...string) *gatewayProc {
	t.Helper()
	cmd := exec.Command("mcpgov", append([]string{"gateway", "serve"}, args...)...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{cmd: cmd, log: &syncBuffer{}, copied: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(g.log, sc.Text())
			if testing.Verbose() {
				fmt.Fprintln(os.Stderr, "gateway:", sc.Text())
			}
		}
		close(g.copied)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-g.copied
		cmd.Wait()
	})
	await.Until(t, "the gateway serving", func() bool {
		select {
		case <-g.copied:
			t.Fatalf("the gateway exited:\n%s", g.stderr())
		default:
		}
		return strings.Contains(g.stderr(), "gateway serving")
	})
	return g
}

// TestGatewayTLSAndConfig: the [gateway] table configures the gateway
// (TLS pair, body limit, origins) and a flag overrides its key (--listen
// over listen); a real client calls a tool over HTTPS with a self-signed
// certificate made here, and plain HTTP is not served.
func TestGatewayTLSAndConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	bundle := writeBundle(t)
	addr := freeAddr(t)
	config := filepath.Join(dir, "config.toml")
	writeFile(t, config, fmt.Sprintf(`[gateway]
listen = "127.0.0.1:1"
allowed_origins = ["https://app.example.com"]
max_body = 2048
max_sessions = 5
idle_timeout = "10m"
tls_cert = %q
tls_key = "gateway.key"
`, certFile))
	_ = keyFile // relative to the config file
	stderr := runGateway(t, sandboxEnv(t, "MCPGOV_CONFIG="+config), "--bundle", bundle, "--listen", addr, "--allow-anonymous").stderr
	if !strings.Contains(stderr(), "gateway serving https://"+addr) {
		t.Fatalf("not serving https on the --listen address:\n%s", stderr())
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + addr
	ctx := await.Context(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "tls", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/servers/fake/mcp", HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("connect over https: %v\n%s", err, stderr())
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 2}})
	if err != nil || res.IsError {
		t.Fatalf("add over https: %v %+v", err, res)
	}

	post := func(origin, body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/servers/fake/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"},"pad":"` + strings.Repeat("x", 3000) + `"}}`
	if status, body := post("", init); status != 413 || !strings.Contains(body, "2048 bytes") {
		t.Errorf("a body over max_body: %d %s", status, body)
	}
	if status, body := post("https://evil.example.com", init[:100]+`"}}}`); status != 403 {
		t.Errorf("an Origin not in allowed_origins: %d %s", status, body)
	}
	// Plain HTTP is not served on the TLS port.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Errorf("plain http served on the TLS port")
		}
		resp.Body.Close()
	}
}

// TestGatewayConfigErrors: a bad [gateway] key or TLS pair stops the
// gateway before it listens, naming the key or file.
func TestGatewayConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bundle := writeBundle(t)
	for _, c := range []struct{ name, config, want string }{
		{"unknown key", "[gateway]\nlisten_addr = \"x\"\n", `unknown key "gateway.listen_addr"`},
		{"bad idle_timeout", "[gateway]\nidle_timeout = \"soon\"\n", `invalid [gateway] idle_timeout "soon"`},
		{"half a TLS pair", "[gateway]\ntls_cert = \"a.crt\"\n", "sets only one of tls_cert and tls_key"},
		{"missing TLS files", "[gateway]\ntls_cert = \"a.crt\"\ntls_key = \"a.key\"\n", "load the TLS certificate"},
		{"bad trusted proxy", "[gateway]\ntrusted_proxies = [\"10.0.0.0/8\", \"lb.internal\"]\n",
			`invalid [gateway] trusted_proxies entry: "lb.internal" is neither a CIDR prefix (10.0.0.0/8) nor an IP address`},
	} {
		t.Run(c.name, func(t *testing.T) {
			config := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".toml")
			writeFile(t, config, c.config)
			cmd := exec.Command("mcpgov", "gateway", "serve", "--bundle", bundle, "--listen", freeAddr(t), "--allow-anonymous")
			cmd.Env = sandboxEnv(t, "MCPGOV_CONFIG="+config)
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(string(out), c.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit 1 and %q", code, out, c.want)
			}
		})
	}
	out, err := exec.Command("mcpgov", "gateway", "serve", "--tls-cert", "a.crt", "--allow-anonymous").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--tls-cert and --tls-key go together") {
		t.Errorf("--tls-cert alone: %v\n%s", err, out)
	}
	cmd := exec.Command("mcpgov", "gateway", "serve", "--trusted-proxy", "10.0.0.0/33", "--allow-anonymous")
	out, err = cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), `invalid --trusted-proxy: "10.0.0.0/33" is neither a CIDR prefix`) {
		t.Errorf("--trusted-proxy 10.0.0.0/33: %v\n%s", err, out)
	}
}
