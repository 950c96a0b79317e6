package gatewaytest

import (
	"net/http"
	"strings"
	"sync"
)

// ParamHeaders is a client transport that keeps the Mcp-Param-* headers
// of every request it sends ("Mcp-Param-Region: eu"), naming the caller
// User in X-Test-User when User is set.
type ParamHeaders struct {
	User string

	mu   sync.Mutex
	seen []string
}

// RoundTrip keeps the request's Mcp-Param-* headers and sends it.
func (p *ParamHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.User != "" {
		r = r.Clone(r.Context())
		r.Header.Set("X-Test-User", p.User)
	}
	p.mu.Lock()
	for k, v := range r.Header {
		if strings.HasPrefix(k, "Mcp-Param-") {
			p.seen = append(p.seen, k+": "+strings.Join(v, ","))
		}
	}
	p.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// Seen is the headers kept so far, joined with "; ".
func (p *ParamHeaders) Seen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.seen, "; ")
}
