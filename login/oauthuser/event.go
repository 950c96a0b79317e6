package oauthuser

import (
	"context"
	"time"
)

// EventKind says what happened to a grant.
type EventKind string

// The events a Manager reports, one per grant, refresh, use, revocation
// and consent request.
const (
	EventGrant            EventKind = "grant"             // the user consented; tokens stored
	EventRefresh          EventKind = "refresh"           // a refresh grant renewed the access token
	EventUse              EventKind = "use"               // Token handed an access token to a caller
	EventRevoke           EventKind = "revoke"            // Revoke removed the grant
	EventConsentRequested EventKind = "consent_requested" // a call needs consent; a consent URL was made
	EventConsentFailed    EventKind = "consent_failed"    // the redirect came back with an error or a bad state
	// EventConsentUnchecked: consents are not bound to the person they
	// were made for (no PersonCheck configured); emitted once at start.
	EventConsentUnchecked EventKind = "consent_unchecked"
	EventRefreshRejected  EventKind = "refresh_rejected" // the authorization server refused the refresh token
	// EventOtherIssuer: the server's authorization server (or client) is
	// no longer the one that issued the user's grant; the grant is not
	// refreshed or revoked there, and a new consent is asked for.
	EventOtherIssuer EventKind = "other_issuer"
)

// Event is an audit fact about a grant. It never carries a token, a code,
// a state or a verifier.
type Event struct {
	Kind   EventKind
	Time   time.Time
	User   string
	Server string
	// ElicitationID ties consent_requested, grant and consent_failed
	// together; the gateway sends notifications/elicitation/complete with
	// it on grant.
	ElicitationID string
	Scopes        []string
	Expiry        time.Time
	// AtIssuer reports, for revoke, whether the authorization server
	// revoked the refresh token too (false when it offers no RFC 7009
	// endpoint or there was nothing to revoke).
	AtIssuer bool
	// Reason is a short error code or description for the failure kinds
	// (an OAuth error code such as invalid_grant), never a secret.
	Reason string
}

// Sink receives events. OAuthEvent must not block for long: it runs on
// the caller's path (the redirect handler, a tool call).
type Sink interface {
	OAuthEvent(ctx context.Context, e Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, e Event)

// OAuthEvent calls f.
func (f SinkFunc) OAuthEvent(ctx context.Context, e Event) { f(ctx, e) }
