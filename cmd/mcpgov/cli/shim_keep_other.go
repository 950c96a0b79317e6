//go:build !unix

package cli

import (
	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/login/oauthuser"
)

// shimKeeper is nil where a socket cannot be handed to a detached
// process: the shim keeps the redirect endpoint up itself (Linger).
func shimKeeper(*Factory, audit.Identity, audit.ServerRef) oauthuser.KeepFunc { return nil }
