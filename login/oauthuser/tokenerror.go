package oauthuser

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// ErrorAnswer words a token endpoint's error answer (RFC 6749 §5.2) by
// its error code and description: "invalid_grant (the code expired)",
// "invalid_grant" when it gives no description, "no error code" when it
// names none. Never the body, which may echo what was sent. A character
// outside printable ASCII (§5.2's set, with its quote and backslash kept)
// becomes '?', and a long code or description is cut, so an answer
// cannot put lines or terminal escapes into an error or an audit record.
func ErrorAnswer(code, description string) string {
	code, description = printable(code, 64), printable(description, 256)
	switch {
	case code == "":
		return "no error code"
	case description == "":
		return code
	}
	return code + " (" + description + ")"
}

// TokenError words a token request of golang.org/x/oauth2 that the token
// endpoint refused (a *oauth2.RetrieveError) by its status and its
// ErrorAnswer: "the token endpoint answered 400 Bad Request: invalid_grant
// (the code expired)". It keeps neither the body nor the RetrieveError,
// whose text is the body. Any other error (the endpoint not reached) is
// returned as it is.
func TokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	status := "an error"
	if re.Response != nil {
		status = re.Response.Status
	}
	return fmt.Errorf("the token endpoint answered %s: %s", status, ErrorAnswer(re.ErrorCode, re.ErrorDescription))
}

// printable is s with every character outside printable ASCII as '?',
// cut to max bytes (marked with "...").
func printable(s string, max int) string {
	cut := len(s) > max
	if cut {
		s = s[:max]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	if cut {
		s += "..."
	}
	return s
}
