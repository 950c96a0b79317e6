package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/logbuf"
)

// testCA issues the test replicas' client certificates.
type testCA struct {
	cert        *x509.Certificate
	key         *ecdsa.PrivateKey
	pool        *x509.CertPool
	replicaCert *tls.Certificate // for client and server authentication
}

// testReplicaCA is the CA of the replicas' certificates, which the test
// replicas serving HTTPS verify client certificates against.
var testReplicaCA = sync.OnceValue(func() *testCA { return newTestCA("mcpgov test replicas") })

func newTestCA(name string) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	ca := &testCA{cert: cert, key: key, pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	ca.replicaCert = ca.issue(x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth)
	return ca
}

// issue makes a certificate for 127.0.0.1 with the extended key usages
// given.
func (ca *testCA) issue(usage ...x509.ExtKeyUsage) *tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "replica"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestRetryForwardedOverMutualTLS: replicas serving HTTPS ask for a
// client certificate. A forward from a replica presenting one the
// replicas' CA issued is served; one signed with the replicas' key from
// a replica presenting none, or one another CA issued, is refused 403
// with the reason, logged and recorded, and not counted as a failed
// authentication (A allows a single one); an ordinary client presenting
// no certificate is still served, and the call still completes.
func TestRetryForwardedOverMutualTLS(t *testing.T) {
	up := streamUpstream(t, nil)
	var aLog logbuf.Buffer
	metrics := gateway.NewMetrics()
	a := startTestReplica(t, up, "self-tls", gateway.Options{Diag: &aLog, Metrics: metrics, Auth: gateway.AuthOptions{MaxFailures: 1, FailureWindow: time.Hour}})
	roots := x509.NewCertPool()
	roots.AddCert(a.ts.Certificate())
	b := startTestReplica(t, up, "self-tls", gateway.Options{ReplicaRoots: roots, ReplicaCert: testReplicaCA().replicaCert})
	none := startTestReplica(t, up, "self-tls", gateway.Options{ReplicaRoots: roots})
	other := startTestReplica(t, up, "self-tls", gateway.Options{ReplicaRoots: roots, ReplicaCert: newTestCA("another CA").replicaCert})
	call := func(rp *testReplica, id int, params string) (int, rawAnswer) {
		t.Helper()
		meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}`
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{%s,%s}}`, id, params, meta)
		req, err := http.NewRequestWithContext(await.Context(t), http.MethodPost, rp.ts.URL+"/servers/asker/mcp", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json", "X-Test-User": "ann",
			"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "ask"} {
			req.Header.Set(k, v)
		}
		resp, err := rp.ts.Client().Do(req) // no client certificate
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans rawAnswer
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
			t.Fatalf("answer of %s: %d %v", rp.url, resp.StatusCode, err)
		}
		return resp.StatusCode, ans
	}
	status, ans := call(a, 1, `"name":"ask","arguments":{"greeting":"hi"}`)
	if status != 200 || ans.Result.ResultType != "input_required" || len(ans.Result.InputRequests) != 1 {
		t.Fatalf("ask on A from a client without a certificate: %d %+v %+v", status, ans.Error, ans.Result)
	}
	var key string
	for k := range ans.Result.InputRequests {
		key = k
	}
	state := ans.Result.RequestState

	for i, rp := range []*testReplica{none, other} {
		status, ans := call(rp, 2+i, retryParams(key, state, "Mal"))
		if status != http.StatusForbidden || ans.Error == nil || !strings.Contains(ans.Error.Message, "forwarded request refused: it came over https without a verified replica certificate") {
			t.Fatalf("forward %d without the replicas' certificate: %d %+v %+v", i, status, ans.Error, ans.Result)
		}
	}
	if got := strings.Count(aLog.String(), "without a verified replica certificate (mutual TLS)"); got != 2 {
		t.Errorf("A logged %d refusals without a replica certificate, want 2:\n%s", got, aLog.String())
	}
	if got := metricLine(t, metrics, `mcpgov_gateway_retry_forwards_total{outcome="refused"}`); got != "2" {
		t.Errorf("A counted %s refused forwards, want 2", got)
	}

	// Not counted against 127.0.0.1: A still serves its clients there,
	// and the forward with the replicas' certificate.
	status, ans = call(b, 4, retryParams(key, state, "Bo"))
	if status != 200 || ans.Error != nil || len(ans.Result.Content) != 1 || ans.Result.Content[0].Text != "hello Bo (accept)" {
		t.Fatalf("retry forwarded by B with the replicas' certificate: %d %+v %+v\n%s", status, ans.Error, ans.Result, aLog.String())
	}
	if status, ans := call(a, 5, `"name":"ask","arguments":{"greeting":"hi"}`); status != 200 || ans.Result.ResultType != "input_required" {
		t.Fatalf("ask on A after the refused forwards: %d %+v %+v", status, ans.Error, ans.Result)
	}
}

// TestReplicaCertWithoutClientAuth: a replica certificate that does not
// allow client authentication is refused when the gateway is made, not
// at each forward's handshake.
func TestReplicaCertWithoutClientAuth(t *testing.T) {
	ca := testReplicaCA()
	_, err := gateway.New(gateway.Options{Governance: approved("asker", "http://127.0.0.1:1"), Identify: headerUser, SessionKey: replicaKey,
		ReplicaCert: ca.issue(x509.ExtKeyUsageServerAuth)})
	if err == nil || !strings.Contains(err.Error(), "does not allow client authentication") {
		t.Fatalf("New with a serverAuth-only replica certificate: %v", err)
	}
	for _, usage := range [][]x509.ExtKeyUsage{{x509.ExtKeyUsageClientAuth}, nil} {
		if err := gateway.CheckReplicaCert(ca.issue(usage...)); err != nil {
			t.Errorf("replica certificate with usages %v: %v", usage, err)
		}
	}
}
