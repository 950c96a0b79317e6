package oauthuser

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// ConsentRequired is the error Token returns when the user must consent
// (again) before the call can go on. The gateway turns it into a URL-mode
// elicitation or a tool error (see RPCError and ToolResult); the call,
// retried after consent, then gets a token.
type ConsentRequired struct {
	User   string
	Server string
	// URL is the authorization server's consent page, with a single-use
	// state bound to User and Server. It is for the user's eyes only: do
	// not log it.
	URL string
	// ElicitationID names this consent in the MCP elicitation and in the
	// grant event that completes it.
	ElicitationID string
	// Expires is when URL stops working.
	Expires time.Time
}

// Error says what is needed without the URL (it holds the state).
func (c *ConsentRequired) Error() string {
	return fmt.Sprintf("server %q needs the user's consent before mcpgov can call it on their behalf", c.Server)
}

// maxPending bounds consents in flight, so callers cannot grow memory
// without limit by asking for consent URLs.
const maxPending = 10000

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ConsentURL returns the consent a user must give for server. While one is
// in flight and unexpired for the same user and server, the same one is
// returned, so concurrent calls show the user one link.
func (m *Manager) ConsentURL(ctx context.Context, user, serverID string) (*ConsentRequired, error) {
	return m.consent(ctx, user, serverID, nil)
}

// ErrScopeLoop: the server refuses a scope the user's grant already holds,
// so another consent would not help (and could loop forever).
var ErrScopeLoop = errors.New("the server refuses scopes the user already granted")

// StepUp answers an upstream's 403 insufficient_scope (its challenge read
// with ReadChallenge): a consent for the scopes of the current grant (or
// the configured ones) plus scopes. The current grant stays in use until
// the new one arrives. When the grant already holds every scope asked
// for, it returns ErrScopeLoop instead of another consent.
func (m *Manager) StepUp(ctx context.Context, user, serverID string, scopes []string) (*ConsentRequired, error) {
	k := Key{User: user, Server: serverID}
	t, err := m.Store.Get(ctx, k)
	if err != nil && !errors.Is(err, ErrNoToken) {
		return nil, err
	}
	if err == nil && len(scopes) > 0 && !slices.ContainsFunc(scopes, func(sc string) bool { return !slices.Contains(t.Scopes, sc) }) {
		return nil, fmt.Errorf("server %q asks for %s: %w", serverID, strings.Join(scopes, " "), ErrScopeLoop)
	}
	cr, err := m.consent(ctx, user, serverID, union(t.Scopes, scopes))
	if err != nil {
		return nil, err
	}
	m.emit(ctx, Event{Kind: EventConsentRequested, User: user, Server: serverID, ElicitationID: cr.ElicitationID, Scopes: union(t.Scopes, scopes)})
	return cr, nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// consent makes (or reuses) the consent of user for server asking for the
// configured scopes plus extra.
func (m *Manager) consent(ctx context.Context, user, serverID string, extra []string) (*ConsentRequired, error) {
	s, err := m.server(serverID)
	if err != nil {
		return nil, err
	}
	oc, err := m.config(ctx, s)
	if err != nil {
		return nil, err
	}
	scopes := union(oc.Scopes, extra)
	// One consent at a time per user and server in this process, so
	// concurrent calls show the user one link; a slow store holds up only
	// that user's consent for that server.
	l := m.consentLock(Key{User: user, Server: serverID})
	l.Lock()
	defer l.Unlock()
	now := m.now()
	store := m.pendingStore()
	if rec, err := store.Current(ctx, user, serverID); err == nil {
		p, err := decodePending(rec)
		if err == nil && now.Before(p.Expires) && !slices.ContainsFunc(scopes, func(sc string) bool { return !slices.Contains(p.Scopes, sc) }) && linkOf(p.URL, oc) {
			return p.link(m.start()), nil
		}
	} else if !errors.Is(err, ErrNoPending) {
		return nil, fmt.Errorf("read the consents in flight: %w", err)
	}
	ttl := m.ConsentTTL
	if ttl == 0 {
		ttl = DefaultConsentTTL
	}
	p := &pendingRecord{State: randomString(), User: user, Server: serverID, Verifier: oauth2.GenerateVerifier(), Scopes: scopes,
		ElicitationID: randomString()[:22], Expires: now.Add(ttl)}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(p.Verifier)}
	if s.cfg.Resource != "" {
		opts = append(opts, oauth2.SetAuthURLParam("resource", s.cfg.Resource))
	}
	withScopes := *oc
	withScopes.Scopes = scopes
	p.URL = withScopes.AuthCodeURL(p.State, opts...)
	rec, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := store.Put(ctx, p.State, user, serverID, rec, ttl); err != nil {
		return nil, fmt.Errorf("keep the consent in flight: %w", err)
	}
	return p.link(m.start()), nil
}

// start is the person check's start endpoint, "" without one.
func (m *Manager) start() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.startURL
}

// linkOf says whether the consent link was made with oc: the same
// authorization endpoint, client and redirect. A server registered again
// (its metadata moved to another authorization server, the redirect
// listener on another port) gets a new link, not one that leads to the
// old configuration.
func linkOf(link string, oc *oauth2.Config) bool {
	u, err := url.Parse(link)
	if err != nil {
		return false
	}
	q := u.Query()
	u.RawQuery, u.Fragment = "", ""
	a, err := url.Parse(oc.Endpoint.AuthURL)
	if err != nil {
		return false
	}
	a.RawQuery, a.Fragment = "", ""
	return u.String() == a.String() && q.Get("client_id") == oc.ClientID && q.Get("redirect_uri") == oc.RedirectURL
}

// pendingStore is Pending, else the Manager's own memory.
func (m *Manager) pendingStore() PendingStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Pending != nil {
		return m.Pending
	}
	if m.memPending == nil {
		m.memPending = &MemoryPending{Now: m.Now}
	}
	return m.memPending
}

// take removes and returns the consent of state: a state works once.
func (m *Manager) take(ctx context.Context, state string) *pendingRecord {
	if state == "" {
		return nil
	}
	rec, err := m.pendingStore().Take(ctx, state)
	if err != nil {
		return nil
	}
	p, err := decodePending(rec)
	if err != nil || p.State != state || !m.now().Before(p.Expires) {
		return nil
	}
	return p
}

func (m *Manager) consentError(ctx context.Context, s *server, k Key) error {
	cr, err := m.ConsentURL(ctx, k.User, s.id)
	if err != nil {
		return err
	}
	m.emit(ctx, Event{Kind: EventConsentRequested, User: k.User, Server: k.Server, ElicitationID: cr.ElicitationID})
	return cr
}

// page is parsed on first use, like oauthCode compiled: a process that
// never answers a consent redirect does not pay for either at start.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>mcpgov</title></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))
})

func writePage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = page().Execute(w, struct{ Title, Text string }{title, text})
}

// oauthCode keeps only what an OAuth error code may contain, so a crafted
// redirect cannot put arbitrary text into the audit trail.
var oauthCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_]{1,64}$`) })

func safeCode(s string) string {
	if oauthCode().MatchString(s) {
		return s
	}
	return "malformed_error"
}

// RedirectHandler is the endpoint the authorization server sends the
// browser back to (Config.RedirectURL). It checks the state (known,
// unexpired, single use), exchanges the code with the PKCE verifier,
// stores the tokens for the user and server the state was made for, and
// answers a short page; it never shows a token or a code.
func (m *Manager) RedirectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writePage(w, http.StatusMethodNotAllowed, "Method not allowed", "This address is only visited by your browser after a consent.")
			return
		}
		q := r.URL.Query()
		p := m.take(r.Context(), q.Get("state"))
		if p == nil {
			m.emit(r.Context(), Event{Kind: EventConsentFailed, Reason: "unknown_state"})
			writePage(w, http.StatusBadRequest, "This consent link is no longer valid",
				"It was used already or has expired. Retry the tool call to get a new link.")
			return
		}
		ev := Event{User: p.User, Server: p.Server, ElicitationID: p.ElicitationID}
		if m.CheckUser != nil {
			if err := m.CheckUser(r, p.User); errors.Is(err, ErrNoSignin) {
				// Not someone else: this browser did not sign in for
				// this consent (the link was opened past the sign-in).
				ev.Kind, ev.Reason = EventConsentFailed, "signin_missing"
				m.emit(r.Context(), ev)
				writePage(w, http.StatusForbidden, "This browser did not sign in for this consent",
					"Nothing was granted and the link no longer works. Retry the tool call to get a new link, and open it in this browser.")
				return
			} else if err != nil {
				ev.Kind, ev.Reason = EventConsentFailed, "other_user"
				m.emit(r.Context(), ev)
				writePage(w, http.StatusForbidden, "This consent link is for someone else",
					"Sign in to mcpgov as the person who asked for it, or retry the tool call yourself to get your own link.")
				return
			}
		}
		if e := q.Get("error"); e != "" {
			ev.Kind, ev.Reason = EventConsentFailed, safeCode(e)
			m.emit(r.Context(), ev)
			writePage(w, http.StatusForbidden, "Access was not granted",
				fmt.Sprintf("The authorization server answered %s. Retry the tool call to try again.", ev.Reason))
			return
		}
		t, err := m.exchange(r.Context(), p, q.Get("code"), q.Get("iss"))
		if err != nil {
			ev.Kind, ev.Reason = EventConsentFailed, "exchange_failed"
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.ErrorCode != "" {
				ev.Reason = safeCode(re.ErrorCode)
			}
			m.emit(r.Context(), ev)
			writePage(w, http.StatusBadGateway, "Access could not be completed",
				"mcpgov could not redeem the consent ("+ev.Reason+"). Retry the tool call to try again.")
			return
		}
		ev.Kind, ev.Scopes, ev.Expiry = EventGrant, t.Scopes, t.Expiry
		m.emit(r.Context(), ev)
		writePage(w, http.StatusOK, "Access granted",
			fmt.Sprintf("mcpgov can now call %s on your behalf. You can close this tab.", p.Server))
	})
}

func (m *Manager) exchange(ctx context.Context, p *pendingRecord, code, iss string) (Token, error) {
	if code == "" {
		return Token{}, errors.New("the redirect carries no code")
	}
	s, err := m.server(p.Server)
	if err != nil {
		return Token{}, err
	}
	oc, err := m.config(ctx, s)
	if err != nil {
		return Token{}, err
	}
	s.mu.Lock()
	issuer := s.cfg.Issuer // discovery may have filled it in
	as := s.authServerLocked()
	reg := s.reg
	s.mu.Unlock()
	// RFC 9207: a redirect naming another issuer is a mix-up attack.
	if iss != "" && issuer != "" && iss != issuer {
		return Token{}, fmt.Errorf("the redirect names issuer %q, not %q", iss, issuer)
	}
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(p.Verifier)}
	if s.cfg.Resource != "" {
		opts = append(opts, oauth2.SetAuthURLParam("resource", s.cfg.Resource))
	}
	nt, err := oc.Exchange(m.oauthCtx(ctx), code, opts...)
	if err != nil {
		return Token{}, err
	}
	// The grant is bound to the authorization server and client that
	// issued it: refreshed and revoked there only.
	t := fromOAuth2(nt, Token{Scopes: p.Scopes, Issuer: as, ClientID: oc.ClientID})
	if reg != nil && m.Clients != nil {
		// The stored client is the one this grant is bound to: another
		// process (a second shim, a redirect keeper) may have registered
		// another meanwhile, for another redirect port.
		if err := m.Clients.PutClient(ctx, p.Server, *reg); err != nil {
			return Token{}, err
		}
	}
	if err := m.Store.Put(ctx, Key{User: p.User, Server: p.Server}, t); err != nil {
		return Token{}, err
	}
	return t, nil
}
