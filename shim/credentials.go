package shim

import "net/http"

// Credentials are what an upstream is given to authenticate mcpgov's
// calls (outbound credentials, see shim/creds): environment entries for a
// stdio server's launch and a function that adds headers or query
// parameters to each HTTP request. The zero value adds nothing.
type Credentials struct {
	// Env are "NAME=value" entries for the launched command.
	Env []string
	// Apply adds the credentials to one request to an HTTP upstream; nil
	// adds nothing.
	Apply func(*http.Request) error
	// Authorizer, when set, gives an HTTP upstream its bearer token and
	// answers its 401 and 403 challenges (a person's OAuth grant).
	Authorizer Authorizer
}
