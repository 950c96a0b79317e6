package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// Retries across replicas. A stateless client (protocol 2026-07-28) needs
// no sticky routing, but a call waiting for its client's input lives on
// one replica: its pooled upstream session holds the server's pending
// elicitation or sampling request (mrtr.go). With Options.AdvertiseURL set
// (each replica's own URL, as the other replicas reach it) the
// requestState a replica seals names it, and a replica that gets a retry
// whose state names another replica forwards the retry there:
//   - the client never sees a replica's address: it is inside the sealed
//     state (AES-GCM under the replicas' shared key);
//   - the forward is the client's request, byte for byte, with its
//     headers (its credentials among them: the replica holding the call
//     verifies them again and governs the retry as any retry), and one
//     header of the gateway's, Mcpgov-Replica-Forward, signed with
//     HMAC-SHA256 under a key derived from the replicas' SessionKey over
//     the method, the path, a digest of the body, a digest of the
//     caller's credentials, the client's address, the gateway's URL as
//     the client reached it and an expiry 30 s on. The credential
//     headers go as the client sent them even when its Connection header
//     names them (hop-by-hop to a proxy, not to a forward), and the
//     digest signed is that of the headers sent;
//   - a replica refuses a forward whose signature is not the replicas' as
//     a failed authentication of its sender; one that a replica signed
//     but whose expiry, method, path, body or credentials do not match,
//     or that is not a retry, is refused without counting against the
//     sender's address (the replica's: a client must not be able to get
//     its forwards refused wholesale), logged and counted in the metrics;
//   - the holding replica's answers name the gateway's URL as the client
//     reached it (its 401 challenge), never a replica's address;
//   - the client address the receiving replica uses (the limit on failed
//     authentications, the records of refused calls) is the one the
//     forwarding replica saw, taken from the signed header only;
//   - a forwarded retry is never forwarded again: its state must name
//     the replica that receives it;
//   - the answer (JSON or an event stream) goes back to the client as it
//     comes, byte for byte, flushed as it is written;
//   - a replica that drains still takes a forwarded retry of a call it
//     holds, and its drain waits for such calls (ops.go); one that does
//     not answer (stopped, unreachable) or answers 503 (its drain is over
//     and it no longer holds the call, or it restarted and is not serving
//     yet) lost the call with it: the client gets an error saying so,
//     recorded as a refused retry; a replica that restarted since says
//     the same (the state names the process too);
//   - replicas reach each other directly, never through an HTTP proxy of
//     the environment; over https the peer's certificate is checked
//     against Options.ReplicaRoots, and the forwarding replica presents
//     Options.ReplicaCert as its client certificate (mutual TLS): a
//     replica's TLS listener asks for one without requiring it
//     (ReplicaClientAuth: ordinary clients present none), and a forward
//     that came over https without a verified one is refused, before its
//     signature is looked at, and not counted as a failed authentication
//     of any address (a replica with a wrong certificate must not get its
//     address blocked). The HMAC proves the key; the certificate keeps
//     that key alone from being enough over a network. Over plain http
//     (loopback trials) the HMAC is all there is.
//
// Only a replica can seal a state, so a client cannot make one forward
// anywhere else. Without AdvertiseURL a retry that reaches another
// replica gets an error naming the setting (today's behaviour).

// headerForward carries a replica's signed forward of a retry.
const headerForward = "Mcpgov-Replica-Forward"

// forwardPrefix starts the value of headerForward (its format's version).
const forwardPrefix = "v1."

// forwardTTL is how long a forward's signature is good; forwardSkew is
// how far the replicas' clocks may differ.
const (
	forwardTTL  = 30 * time.Second
	forwardSkew = time.Minute
)

// forwardClaims is what a forward's signed header says.
type forwardClaims struct {
	Method string `json:"m"`
	Path   string `json:"p"`           // escaped
	Body   string `json:"b"`           // hex SHA-256 of the body
	Auth   string `json:"a"`           // hex SHA-256 of the caller's credential headers
	Addr   string `json:"ip"`          // the client's address at the forwarding replica
	Base   string `json:"u,omitempty"` // the gateway's URL as the client reached it
	Exp    int64  `json:"x"`           // Unix milliseconds
}

// credentialHeaders are the headers with the caller's credentials, bound
// to a forward's signature.
var credentialHeaders = []string{"Authorization", "X-Mcpgov-Mcp-Headers"}

// replicas is what a Handler keeps to forward retries and to take
// forwards.
type replicas struct {
	instance  string // names this process in the states it seals
	key       []byte // signs and checks forwards; nil without SessionKey
	transport *http.Transport
}

type forwardKey struct{}

// forwardInfo is what an accepted forward told about its request, and
// its message, parsed when the forward was checked (post takes it from
// there rather than parse it again).
type forwardInfo struct {
	addr, base string
	msg        *rpc.Message
}

// forwardOf returns what the forward that brought r said, if one did.
func forwardOf(r *http.Request) (forwardInfo, bool) {
	f, ok := r.Context().Value(forwardKey{}).(forwardInfo)
	return f, ok
}

// ParseAdvertiseURL checks a replica's advertised URL (scheme, host and
// optional port; nothing else) and returns it normalized, as states name
// it.
func ParseAdvertiseURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the text, which may hold a password
		}
		return "", fmt.Errorf("not a URL (%v): want an http:// or https:// URL, such as http://10.0.0.7:8080", err)
	}
	shown := u.Redacted()
	scheme := strings.ToLower(u.Scheme)
	switch {
	case u.User != nil:
		return "", fmt.Errorf("%q holds credentials: the replicas authenticate each other with their shared key; remove them", shown)
	case scheme != "http" && scheme != "https":
		return "", fmt.Errorf("%q: want an http:// or https:// URL, such as http://10.0.0.7:8080", shown)
	case u.Hostname() == "":
		return "", fmt.Errorf("%q names no host", shown)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("%q has a query or fragment: give the scheme, host and port only", shown)
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("%q has a path: give the scheme, host and port only (the endpoints' paths are added)", shown)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: invalid port %q", shown, port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("%q: empty port", shown)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.IsUnspecified() {
		return "", fmt.Errorf("%q is an address to listen on, not one the other replicas can reach; give this replica's own address or name", shown)
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}

// initReplicas prepares forwarding; an AdvertiseURL that is not valid,
// or one without the SessionKey the replicas share, is an error.
func (h *Handler) initReplicas() error {
	h.replicas.instance = randomHex(8)
	if len(h.opts.SessionKey) > 0 {
		k := sha256.Sum256(append([]byte("mcpgov replica forward\x00"), h.opts.SessionKey...))
		h.replicas.key = k[:]
	}
	if h.opts.AdvertiseURL != "" {
		u, err := ParseAdvertiseURL(h.opts.AdvertiseURL)
		if err != nil {
			return fmt.Errorf("gateway: advertise URL %v", err)
		}
		if len(h.opts.SessionKey) == 0 {
			return errors.New("gateway: an advertise URL needs the SessionKey the replicas share: they sign their forwards with it")
		}
		h.opts.AdvertiseURL = u
	}
	// Replicas reach each other directly (no HTTP proxy from the
	// environment), over https checking the peer's certificate against
	// ReplicaRoots; a call may take minutes before its first byte, so
	// only the dial and the TLS handshake are bounded.
	clientTLS := &tls.Config{RootCAs: h.opts.ReplicaRoots, MinVersion: tls.VersionTLS12}
	if c := h.opts.ReplicaCert; c != nil {
		if err := CheckReplicaCert(c); err != nil {
			return fmt.Errorf("gateway: %v", err)
		}
		clientTLS.Certificates = []tls.Certificate{*c}
	}
	h.replicas.transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     clientTLS,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return nil
}

// CheckReplicaCert refuses a replica certificate whose leaf does not
// allow client authentication: the other replicas' listeners would fail
// every handshake of a forward presenting it ("bad certificate"), and
// each retry would be lost.
func CheckReplicaCert(c *tls.Certificate) error {
	leaf := c.Leaf
	if leaf == nil {
		if len(c.Certificate) == 0 {
			return errors.New("the replica certificate holds no certificate")
		}
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("the replica certificate does not parse: %v", err)
		}
	}
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return nil // no extended key usage: any usage
	}
	if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil
	}
	return errors.New("the replica certificate does not allow client authentication (no clientAuth extended key usage), and replicas present it to each other when they forward retries")
}

// ReplicaClientAuth makes a replica's TLS listener ask for a client
// certificate without requiring one (ordinary clients present none), and
// verify one given against cas: the issuers of the replicas'
// certificates. acceptForward refuses a forward over https whose
// connection brought no certificate verified so.
func ReplicaClientAuth(cfg *tls.Config, cas *x509.CertPool) {
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.ClientCAs = cas
}

// retryElsewhere serves a retry whose requestState names another replica
// (true), by forwarding it there; bad answers and records a refusal. A
// state that names this replica, or none, is served here (false).
func (h *Handler) retryElsewhere(w http.ResponseWriter, r *http.Request, m *rpc.Message, st sealedState, bad func(int, string)) bool {
	if st.Replica == "" || st.Replica == h.opts.AdvertiseURL {
		return false
	}
	if _, ok := forwardOf(r); ok {
		h.warnf("a retry forwarded to this replica (%s) names another (%s): not forwarded again; check that each replica's advertise_url is its own", h.opts.AdvertiseURL, st.Replica)
		bad(http.StatusBadRequest, "this retry was forwarded to a replica of the gateway that does not hold its call, and a forwarded retry is not forwarded again; send the request again without requestState")
		return true
	}
	if h.replicas.key == nil {
		bad(http.StatusBadRequest, "the call this requestState continues waits on another replica of the gateway, and this one shares no key with it to forward the retry; send the request again without requestState")
		return true
	}
	target, err := url.Parse(st.Replica + st.Endpoint)
	if err != nil {
		bad(http.StatusBadRequest, errForgedState.Error())
		return true
	}
	body := m.Raw
	// Signed once, over the credential headers the client sent: the
	// forward carries exactly those (Rewrite), so the digest is the one of
	// the headers sent.
	claims := forwardClaims{Method: http.MethodPost, Path: target.EscapedPath(), Body: digestHex(body), Auth: credentialDigest(r.Header),
		Addr: h.clientAddr(r), Base: h.baseURL(r), Exp: time.Now().Add(forwardTTL).UnixMilli()}
	signed, err := h.signForward(claims)
	if err != nil {
		bad(http.StatusInternalServerError, "the retry could not be forwarded to the replica holding its call: "+err.Error())
		return true
	}
	proxy := &httputil.ReverseProxy{
		Transport:     h.replicas.transport,
		FlushInterval: -1, // every write of the answer goes on at once
		ErrorLog:      log.New(h.opts.Diag, "mcpgov: warning: forwarding a retry: ", 0),
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			pr.Out.URL = &u
			pr.Out.Host = ""
			pr.Out.Body = io.NopCloser(bytes.NewReader(body))
			pr.Out.ContentLength = int64(len(body))
			pr.Out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			// This replica checked the Origin against its own Host; the
			// other would check it against its advertised one.
			pr.Out.Header.Del("Origin")
			// The proxy removed the headers the client's Connection
			// header names: its credentials go on all the same (the
			// holding replica verifies them again), as the client sent
			// them, which is what the signature covers.
			for _, name := range credentialHeaders {
				if v := pr.In.Header.Values(name); len(v) > 0 {
					pr.Out.Header[http.CanonicalHeaderKey(name)] = slices.Clone(v)
				} else {
					pr.Out.Header.Del(name)
				}
			}
			pr.Out.Header.Set(headerForward, signed)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client closed its POST: the holding replica cancels the call
			}
			// Refused, timed out, or closed without an answer: the
			// call's upstream request and its pooled session are gone
			// with that replica either way; the log says which.
			h.opts.Metrics.forwarded("lost")
			h.warnf("the replica holding a call (%s) did not answer its client's retry: %v", st.Replica, err)
			bad(http.StatusBadRequest, "the call this requestState continues was lost with the replica of the gateway that held it (it stopped, or cannot be reached); send the request again without requestState to start the call over")
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode == http.StatusServiceUnavailable {
				// A draining replica takes the retries of the calls it
				// holds: this one holds it no more (its drain is over),
				// or restarted and is not serving yet. The call is lost
				// either way, and "retry on another instance" would only
				// come back here.
				return errReplicaUnavailable
			}
			h.opts.Metrics.forwarded("forwarded")
			return nil
		},
	}
	proxy.ServeHTTP(w, r)
	return true
}

// errReplicaUnavailable: the replica holding the call answered 503.
var errReplicaUnavailable = errors.New("it answered 503 (shutting down, or not serving yet)")

// callOver is why a retry whose state names this replica, or none, finds
// no call waiting for it.
func (h *Handler) callOver(st sealedState) string {
	if st.Replica != "" && st.Instance != h.replicas.instance {
		return "the call this requestState continues was lost when the replica of the gateway that held it restarted; send the request again without requestState to start it over"
	}
	msg := fmt.Sprintf("the call this requestState continues is over (answered, cancelled, not answered within %s, or its upstream session ended); send the request again without requestState", h.opts.InputTimeout)
	if st.Replica == "" && len(h.opts.SessionKey) > 0 {
		msg += ", or to the replica of the gateway that holds it (set [gateway] advertise_url, or --advertise-url, on every replica, and they forward such retries to the replica holding the call)"
	}
	return msg
}

// signForward signs claims into the value of headerForward.
func (h *Handler) signForward(c forwardClaims) (string, error) {
	payload, err := jsonv2.Marshal(c)
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	return forwardPrefix + body + "." + base64.RawURLEncoding.EncodeToString(h.forwardMAC(body)), nil
}

func (h *Handler) forwardMAC(body string) []byte {
	m := hmac.New(sha256.New, h.replicas.key)
	m.Write([]byte(forwardPrefix + body))
	return m.Sum(nil)
}

// acceptForward checks the forward r carries, when it carries one. A
// valid one returns r with what it says (its client address, the URL the
// client reached) and the body it signed; anything else is answered 403
// (429 for an address with too many failures) and recorded as a refused
// call when it is a tools/call. One whose signature is not the replicas'
// counts as a failed authentication of its sender; one a replica signed
// that does not match does not (the sender is a replica, and what failed
// came from its client): it is logged and counted in the metrics apart.
func (h *Handler) acceptForward(w http.ResponseWriter, r *http.Request, ep endpoint) (*http.Request, bool) {
	values := r.Header.Values(headerForward)
	if len(values) == 0 {
		return r, true
	}
	peer := h.clientAddr(r)
	if wait := h.failures.blocked(peer, h.now()); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+1)))
		// Not the address: here it is the sender's, perhaps a replica's.
		httpError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed authentications from this address; retry in %s", wait.Round(time.Second)))
		return nil, false
	}
	var body []byte
	signed := false    // by a replica: the claims were read
	noReplica := false // over https without a verified replica certificate
	var c forwardClaims
	refuse := func(why string) (*http.Request, bool) {
		a := &h.opts.Auth
		h.opts.Metrics.forwarded("refused")
		addr := peer
		switch {
		case signed:
			if ip, err := netip.ParseAddr(c.Addr); err == nil {
				addr = ip.String()
			}
			h.warnf("a retry forwarded by the replica at %s (client %s) was refused: %s; not counted as a failed authentication of either address", peer, addr, why)
		case noReplica:
			h.warnf("a request from %s that says it is forwarded by a replica was refused: %s; not counted as a failed authentication", peer, why)
		default:
			h.failures.add(peer, h.now(), a.MaxFailures, a.FailureWindow)
			h.warnf("a request from %s that says it is forwarded by a replica was refused: %s", peer, why)
		}
		reason := "forwarded request refused: " + why
		if body == nil && !signed && r.Method == http.MethodPost {
			// Refused before its body was read: read now, for the record
			// of a refused tools/call (the sender's failure counts either
			// way).
			body, _ = io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
		}
		m, err := rpc.Parse(body)
		if err == nil && m.Method == "tools/call" && a.Refused != nil {
			var p struct {
				Name string `json:"name"`
			}
			_ = jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false))
			a.Refused(r.Context(), AuthRefusal{Endpoint: ep.path, Server: ep.id, Method: m.Method, Tool: p.Name, Reason: reason, Addr: addr})
		}
		var id []byte
		if m != nil {
			id = m.ID
		}
		rpcError(w, http.StatusForbidden, id, jsonrpc.CodeInvalidRequest, "mcpgov: "+reason)
		return nil, false
	}
	if h.replicas.key == nil {
		return refuse("this gateway shares no key with other replicas (no store)")
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) == 0 {
		noReplica = true
		return refuse("it came over https without a verified replica certificate (mutual TLS): each replica presents its replica certificate, issued by one of the certificates in the others' replica certificate file (replica_cert, else tls_cert), which must allow client authentication")
	}
	if len(values) > 1 {
		return refuse(fmt.Sprintf("%s is given %d times", headerForward, len(values)))
	}
	claims, err := h.verifyForward(values[0])
	if err != nil {
		return refuse(err.Error())
	}
	c, signed = claims, true
	// Read once the signature is known to be a replica's: a body this
	// replica cannot read (past its MaxBody, when the replicas' limits
	// differ; cut short) is then not held against the forwarding
	// replica's address.
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
		if err != nil {
			return refuse("its body could not be read: " + err.Error())
		}
		body = b
	}
	now := time.Now()
	switch {
	case now.UnixMilli() > c.Exp:
		return refuse(fmt.Sprintf("its signature expired at %s", time.UnixMilli(c.Exp).UTC().Format(time.RFC3339)))
	case time.UnixMilli(c.Exp).After(now.Add(forwardTTL + forwardSkew)):
		return refuse("its signature expires too late: the replicas' clocks differ by more than a minute")
	case c.Method != r.Method || c.Path != r.URL.EscapedPath():
		return refuse(fmt.Sprintf("it was signed for %s %s, not %s %s", c.Method, c.Path, r.Method, r.URL.EscapedPath()))
	case !hmac.Equal([]byte(c.Body), []byte(digestHex(body))):
		return refuse("its body is not the one signed")
	case !hmac.Equal([]byte(c.Auth), []byte(credentialDigest(r.Header))):
		return refuse("its credentials are not the ones signed")
	}
	addr, err := netip.ParseAddr(c.Addr)
	if err != nil {
		return refuse(fmt.Sprintf("its client address %q is not an IP address", c.Addr))
	}
	m, err := rpc.Parse(body)
	if err != nil || !isRetry(m) {
		return refuse("only a retry of a call waiting for its client's input is forwarded")
	}
	r = r.WithContext(context.WithValue(r.Context(), forwardKey{}, forwardInfo{addr: addr.String(), base: c.Base, msg: m}))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r, true
}

// verifyForward checks a headerForward value's signature and returns its
// claims.
func (h *Handler) verifyForward(v string) (forwardClaims, error) {
	var c forwardClaims
	bad := errors.New("its signature is not the replicas' (a replica signs forwards with the key the replicas share)")
	rest, ok := strings.CutPrefix(v, forwardPrefix)
	if !ok {
		return c, bad
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return c, bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.forwardMAC(body)) {
		return c, bad
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return c, bad
	}
	if err := jsonv2.Unmarshal(payload, &c, jsonv2.RejectUnknownMembers(true)); err != nil {
		return c, fmt.Errorf("its claims do not read: %v", err)
	}
	return c, nil
}

func digestHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// credentialDigest digests the caller's credential headers, each value
// on its own.
func credentialDigest(hdr http.Header) string {
	m := sha256.New()
	for _, name := range credentialHeaders {
		for _, v := range hdr.Values(name) {
			m.Write([]byte(name + "\x00" + v + "\x00"))
		}
		m.Write([]byte{0xff})
	}
	return hex.EncodeToString(m.Sum(nil))
}
