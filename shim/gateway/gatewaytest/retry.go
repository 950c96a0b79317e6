package gatewaytest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// AcceptingClient is a go-sdk client named name that accepts every
// elicitation with content.
func AcceptingClient(name string, content map[string]any) *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: name, Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: content}, nil
		},
	})
}

// RetrySplit is a client transport that sends a request carrying
// requestState (a stateless client's retry with its input) to the
// replica at Retries, and every other request to the one at Others: a
// balancer without affinity at its least lucky. It names the caller User
// in X-Test-User when User is set, and sends through Base
// (http.DefaultTransport when nil).
type RetrySplit struct {
	User            string
	Retries, Others string // base URLs: scheme and host
	Base            http.RoundTripper

	retried atomic.Int32
}

// RoundTrip sends r to the replica its body calls for.
func (s *RetrySplit) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if s.User != "" {
		r.Header.Set("X-Test-User", s.User)
	}
	to := s.Others
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		if bytes.Contains(b, []byte(`"requestState"`)) {
			to = s.Retries
			s.retried.Add(1)
		}
	}
	u, err := url.Parse(to)
	if err != nil {
		return nil, err
	}
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, ""
	if s.Base != nil {
		return s.Base.RoundTrip(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Retried is how many requests went to Retries.
func (s *RetrySplit) Retried() int32 { return s.retried.Load() }
