package shim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// scriptedAuthorizer is an Authorizer whose token and answers the test
// sets: it records the challenges it is told of.
type scriptedAuthorizer struct {
	token  atomic.Pointer[string]
	decide func(Challenge) ChallengeResult

	mu   sync.Mutex
	seen []Challenge
}

func (a *scriptedAuthorizer) Authorization(context.Context) (string, error) {
	if t := a.token.Load(); t != nil {
		return *t, nil
	}
	return "", nil
}

func (a *scriptedAuthorizer) Challenged(_ context.Context, c Challenge) ChallengeResult {
	a.mu.Lock()
	a.seen = append(a.seen, c)
	a.mu.Unlock()
	return a.decide(c)
}

// guardedServer answers 401 with a Bearer challenge unless the request
// carries "Bearer good", and counts the POSTs it refused.
func guardedServer(t *testing.T, refused *atomic.Int32) string {
	f := newHTTPFixture(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			if r.Method == http.MethodPost {
				refused.Add(1)
			}
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="http://example.invalid/prm"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, f.url, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				if fl, ok := w.(http.Flusher); ok {
					fl.Flush()
				}
			}
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func sessionWith(t *testing.T, url string, a Authorizer) *session {
	t.Helper()
	stderr := &syncBuffer{}
	up, err := DialHTTPWith(url, nil, Credentials{Authorizer: a}, stderr)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{t: t, client: NewFrameWriter(inW), out: NewFrameReader(outR, 0), in: inW, stderr: stderr, done: make(chan error, 1)}
	r := &Relay{In: inR, Out: outW, Stderr: s.stderr, Drain: time.Second}
	go func() { s.done <- r.Run(context.Background(), up); outW.Close() }()
	t.Cleanup(func() { inW.Close(); up.Shutdown(0) })
	return s
}

// TestAuthorizerRetry: the first initialize goes without a token and is
// refused (401); the Authorizer is told (status, challenge, no token
// sent, the call), gets its token and asks for a resend, which works; the
// calls after carry the token.
func TestAuthorizerRetry(t *testing.T) {
	var refused atomic.Int32
	url := guardedServer(t, &refused)
	a := &scriptedAuthorizer{}
	a.decide = func(c Challenge) ChallengeResult {
		good := "Bearer good"
		a.token.Store(&good)
		return ChallengeResult{Retry: true}
	}
	s := sessionWith(t, url, a)
	s.send(initLine)
	if got := s.recvID("1"); !strings.Contains(got, `"result"`) {
		t.Fatalf("initialize after the resend: %s\n%s", got, s.stderr)
	}
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if got := s.recvID("2"); !strings.Contains(got, `"tools"`) {
		t.Fatalf("tools/list: %s", got)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) != 1 || a.seen[0].Status != 401 || a.seen[0].Sent != "" || a.seen[0].Call.Method != "initialize" ||
		!strings.Contains(a.seen[0].Header.Get("WWW-Authenticate"), "resource_metadata") {
		t.Errorf("challenges seen: %+v", a.seen)
	}
	if refused.Load() != 1 {
		t.Errorf("the server refused %d POSTs, want 1", refused.Load())
	}
}

// TestAuthorizerAnswerAndBound: an Authorizer's answer replaces the
// refused call's (the consent link), and one that asks for resends
// forever is stopped after maxAuthRetries with an error to the client.
func TestAuthorizerAnswerAndBound(t *testing.T) {
	var refused atomic.Int32
	url := guardedServer(t, &refused)
	answer := &scriptedAuthorizer{decide: func(c Challenge) ChallengeResult {
		return ChallengeResult{Answer: rpc.ResultResponse(c.Call.ID, []byte(`{"content":[{"type":"text","text":"consent at LINK"}],"isError":true}`))}
	}}
	s := sessionWith(t, url, answer)
	s.send(initLine)
	if got := s.recvID("1"); !strings.Contains(got, "consent at LINK") {
		t.Fatalf("the Authorizer's answer: %s", got)
	}

	refused.Store(0)
	loop := &scriptedAuthorizer{decide: func(Challenge) ChallengeResult { return ChallengeResult{Retry: true} }}
	s2 := sessionWith(t, url, loop)
	s2.send(initLine)
	if got := s2.recvID("1"); !strings.Contains(got, `"error"`) {
		t.Fatalf("a refusal resent forever: %s", got)
	}
	if n := refused.Load(); n != maxAuthRetries+1 {
		t.Errorf("sent %d times, want %d (the first and %d resends)", n, maxAuthRetries+1, maxAuthRetries)
	}

	// An Authorizer with nothing to do: the server's refusal is passed on
	// as it was (its text), once.
	refused.Store(0)
	s3 := sessionWith(t, url, &scriptedAuthorizer{decide: func(Challenge) ChallengeResult { return ChallengeResult{} }})
	s3.send(initLine)
	if got := s3.recvID("1"); !strings.Contains(got, `"error"`) || !strings.Contains(got, "HTTP 401") || !strings.Contains(got, "unauthorized") {
		t.Fatalf("a refusal the Authorizer leaves alone: %s", got)
	}
	if refused.Load() != 1 {
		t.Errorf("sent %d times, want once", refused.Load())
	}
}
