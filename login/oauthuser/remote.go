package oauthuser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/policy/rpc"
	"github.com/mcpgov/mcpgov/shim"
)

// Remote is the OAuth client of the shim for one remote server it fronts
// directly (`mcpgov shim --url`), what mcp-remote does for a client
// without OAuth of its own: the first request goes without a token; the
// server's 401 names its protected-resource metadata, from which the
// authorization server is found (RFC 9728), mcpgov registers itself when
// no client id is given (RFC 7591, or a Client ID Metadata Document URL),
// and the consent runs with PKCE and a loopback redirect. The grant is
// kept in Store (the OS keyring) and refreshed ahead of expiry.
//
// When Open opens the user's browser, the refused call waits for the
// grant and is sent again; when it cannot, the call is answered with the
// consent link: a URL-mode elicitation (-32042) for a client that
// declared elicitation.url, a tool error for tools/call, else an error
// whose message carries the link. The call retried after consent works.
// A token the server stops accepting is refreshed once; a refused refresh
// leads to a new consent the same way.
type Remote struct {
	// Server names the grant in Store (the catalog id, or the URL).
	Server string
	// User names the person in Store (the local login's identity, or a
	// fixed local name).
	User string
	// Config is the client configuration: ClientID, ClientSecret,
	// ClientMetadataURL, Scopes, Issuer as configured; Resource is the
	// server's URL. RedirectURL is set by Remote (its loopback listener).
	Config Config
	// Store keeps the grants (a KeyringStore); LockDir the refresh locks.
	Store   TokenStore
	LockDir string
	// Clients keeps a dynamically registered client across runs (the
	// KeyringStore too); the redirect then listens on the port it was
	// registered with, when that port is free.
	Clients ClientStore
	// Open opens a URL in the user's browser; nil or an error means the
	// link goes to the client instead.
	Open func(url string) error
	// Log receives the shim's notes (stderr); nil discards them.
	Log io.Writer
	// Sink receives the Manager's events (audit), besides Remote itself.
	Sink Sink
	// HTTPClient reaches the authorization server (nil: the default).
	HTTPClient *http.Client

	// NoKeyring, when set, is why the grants are kept in memory only (no
	// OS keyring); it is said once, when a consent is first needed.
	NoKeyring string

	// Keep, when set, starts the helper process that keeps the redirect
	// endpoint up after this one is gone, when a consent's link goes to
	// the client (not when a browser opened: the shim waits itself).
	// Without it Linger keeps it up for as long as this process runs.
	Keep KeepFunc
	// ConsentTTL is how long a consent link works (DefaultConsentTTL
	// when zero).
	ConsentTTL time.Duration

	mu       sync.Mutex
	m        *Manager
	srv      *http.Server
	ln       net.Listener
	redirect string                  // the redirect URL the Manager has
	metaURL  string                  // the metadata location it has (a challenge's)
	scopes   []string                // the challenge's scopes it has
	warned   bool                    // NoKeyring said
	waiters  map[string]*consentWait // by elicitation id
	links    map[string]time.Time    // consents handed out as links: expiry by elicitation id
	urlMode  map[string]bool         // ... of which as URL-mode elicitations
	noGrant  bool                    // the store held no grant at the first request
	notify   func([]byte)
	keeper   *keeper // started by keep
}

var _ shim.Authorizer = (*Remote)(nil)

// manager returns the Manager, made at the first request that needs one
// (a stored grant, or a challenge), registering the server with what the
// challenge said (metadata location, scopes). A later challenge naming
// another metadata location replaces it: RFC 9728's primary discovery is
// the challenge, and the server may have moved its metadata. A grant is
// refreshed and revoked only at the authorization server that issued it
// (Token.Issuer): when the new metadata names another, the person is asked
// for a new consent there (the link shows it), and the old grant's refresh
// token goes nowhere new. With a client secret the issuer is pinned
// (Config.Issuer), and the metadata chooses nothing. No loopback
// listener is opened here unless a client is to be registered (its
// redirect URL names the port); else it opens when a consent is made
// (serve).
func (r *Remote) manager(metaURL string, scopes []string) (*Manager, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m != nil {
		if metaURL != "" && metaURL != r.metaURL {
			if _, err := r.m.SetServer(r.Server, r.config(r.redirect, metaURL, scopes)); err != nil {
				return nil, err
			}
			r.logf("%s names its protected-resource metadata at %s now; discovering the authorization server again", r.Server, metaURL)
			r.metaURL, r.scopes = metaURL, scopes
		}
		return r.m, nil
	}
	m := &Manager{Store: &cachedStore{TokenStore: r.Store}, Sink: r, LockDir: r.LockDir, HTTPClient: r.HTTPClient, Clients: r.Clients, ConsentTTL: r.ConsentTTL}
	redirect := r.registeredRedirect()
	var ln net.Listener
	switch {
	case redirect != "":
	case r.Config.ClientID != "":
		// A configured client: the redirect's port matters only to a
		// consent, and serve picks it then.
		redirect = pendingRedirect
	default:
		// A client will be registered for the redirect: its port now.
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("listen on loopback for the OAuth redirect: %w", err)
		}
		redirect = "http://" + ln.Addr().String() + "/callback"
	}
	if err := m.AddServer(r.Server, r.config(redirect, metaURL, scopes)); err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	r.m, r.redirect, r.metaURL, r.scopes = m, redirect, metaURL, scopes
	if ln != nil {
		r.serveLocked(ln)
	}
	return m, nil
}

// switching is the Manager when a challenge naming metaURL makes it
// discover the authorization server again (nil otherwise).
func (r *Remote) switching(metaURL string) *Manager {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m != nil && metaURL != "" && metaURL != r.metaURL {
		return r.m
	}
	return nil
}

// pendingRedirect stands for the redirect URL of a configured client until
// a consent needs the listener (serve replaces it before any link goes
// out).
const pendingRedirect = "http://127.0.0.1/callback"

// config is the Manager's configuration of the server: Config with the
// redirect, and the challenge's metadata location and scopes (configured
// scopes win).
func (r *Remote) config(redirect, metaURL string, scopes []string) Config {
	cfg := r.Config
	cfg.RedirectURL = redirect
	cfg.ResourceMetadataURL = metaURL
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = scopes
	}
	return cfg
}

// registeredRedirect is the loopback redirect URL of the client registered
// for the server on an earlier run, "" when there is none.
func (r *Remote) registeredRedirect() string {
	if r.Clients == nil || r.Config.ClientID != "" {
		return ""
	}
	reg, err := r.Clients.GetClient(context.Background(), r.Server)
	if err != nil {
		return ""
	}
	if u, err := url.Parse(reg.RedirectURL); err == nil && u.Scheme == "http" && u.Hostname() == "127.0.0.1" && u.Port() != "" {
		return reg.RedirectURL
	}
	return ""
}

// serve makes sure the redirect listener runs before a consent's link goes
// out: on the port of the redirect URL the server was registered with
// when it is free, else on any port, and then the server is registered
// again with that URL (changed: the consent must be asked for anew, a
// registered client being bound to its redirect URL).
func (r *Remote) serve() (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		return false, nil
	}
	var ln net.Listener
	if u, err := url.Parse(r.redirect); err == nil && r.redirect != pendingRedirect && u.Port() != "" {
		ln, _ = net.Listen("tcp", u.Host)
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return false, fmt.Errorf("listen on loopback for the OAuth redirect: %w", err)
		}
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	if redirect != r.redirect {
		if _, err := r.m.SetServer(r.Server, r.config(redirect, r.metaURL, r.scopes)); err != nil {
			ln.Close()
			return false, err
		}
		r.redirect, changed = redirect, true
	}
	r.serveLocked(ln)
	return changed, nil
}

// serveLocked answers the redirect on ln (r.mu held, r.m set).
func (r *Remote) serveLocked(ln net.Listener) {
	mux := http.NewServeMux()
	mux.Handle("/callback", r.m.RedirectHandler())
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	r.ln = ln
	go func(srv *http.Server) { _ = srv.Serve(ln) }(r.srv)
}

// RedirectURL is where the consent's redirect comes back to (the loopback
// listener), "" while none is open: it opens only when a consent is made
// or a client is registered, not for a stored grant.
func (r *Remote) RedirectURL() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return ""
	}
	return "http://" + r.ln.Addr().String() + "/callback"
}

// Close stops the redirect listener, letting a page being answered finish
// (the grant that ends Linger is announced before its page is written).
// Then a keeper (Keep) takes over the consents still pending, or is
// stopped when there are none.
func (r *Remote) Close() error {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	if srv == nil {
		return nil
	}
	defer r.handOver()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}

// consentWait is a consent someone waits for: done closes when it is
// granted or has failed (failed says why).
type consentWait struct {
	done   chan struct{}
	failed string
}

// SetNotify implements shim.Notifier.
func (r *Remote) SetNotify(f func([]byte)) {
	r.mu.Lock()
	r.notify = f
	r.mu.Unlock()
}

// OAuthEvent implements Sink: a grant, or a consent that failed at the
// redirect, wakes the call waiting for it; a grant the client was asked
// for with a URL-mode elicitation is announced to it
// (notifications/elicitation/complete), so it can retry.
func (r *Remote) OAuthEvent(ctx context.Context, e Event) {
	if (e.Kind == EventGrant || e.Kind == EventConsentFailed) && e.ElicitationID != "" {
		r.mu.Lock()
		if e.Kind == EventGrant && r.urlMode[e.ElicitationID] && r.notify != nil {
			params, _ := json.Marshal(map[string]string{"elicitationId": e.ElicitationID})
			if frame, err := rpc.Notification("notifications/elicitation/complete", params); err == nil {
				go r.notify(frame) // not under r.mu: delivery may wait for the client
			}
		}
		delete(r.urlMode, e.ElicitationID)
		delete(r.links, e.ElicitationID)
		if w, ok := r.waiters[e.ElicitationID]; ok {
			if e.Kind == EventConsentFailed {
				w.failed = e.Reason
			}
			close(w.done)
			delete(r.waiters, e.ElicitationID)
		}
		r.keepDoneLocked(e.ElicitationID)
		r.mu.Unlock()
	}
	if r.Sink != nil {
		r.Sink.OAuthEvent(ctx, e)
	}
}

// warnNoKeyring says, once, that a consent's grant will not outlive
// this shim (NoKeyring).
func (r *Remote) warnNoKeyring() {
	r.mu.Lock()
	say := r.NoKeyring != "" && !r.warned
	r.warned = true
	r.mu.Unlock()
	if say {
		r.logf("warning: no OS keyring (%s): the OAuth grant for %s lasts only while this shim runs", r.NoKeyring, r.Server)
	}
}

func (r *Remote) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, "mcpgov: "+format+"\n", args...)
	}
}

// Authorization implements shim.Authorizer: the stored grant's access
// token (refreshed when it expires), or none before any grant. A server
// that never challenges costs one look in the store per run, not one per
// request (a keyring call is a D-Bus round trip); a grant given to
// another shim meanwhile is found at this one's first 401.
func (r *Remote) Authorization(ctx context.Context) (string, error) {
	r.mu.Lock()
	m, none := r.m, r.noGrant
	r.mu.Unlock()
	if m == nil {
		if none {
			return "", nil
		}
		_, err := r.Store.Get(ctx, Key{User: r.User, Server: r.Server})
		if errors.Is(err, ErrNoToken) {
			r.mu.Lock()
			r.noGrant = true
			r.mu.Unlock()
			return "", nil
		}
		if err != nil {
			return "", err
		}
	}
	m, err := r.manager("", nil)
	if err != nil {
		return "", err
	}
	tok, err := m.Token(ctx, r.User, r.Server)
	var cr *ConsentRequired
	if errors.As(err, &cr) {
		return "", nil // the refresh was refused: the 401 leads to consent
	}
	if err != nil {
		return "", err
	}
	return "Bearer " + tok, nil
}

// Challenged implements shim.Authorizer.
func (r *Remote) Challenged(ctx context.Context, c shim.Challenge) shim.ChallengeResult {
	metaURL, scopes := ReadChallenge(c.Header)
	if m := r.switching(metaURL); m != nil {
		// A stored grant that names no issuer (stored before grants did)
		// is bound to the authorization server in force now, before the
		// new metadata can name another: its refresh token never goes
		// there.
		if err := m.bindLegacy(ctx, r.User, r.Server); err != nil {
			return r.fail(c, fmt.Errorf("record which authorization server issued the stored grant before following the server's metadata to %s: %w", metaURL, err))
		}
	}
	m, err := r.manager(metaURL, scopes)
	if err != nil {
		return r.fail(c, err)
	}
	// A consent asked for before the redirect endpoint listened is asked
	// for again, once, when serving it changed the redirect URL.
	var cr *ConsentRequired
	for asked := 0; ; asked++ {
		retry, next, err := m.answer(ctx, r.User, r.Server, c)
		switch {
		case err != nil:
			return r.fail(c, err)
		case retry:
			return shim.ChallengeResult{Retry: true}
		case next == nil:
			return shim.ChallengeResult{}
		}
		cr = next
		if asked > 0 {
			break
		}
		changed, err := r.serve()
		if err != nil {
			return r.fail(c, err)
		}
		if !changed {
			break
		}
	}
	r.warnNoKeyring()
	granted := r.waiter(cr.ElicitationID) // before the browser can come back
	if r.open(cr.URL) {
		r.logf("opened the browser to authorize %s; waiting for the consent", r.Server)
		if err := r.wait(ctx, cr, granted); err != nil {
			return r.fail(c, err)
		}
		return shim.ChallengeResult{Retry: true}
	}
	r.logf("%s needs your consent; the link went to the MCP client", r.Server)
	r.handedOut(cr, c.Init != nil && initTakesURL(c.Init.Params))
	r.keep(ctx, cr)
	return shim.ChallengeResult{Answer: consentAnswer(c, cr)}
}

// handedOut remembers a consent whose link went to the client, so Linger
// keeps the redirect endpoint up for it.
func (r *Remote) handedOut(cr *ConsentRequired, urlMode bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.links == nil {
		r.links, r.urlMode = map[string]time.Time{}, map[string]bool{}
	}
	r.links[cr.ElicitationID] = cr.Expires
	if urlMode {
		r.urlMode[cr.ElicitationID] = true
	}
}

// Linger keeps the redirect endpoint up after the client has gone, while
// a consent whose link it was given is unanswered and unexpired (a client
// whose initialize got the link usually stops the shim, and the browser
// comes back later): it returns once every such consent is granted or
// expired, or ctx ends. The grant lands in Store, so the client's next
// start finds it. With a keeper process running (Keep) it returns at
// once: Close hands the consents over to it.
func (r *Remote) Linger(ctx context.Context) {
	r.mu.Lock()
	kept := r.keeper != nil
	r.mu.Unlock()
	if kept {
		return
	}
	for {
		r.mu.Lock()
		var id string
		var exp time.Time
		now := time.Now()
		for i, e := range r.links {
			if now.Before(e) {
				id, exp = i, e
				break
			}
			delete(r.links, i)
		}
		var w *consentWait
		if id != "" {
			w = r.waiterLocked(id)
		}
		r.mu.Unlock()
		if id == "" {
			return
		}
		r.logf("waiting up to %s for the consent to %s (the link the client was given) before exiting", time.Until(exp).Round(time.Second), r.Server)
		timer := time.NewTimer(time.Until(exp))
		select {
		case <-w.done:
			if w.failed == "" {
				r.logf("%s authorized; the client's next start uses the grant", r.Server)
			}
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
		timer.Stop()
		r.mu.Lock()
		delete(r.links, id)
		r.mu.Unlock()
	}
}

// answer decides what a refusal c of server for user calls for: a resend
// (the grant was refreshed), a consent, or nothing (a 403 that asks for no
// scope is a plain refusal, passed on).
func (m *Manager) answer(ctx context.Context, user, server string, c shim.Challenge) (retry bool, cr *ConsentRequired, err error) {
	if c.Status == http.StatusForbidden {
		_, scopes := ReadChallenge(c.Header)
		if len(scopes) == 0 {
			return false, nil, nil
		}
		cr, err := m.StepUp(ctx, user, server, scopes)
		return false, cr, err
	}
	if c.Sent != "" {
		// The server no longer takes the token: refresh it, and consent
		// again if the refresh is refused too.
		if err := m.Reject(ctx, user, server, bearer(c.Sent)); err != nil {
			return false, nil, err
		}
	}
	tok, err := m.Token(ctx, user, server)
	if err == nil {
		if "Bearer "+tok != c.Sent {
			return true, nil, nil
		}
		return false, nil, errors.New("the server refuses a token the authorization server just issued")
	}
	if errors.As(err, &cr) {
		return false, cr, nil
	}
	return false, nil, err
}

// bearer is the token of an Authorization header value.
func bearer(v string) string {
	if len(v) > 7 && (v[:7] == "Bearer " || v[:7] == "bearer ") {
		return v[7:]
	}
	return v
}

func (r *Remote) open(u string) bool {
	if r.Open == nil {
		return false
	}
	if err := r.Open(u); err != nil {
		r.logf("warning: could not open a browser: %v", err)
		return false
	}
	return true
}

// waiter is the wait for the consent id, made before its link is given
// out, so a grant that comes back at once is not missed.
func (r *Remote) waiter(id string) *consentWait {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiterLocked(id)
}

// waiterLocked is waiter with r.mu held.
func (r *Remote) waiterLocked(id string) *consentWait {
	if r.waiters == nil {
		r.waiters = map[string]*consentWait{}
	}
	w, ok := r.waiters[id]
	if !ok {
		w = &consentWait{done: make(chan struct{})}
		r.waiters[id] = w
	}
	return w
}

// wait blocks until cr's grant arrives, its consent fails, it expires, or
// ctx ends.
func (r *Remote) wait(ctx context.Context, cr *ConsentRequired, w *consentWait) error {
	timer := time.NewTimer(time.Until(cr.Expires))
	defer timer.Stop()
	select {
	case <-w.done:
		if w.failed != "" {
			return fmt.Errorf("the consent failed (%s); retry the call for a new one", w.failed)
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("no consent for %s within %s", r.Server, DefaultConsentTTL)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail answers a refused call with what went wrong (never a token).
func (r *Remote) fail(c shim.Challenge, err error) shim.ChallengeResult {
	r.logf("error: authorize %s: %v", r.Server, err)
	if !c.Call.IsCall() {
		return shim.ChallengeResult{}
	}
	return shim.ChallengeResult{Answer: rpc.ErrorResponse(c.Call.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
		Message: fmt.Sprintf("mcpgov: authorize %s: %v", r.Server, err)})}
}

// consentAnswer is the answer carrying the consent link to a call: the
// URL-mode elicitation when the client takes it, a tool error for a tool
// call, else an error whose message holds the link.
func consentAnswer(c shim.Challenge, cr *ConsentRequired) []byte {
	urlMode := false
	if c.Init != nil {
		urlMode = initTakesURL(c.Init.Params)
	}
	if !c.Call.IsCall() {
		return nil
	}
	if urlMode {
		return rpc.ErrorResponse(c.Call.ID, cr.RPCError())
	}
	if c.Call.Method == "tools/call" {
		result, _ := cr.Answer(false)
		return rpc.ResultResponse(c.Call.ID, result)
	}
	return rpc.ErrorResponse(c.Call.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: cr.ConsentText()})
}

// initTakesURL reads initialize's capabilities.elicitation.url, with
// exact keys and duplicate members refused (untrusted JSON): a malformed
// one takes the link as text.
func initTakesURL(params []byte) bool {
	var p struct {
		Capabilities jsontext.Value `json:"capabilities"`
	}
	if jsonv2.Unmarshal(params, &p, jsonv2.RejectUnknownMembers(false)) != nil {
		return false
	}
	ok, err := SupportsURLElicitation(json.RawMessage(p.Capabilities))
	return err == nil && ok
}
