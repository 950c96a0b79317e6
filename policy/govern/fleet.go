package govern

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/mcpgov/mcpgov/scan/fleet"
)

// FleetStore is the embedded fleet inventory: inventory.json in the state
// directory's gateway, changed under a file lock and replaced atomically,
// so `mcpgov gateway inventory` can read it while the gateway writes.
type FleetStore struct {
	Path string
	mu   sync.Mutex // one writer in this process; the file lock orders processes
}

var _ fleet.Store = (*FleetStore)(nil)

// FleetStorePath is the embedded fleet store's path.
func FleetStorePath(env Env) (string, error) {
	dir, err := StateDir(env, "gateway")
	if err != nil {
		return "", fmt.Errorf("fleet inventory: %w", err)
	}
	return filepath.Join(dir, "inventory.json"), nil
}

// OpenFleetStore returns the embedded fleet store of env's state directory.
func OpenFleetStore(env Env) (*FleetStore, error) {
	p, err := FleetStorePath(env)
	if err != nil {
		return nil, err
	}
	return &FleetStore{Path: p}, nil
}

// Record stores one machine's upload.
func (s *FleetStore) Record(_ context.Context, u fleet.Upload, by fleet.Uploader, now time.Time) (fleet.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res fleet.Result
	err := withFileLock(s.Path, func() error {
		st, err := s.read()
		if err != nil {
			return err
		}
		res = st.Apply(u, by, now)
		b, err := jsonv2.Marshal(st)
		if err != nil {
			return err
		}
		return writeFileAtomic(s.Path, append(b, '\n'), ".inventory-*")
	})
	if err != nil {
		return fleet.Result{}, fmt.Errorf("fleet inventory: %w", err)
	}
	return res, nil
}

// Inventory returns the fleet's inventory; an empty one before any upload.
func (s *FleetStore) Inventory(context.Context) (fleet.Inventory, error) {
	st, err := s.read()
	if err != nil {
		return fleet.Inventory{}, fmt.Errorf("fleet inventory: %w", err)
	}
	return st.Summarize(), nil
}

func (s *FleetStore) read() (*fleet.State, error) {
	st := &fleet.State{Version: fleet.SchemaVersion}
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := jsonv2.Unmarshal(b, st, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	return st, nil
}

// ErrNoGatewayCredential is returned by GatewayCredential when there is
// no credential the gateway could accept.
var ErrNoGatewayCredential = errors.New("no credential")

// ErrGatewayRefusedCredential is returned by UploadInventory when the
// gateway answers 401: the credential is missing, expired or revoked.
var ErrGatewayRefusedCredential = errors.New("the gateway refused the credential")

// UploadInventory sends u to the fleet endpoint of the gateway at
// gatewayURL (its base or its /mcp URL) with the request headers auth
// (the caller's Authorization) and returns what the gateway recorded.
func UploadInventory(ctx context.Context, client *http.Client, gatewayURL string, auth http.Header, u fleet.Upload) (fleet.Result, error) {
	body, err := jsonv2.Marshal(u)
	if err != nil {
		return fleet.Result{}, err
	}
	endpoint := GatewayBase(gatewayURL) + "/inventory"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fleet.Result{}, fmt.Errorf("upload the inventory to %s: %w", endpoint, err)
	}
	for k, vs := range auth {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fleet.Result{}, fmt.Errorf("upload the inventory: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fleet.Result{}, fmt.Errorf("upload the inventory to %s: %w: %s", endpoint, ErrGatewayRefusedCredential, gatewayMessage(answer))
	case resp.StatusCode != http.StatusOK:
		return fleet.Result{}, fmt.Errorf("upload the inventory to %s: HTTP %d: %s", endpoint, resp.StatusCode, gatewayMessage(answer))
	}
	var res fleet.Result
	if err := jsonv2.Unmarshal(answer, &res); err != nil {
		return fleet.Result{}, fmt.Errorf("upload the inventory to %s: the gateway's answer: %w", endpoint, err)
	}
	return res, nil
}

// gatewayMessage is the gateway's one-line error text, without its prefix.
func gatewayMessage(b []byte) string {
	s := strings.TrimSpace(string(b))
	s = strings.TrimPrefix(s, "mcpgov: ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// GatewayCredential returns the Authorization header for a request to the
// gateway at gatewayURL that is not an MCP call (a fleet upload): the
// service or personal token in MCPGOV_TOKEN, else the login's token when
// gatewayURL is the login profile's gateway_url. A login token is never
// sent to another host.
func (l *LocalLogin) GatewayCredential(ctx context.Context, gatewayURL string) (http.Header, error) {
	if tok := l.Env.getenv("MCPGOV_TOKEN"); tok != "" {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		return h, nil
	}
	h, err := l.UpstreamHeaders(ctx, GatewayBase(gatewayURL)+"/mcp")
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, WithHint(fmt.Errorf("%w for the gateway %s: the login profile's gateway_url names another gateway, or none", ErrNoGatewayCredential, GatewayBase(gatewayURL)),
			"set gateway_url in the login profile (mcpgov help config) and run `mcpgov login`, or set MCPGOV_TOKEN to a token from `mcpgov gateway token create`")
	}
	return h, nil
}
