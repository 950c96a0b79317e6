package login

import (
	"errors"
	"fmt"
)

// Errors callers tell apart with errors.Is. Every one of them means the user
// has no usable login until they run `mcpgov login` again (or fix the
// configuration it names).
var (
	// ErrNotLoggedIn: no stored login for the profile.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrExpired: the access token expired and no refresh token is stored.
	ErrExpired = errors.New("login expired")
	// ErrRefreshRejected: the identity provider refused the refresh token
	// (revoked, rotated away, or past its lifetime).
	ErrRefreshRejected = errors.New("identity provider refused the refresh token")
	// ErrIdPUnreachable: the identity provider could not be reached.
	ErrIdPUnreachable = errors.New("identity provider unreachable")
	// ErrIssuerMismatch: the discovery document names another issuer.
	ErrIssuerMismatch = errors.New("issuer mismatch")
	// ErrNotIdP: the issuer URL answered, but not with OpenID discovery.
	ErrNotIdP = errors.New("not an OpenID provider")
	// ErrDenied: the user (or the identity provider) denied the login.
	ErrDenied = errors.New("login denied")
	// ErrCodeExpired: the device code expired before it was approved.
	ErrCodeExpired = errors.New("device code expired")
	// ErrWrongAudience: a token was issued for another audience.
	ErrWrongAudience = errors.New("token is for another audience")
	// ErrInvalidToken: a token failed verification (signature, issuer,
	// expiry, shape).
	ErrInvalidToken = errors.New("invalid token")
	// ErrKeyringUnavailable: no usable OS keyring (no session bus, no
	// Secret Service, locked, timed out).
	ErrKeyringUnavailable = errors.New("keyring unavailable")
)

// authErrors are the errors that mean "a login is needed".
var authErrors = []error{
	ErrNotLoggedIn, ErrExpired, ErrRefreshRejected, ErrIdPUnreachable, ErrIssuerMismatch,
	ErrNotIdP, ErrDenied, ErrCodeExpired, ErrWrongAudience, ErrInvalidToken,
}

// NeedsLogin reports whether err means the user must (re)run `mcpgov login`.
func NeedsLogin(err error) bool {
	for _, e := range authErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// wrap attaches a sentinel to a detailed cause: errors.Is finds the
// sentinel, the message keeps the detail.
func wrap(sentinel error, format string, args ...any) error {
	return &detailed{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}

type detailed struct {
	sentinel error
	msg      string
}

func (e *detailed) Error() string { return e.msg }
func (e *detailed) Unwrap() error { return e.sentinel }
