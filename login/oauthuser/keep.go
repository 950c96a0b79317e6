package oauthuser

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// KeepFunc starts the process that keeps a Remote's redirect endpoint up
// once the Remote's own process is gone (the shim's redirect keeper, its
// own session, so the process-group kill of the client that started the
// shim does not reach it). It is given the redirect listener, whose
// socket the process inherits, and returns the write end of a pipe only
// this process holds and the keeper's pid. The keeper runs Keep on the
// pipe's read end: while the pipe is open it only listens to it, so
// exactly one process answers each redirect; at its end of file (this
// process exited, or was killed by any signal) it answers the redirect
// for the consents it was told about.
type KeepFunc func(ln net.Listener) (w io.WriteCloser, pid int, err error)

// keepMsg is one line a Remote writes to its keeper.
type keepMsg struct {
	// Consent is a consent whose link went to the client.
	Consent *keptConsent `json:"consent,omitempty"`
	// Done is the elicitation id of a consent answered here (granted or
	// failed): the keeper forgets it.
	Done string `json:"done,omitempty"`
	// Stop: nothing is pending here any more; the keeper exits.
	Stop bool `json:"stop,omitempty"`
}

// keptConsent is a consent in flight, as the PendingStore keeps it (the
// PKCE verifier inside), with the client configuration that redeems it.
// It goes through the pipe only, never to disk.
type keptConsent struct {
	Record json.RawMessage `json:"record"`
	Client keptClient      `json:"client"`
}

// keptClient is a server's OAuth client configuration as discovery and
// registration resolved it.
type keptClient struct {
	Issuer       string   `json:"issuer,omitempty"`
	AuthURL      string   `json:"auth_url"`
	TokenURL     string   `json:"token_url"`
	AuthStyle    int      `json:"auth_style"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	RedirectURL  string   `json:"redirect_url"`
	Resource     string   `json:"resource,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	// Registered is the registration of a dynamically registered client,
	// stored with the grant.
	Registered *Registration `json:"registered,omitempty"`
}

// keeper is a started keeper process, seen from the Remote.
type keeper struct {
	w   io.WriteCloser
	pid int
	enc *json.Encoder
}

// keep tells the keeper (started at the first link handed out) about the
// consent cr, whose link went to the client. Without a keeper the shim
// keeps the endpoint up itself (Linger) as long as it is let run.
func (r *Remote) keep(ctx context.Context, cr *ConsentRequired) {
	if r.Keep == nil {
		return
	}
	kc, err := r.keptConsent(ctx, cr)
	if err != nil {
		r.logf("warning: the consent to %s cannot be handed to a helper process: %v; if the client stops this shim before the consent, its link stops working", r.Server, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keeper == nil {
		if r.ln == nil {
			return
		}
		w, pid, err := r.Keep(r.ln)
		if err != nil {
			r.logf("warning: could not start the helper process that keeps the redirect endpoint up after this shim: %v; if the client stops this shim before the consent, its link stops working", err)
			return
		}
		r.keeper = &keeper{w: w, pid: pid, enc: json.NewEncoder(w)}
		r.logf("a helper process (pid %d) keeps the redirect endpoint up if the client stops this shim before the consent", pid)
	}
	if err := r.keeper.enc.Encode(keepMsg{Consent: kc}); err != nil {
		r.logf("warning: the redirect helper process (pid %d) is gone: %v", r.keeper.pid, err)
		_ = r.keeper.w.Close()
		r.keeper = nil
		return
	}
	// A link nobody follows: the helper goes when it expires, not only
	// when this shim does.
	k := r.keeper
	time.AfterFunc(time.Until(cr.Expires), func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.keeper == k && !r.pendingLinksLocked() {
			r.stopKeeperLocked()
		}
	})
}

// keptConsent is cr as its keeper needs it: the pending record and the
// resolved client configuration.
func (r *Remote) keptConsent(ctx context.Context, cr *ConsentRequired) (*keptConsent, error) {
	r.mu.Lock()
	m := r.m
	r.mu.Unlock()
	rec, err := m.pendingStore().Current(ctx, r.User, r.Server)
	if err != nil {
		return nil, err
	}
	p, err := decodePending(rec)
	if err != nil {
		return nil, err
	}
	if p.ElicitationID != cr.ElicitationID {
		return nil, errors.New("a newer consent replaced it")
	}
	s, err := m.server(r.Server)
	if err != nil {
		return nil, err
	}
	oc, err := m.config(ctx, s)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	cfg, reg := s.cfg, s.reg
	s.mu.Unlock()
	return &keptConsent{Record: rec, Client: keptClient{
		Issuer: cfg.Issuer, AuthURL: oc.Endpoint.AuthURL, TokenURL: oc.Endpoint.TokenURL, AuthStyle: int(oc.Endpoint.AuthStyle),
		ClientID: oc.ClientID, ClientSecret: oc.ClientSecret, RedirectURL: oc.RedirectURL, Resource: cfg.Resource, Scopes: oc.Scopes, Registered: reg,
	}}, nil
}

// keepDoneLocked tells the keeper that the consent id was answered here,
// and stops it when no link handed out is pending any more (r.mu held).
func (r *Remote) keepDoneLocked(id string) {
	if r.keeper == nil {
		return
	}
	err := r.keeper.enc.Encode(keepMsg{Done: id})
	if err == nil && r.pendingLinksLocked() {
		return
	}
	r.stopKeeperLocked()
}

// pendingLinksLocked reports whether a consent whose link went to the
// client is unanswered and unexpired (r.mu held).
func (r *Remote) pendingLinksLocked() bool {
	now := time.Now()
	for _, exp := range r.links {
		if now.Before(exp) {
			return true
		}
	}
	return false
}

func (r *Remote) stopKeeperLocked() {
	if r.keeper == nil {
		return
	}
	_ = r.keeper.enc.Encode(keepMsg{Stop: true})
	_ = r.keeper.w.Close()
	r.keeper = nil
}

// handOver ends this process's part (its listener is closed already):
// the keeper is stopped when nothing is pending, else its pipe is closed
// and it answers the redirect from now on.
func (r *Remote) handOver() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keeper == nil {
		return
	}
	var last time.Time
	now := time.Now()
	for _, exp := range r.links {
		if now.Before(exp) && exp.After(last) {
			last = exp
		}
	}
	if last.IsZero() {
		r.stopKeeperLocked()
		return
	}
	r.logf("the helper process (pid %d) keeps the redirect endpoint up: waiting up to %s for the consent to %s (the link the client was given)",
		r.keeper.pid, time.Until(last).Round(time.Second), r.Server)
	_ = r.keeper.w.Close()
	r.keeper = nil
}

// KeepOptions are what Keep works with.
type KeepOptions struct {
	// In is the read end of the pipe the shim writes to.
	In io.Reader
	// Listener is the shim's redirect listener (inherited).
	Listener net.Listener
	// Store keeps the grants, as the shim's (the OS keyring); Clients
	// the registration of a dynamically registered client with its grant.
	Store   TokenStore
	Clients ClientStore
	// Sink receives the events the shim would have recorded (audit).
	Sink Sink
	// Log receives notes; nil discards them.
	Log io.Writer
	// HTTPClient reaches the authorization server (nil: the default).
	HTTPClient *http.Client
}

// heldConsent is a consent a keeper holds.
type heldConsent struct {
	key     Key
	state   string
	expires time.Time
}

// Keep is the work of a Remote's keeper process (see KeepFunc): it reads
// the consents the shim hands out from In while the shim lives, and
// forgets those the shim answered. A stop ends it at once. At the end of
// In (the shim is gone, by any signal or normally with a consent still
// pending) it answers the redirect on Listener until every consent it
// holds is granted, failed or expired, storing each grant in Store and
// reporting each event to Sink as the shim would, a consent that expired
// unanswered as consent_failed (expired); then it returns.
func Keep(ctx context.Context, o KeepOptions) error {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "%s mcpgov: "+format+"\n", append([]any{time.Now().UTC().Format(time.RFC3339)}, args...)...)
		}
	}
	var mu sync.Mutex
	held := map[string]heldConsent{} // by elicitation id
	changed := make(chan struct{}, 1)
	m := &Manager{Store: o.Store, Clients: o.Clients, Pending: &MemoryPending{}, HTTPClient: o.HTTPClient}
	m.Sink = SinkFunc(func(ctx context.Context, e Event) {
		if (e.Kind == EventGrant || e.Kind == EventConsentFailed) && e.ElicitationID != "" {
			mu.Lock()
			if _, ok := held[e.ElicitationID]; ok {
				delete(held, e.ElicitationID)
				if e.Kind == EventGrant {
					logf("%s authorized; the client's next start uses the grant", e.Server)
				} else {
					logf("the consent to %s failed (%s)", e.Server, e.Reason)
				}
			}
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
		}
		if o.Sink != nil {
			o.Sink.OAuthEvent(ctx, e)
		}
	})

	lines := bufio.NewScanner(o.In)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var msg keepMsg
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil {
			return fmt.Errorf("read the shim's pipe: %w", err)
		}
		switch {
		case msg.Stop:
			return nil
		case msg.Done != "":
			mu.Lock()
			if h, ok := held[msg.Done]; ok {
				delete(held, msg.Done)
				_, _ = m.Pending.Take(ctx, h.state)
			}
			mu.Unlock()
		case msg.Consent != nil:
			if err := keepConsent(ctx, m, held, &mu, msg.Consent); err != nil {
				logf("warning: a consent the shim handed over is unusable: %v", err)
			}
		}
	}
	// A shim killed in the middle of a line leaves it incomplete: that
	// consent was never handed out.
	if err := lines.Err(); err != nil {
		return fmt.Errorf("read the shim's pipe: %w", err)
	}
	return keepServing(ctx, o, m, held, &mu, changed, logf)
}

// keepConsent registers kc's client with m and keeps its record,
// replacing the consent held for the same user and server (the shim's
// PendingStore keeps one per user and server too).
func keepConsent(ctx context.Context, m *Manager, held map[string]heldConsent, mu *sync.Mutex, kc *keptConsent) error {
	p, err := decodePending(kc.Record)
	if err != nil {
		return err
	}
	c := kc.Client
	cfg := Config{Issuer: c.Issuer, AuthURL: c.AuthURL, TokenURL: c.TokenURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		RedirectURL: c.RedirectURL, Resource: c.Resource, Scopes: c.Scopes}
	if err := cfg.validate(p.Server); err != nil {
		return err
	}
	s := &server{id: p.Server, cfg: cfg, orig: cfg, oc: &oauth2.Config{
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes, RedirectURL: c.RedirectURL,
		Endpoint: oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyle(c.AuthStyle)},
	}, reg: c.Registered}
	m.mu.Lock()
	if m.servers == nil {
		m.servers = map[string]*server{}
	}
	m.servers[p.Server] = s
	m.mu.Unlock()
	k := Key{User: p.User, Server: p.Server}
	mu.Lock()
	defer mu.Unlock()
	for id, h := range held {
		if h.key == k {
			delete(held, id)
		}
	}
	if err := m.Pending.Put(ctx, p.State, p.User, p.Server, kc.Record, time.Until(p.Expires)); err != nil {
		return err
	}
	held[p.ElicitationID] = heldConsent{key: k, state: p.State, expires: p.Expires}
	return nil
}

// keepServing answers the redirect until every held consent is done.
func keepServing(ctx context.Context, o KeepOptions, m *Manager, held map[string]heldConsent, mu *sync.Mutex, changed chan struct{}, logf func(string, ...any)) error {
	expire := func() (left int, next time.Time) {
		mu.Lock()
		var due []Event
		now := time.Now()
		for id, h := range held {
			if !now.Before(h.expires) {
				delete(held, id)
				due = append(due, Event{Kind: EventConsentFailed, User: h.key.User, Server: h.key.Server, ElicitationID: id, Reason: "expired"})
				continue
			}
			if next.IsZero() || h.expires.Before(next) {
				next = h.expires
			}
		}
		left = len(held)
		mu.Unlock()
		for _, e := range due {
			logf("the consent to %s expired unanswered", e.Server)
			m.emit(ctx, e)
		}
		return left, next
	}
	left, next := expire()
	if left == 0 {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/callback", m.RedirectHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(o.Listener) }()
	logf("the shim is gone; answering the redirect at %s until %s", o.Listener.Addr(), next.UTC().Format(time.RFC3339))
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	for left > 0 {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		timer.Stop()
		left, next = expire()
	}
	return nil
}
