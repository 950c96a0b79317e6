package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/rpc"
)

// AuthOptions configure how the gateway asks for and limits
// authentication; Options.Identify decides who a request is.
type AuthOptions struct {
	// AuthorizationServers are the issuers named in the OAuth protected-
	// resource metadata (RFC 9728), where an MCP client that speaks MCP
	// authorization gets a token.
	AuthorizationServers []string
	// Scopes are the metadata's scopes_supported.
	Scopes []string
	// BaseURL is the gateway's public URL ("https://gw.example.com") when
	// it sits behind a proxy; else the request's own scheme and Host.
	BaseURL string
	// MaxFailures failed authentications from one client address within
	// FailureWindow get every further request from it 429 until the
	// window ends; 0 turns the limit off.
	MaxFailures   int
	FailureWindow time.Duration
	// Refused is told of each tools/call refused for want of a valid
	// identity, so that the attempt is recorded.
	Refused func(context.Context, AuthRefusal)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// TrustedProxies are the peers (load balancers, reverse proxies)
	// whose X-Forwarded-For is believed: for a request from one of them,
	// the client address (for MaxFailures and the records) is the
	// rightmost hop of X-Forwarded-For that is not itself trusted. From
	// any other peer the header is ignored: a client could write anything
	// there.
	TrustedProxies []netip.Prefix
}

// AuthRefusal is a call refused because its request was not
// authenticated.
type AuthRefusal struct {
	Endpoint string // the path
	Server   string // the server or virtual server id; "" for /mcp
	Method   string
	Tool     string
	Reason   string // why the identity was refused
	Addr     string // the client address
}

// metadataPath is RFC 9728's well-known path.
const metadataPath = "/.well-known/oauth-protected-resource"

type whoKey struct{}

// caller is the identity authenticate put in the request's context.
func caller(r *http.Request) audit.Identity {
	who, _ := r.Context().Value(whoKey{}).(audit.Identity)
	return who
}

// authenticate names the caller of r, or answers 401 (with a challenge
// that points at the resource metadata) or 429 (too many failures from
// the address) and returns nil.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, ep endpoint) *http.Request {
	a := &h.opts.Auth
	addr := h.clientAddr(r)
	if wait := h.failures.blocked(addr, h.now()); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+1)))
		httpError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed authentications from %s; retry in %s", addr, wait.Round(time.Second)))
		return nil
	}
	who, err := h.opts.Identify(r)
	if err == nil {
		return r.WithContext(context.WithValue(r.Context(), whoKey{}, who))
	}
	h.failures.add(addr, h.now(), a.MaxFailures, a.FailureWindow)
	challenge := fmt.Sprintf(`Bearer resource_metadata=%q`, h.baseURL(r)+metadataPath+ep.path)
	if r.Header.Get("Authorization") != "" {
		challenge += fmt.Sprintf(`, error="invalid_token", error_description=%q`, strings.ReplaceAll(err.Error(), `"`, "'"))
	}
	w.Header().Set("WWW-Authenticate", challenge)
	msg := "mcpgov: authentication required: " + err.Error()
	if r.Method != http.MethodPost || ep.kind == kindInventory {
		httpError(w, http.StatusUnauthorized, strings.TrimPrefix(msg, "mcpgov: "))
		return nil
	}
	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	m, perr := rpc.Parse(body)
	if perr != nil {
		rpcError(w, http.StatusUnauthorized, nil, jsonrpc.CodeInvalidRequest, msg)
		return nil
	}
	if m.Method == "tools/call" && a.Refused != nil {
		var p struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(m.Params, &p)
		a.Refused(r.Context(), AuthRefusal{Endpoint: ep.path, Server: ep.id, Method: m.Method, Tool: p.Name, Reason: err.Error(), Addr: addr})
	}
	rpcError(w, http.StatusUnauthorized, m.ID, jsonrpc.CodeInvalidRequest, msg)
	return nil
}

func (h *Handler) now() time.Time {
	if h.opts.Auth.Now != nil {
		return h.opts.Auth.Now()
	}
	return time.Now()
}

func (h *Handler) baseURL(r *http.Request) string {
	if b := h.opts.Auth.BaseURL; b != "" {
		return strings.TrimSuffix(b, "/")
	}
	if f, ok := forwardOf(r); ok && f.base != "" {
		return f.base // the URL the client reached, not this replica's own
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// resourceMetadata serves RFC 9728 protected-resource metadata for the
// gateway (at the well-known path) and for each endpoint (the well-known
// path followed by the endpoint's path).
func (h *Handler) resourceMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed: use GET")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, metadataPath)
	if rest != "" && rest != "/mcp" && !endpointPath(rest) {
		httpError(w, http.StatusNotFound, "no MCP endpoint at "+rest)
		return
	}
	a := h.opts.Auth
	doc := map[string]any{
		"resource":                 h.baseURL(r) + rest,
		"authorization_servers":    nonNil(a.AuthorizationServers),
		"bearer_methods_supported": []string{"header"},
		"resource_name":            h.opts.ServerName,
	}
	if len(a.Scopes) > 0 {
		doc["scopes_supported"] = a.Scopes
	}
	b, _ := json.Marshal(doc)
	w.Header().Set("Cache-Control", "max-age=300")
	writeJSON(w, http.StatusOK, b)
}

// endpointPath reports whether p is /servers/ID/mcp or /virtual/ID/mcp.
func endpointPath(p string) bool {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	return len(parts) == 3 && (parts[0] == "servers" || parts[0] == "virtual") && parts[1] != "" && parts[2] == "mcp"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// clientAddr is the request's client IP: its peer's (without the port),
// or, when the peer is a trusted proxy, the rightmost hop of
// X-Forwarded-For that is not a trusted proxy (each proxy appends the
// address it was reached from; a client can write anything to the left).
// A hop that is not an IP address ends the walk at the trusted hop to its
// right.
//
// A retry another replica forwarded has the address that replica saw,
// from its signed forward (forward.go).
func (h *Handler) clientAddr(r *http.Request) string {
	if f, ok := forwardOf(r); ok {
		return f.addr
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	trusted := h.opts.Auth.TrustedProxies
	if len(trusted) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !trustedAddr(trusted, peer) {
		return host
	}
	client := peer
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = hop.Unmap()
		if !trustedAddr(trusted, client) {
			break
		}
	}
	return client.String()
}

func trustedAddr(trusted []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxy reads a trusted proxy: a CIDR prefix (10.0.0.0/8) or
// one address (10.0.0.7).
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR prefix (10.0.0.0/8) nor an IP address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// failures counts failed authentications per client address in fixed
// windows.
type failures struct {
	mu   sync.Mutex
	byIP map[string]*failWindow
}

type failWindow struct {
	start time.Time
	end   time.Time
	n     int
	max   int
}

// blocked returns how long addr must wait, or 0.
func (f *failures) blocked(addr string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	fw := f.byIP[addr]
	if fw == nil || !now.Before(fw.end) || fw.n < fw.max {
		return 0
	}
	return fw.end.Sub(now)
}

func (f *failures) add(addr string, now time.Time, max int, window time.Duration) {
	if max <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byIP == nil {
		f.byIP = map[string]*failWindow{}
	}
	if len(f.byIP) > 100000 {
		for k, fw := range f.byIP {
			if !now.Before(fw.end) {
				delete(f.byIP, k)
			}
		}
	}
	fw := f.byIP[addr]
	if fw == nil || !now.Before(fw.end) {
		fw = &failWindow{start: now, end: now.Add(window), max: max}
		f.byIP[addr] = fw
	}
	fw.n++
}

// memberOf reports whether have holds one of allowed.
func memberOf(allowed, have []string) bool {
	for _, g := range have {
		if slices.Contains(allowed, g) {
			return true
		}
	}
	return false
}
