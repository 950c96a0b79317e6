package cli

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/scan/fleet"
)

// uploadScan sends rep to the fleet inventory of the gateway: the
// --gateway URL, else the login profile's gateway_url. The machine is
// named by MCPGOV_MACHINE_ID when set (an asset tag from MDM), else by the
// OS's machine id; either way only an HMAC of it leaves the machine.
func uploadScan(ctx context.Context, opts *ScanOptions, rep scan.Report) error {
	f := opts.Factory
	l, err := f.localLogin()
	if err != nil {
		return err
	}
	gw := opts.Gateway
	if gw == "" {
		ls, err := l.Settings()
		if err != nil {
			return err
		}
		gw = ls.GatewayURL
	}
	if gw == "" {
		return withHint(errors.New("--upload: no gateway to upload to"), "pass --gateway URL, or set gateway_url in the login profile (mcpgov help config)")
	}
	auth, err := l.GatewayCredential(ctx, gw)
	var le *govern.LoginError
	switch {
	case errors.As(err, &le) && le.NeedsLogin, errors.Is(err, govern.ErrNoGatewayCredential):
		return &AuthError{Err: err}
	case err != nil:
		return err
	}
	raw := f.Getenv("MCPGOV_MACHINE_ID")
	id := fleet.MachineID(raw)
	if raw == "" {
		id = fleet.LocalMachineID(rep.Host.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := govern.UploadInventory(ctx, http.DefaultClient, gw, auth, rep.FleetUpload(id))
	if errors.Is(err, govern.ErrGatewayRefusedCredential) {
		return &AuthError{Err: withHint(err, "run `mcpgov login`, or set MCPGOV_TOKEN to a live token from `mcpgov gateway token create`")}
	}
	if err != nil {
		return err
	}
	opts.IO.Notef("uploaded %s to %s as machine %s (%d new)", plural(res.Servers, "server", "servers"), govern.GatewayBase(gw), res.Machine, res.New)
	return nil
}
