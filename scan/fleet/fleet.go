// Package fleet is the central inventory of the machines that run
// `mcpgov scan --upload`: what one machine sends (Upload), and the
// gateway's record of every server seen on every machine with when it was
// first and last seen, so a security team can tell how long a server has
// been running and which teams run servers the catalog does not know.
//
// An upload carries no file path, local user name, argument or
// environment value: only what identifies a server (its launch identity,
// as scan derives it with the home directory folded to ~), its name and
// client, and what the catalog said of it. The uploader is the caller the
// gateway authenticated, never a name the machine claims.
//
// The package is a leaf (it imports nothing of mcpgov) so the gateway can
// keep the store without importing the scanner.
package fleet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

// SchemaVersion is the version of Upload's and Inventory's JSON forms.
const SchemaVersion = 1

// Limits of one upload, so a machine cannot make the gateway hold
// unbounded data.
const (
	MaxServers  = 20000
	maxFieldLen = 512
)

// Upload is one machine's inventory as the gateway receives it.
type Upload struct {
	SchemaVersion int       `json:"schemaVersion"`
	Machine       Machine   `json:"machine"`
	ScannedAt     time.Time `json:"scannedAt"`
	Servers       []Server  `json:"servers"`
}

// Machine identifies the machine an upload comes from.
type Machine struct {
	// ID is stable across uploads of one machine (see MachineID).
	ID      string `json:"id"`
	Name    string `json:"name"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Scanner string `json:"scanner"`
}

// Server is one configured server entry of an upload.
type Server struct {
	// Identity is what the entry launches or reaches (npm:pkg,
	// url:https://host/path, exec:~/bin/x), the key servers are counted by.
	Identity  string `json:"identity"`
	Name      string `json:"name"`
	Client    string `json:"client"`
	Scope     string `json:"scope"`
	Transport string `json:"transport"`
	// Catalog is the catalog entry the scan matched ("" for none) and
	// Status its status there.
	Catalog string `json:"catalog,omitempty"`
	Status  string `json:"status,omitempty"`
	// Shadow is true when the scan found the server outside the catalog.
	Shadow   bool `json:"shadow"`
	Governed bool `json:"governed"`
	Disabled bool `json:"disabled"`
	// Findings are the rules of the scan's findings (no messages: those
	// may quote paths or values).
	Findings []string `json:"findings,omitempty"`
}

// Uploader is who sent an upload, as the gateway authenticated them.
type Uploader struct {
	Subject string   `json:"subject"`
	Method  string   `json:"method"`
	Groups  []string `json:"groups,omitempty"`
}

// Result is what the gateway answers an upload.
type Result struct {
	Machine string `json:"machine"`
	Servers int    `json:"servers"`
	// New counts the servers this machine had not reported before.
	New int `json:"new"`
}

// Store keeps the fleet's inventory. FileStore is the embedded one; a
// shared store for gateway replicas implements the same two methods.
type Store interface {
	Record(ctx context.Context, u Upload, by Uploader, now time.Time) (Result, error)
	Inventory(ctx context.Context) (Inventory, error)
}

// ErrInvalid marks an upload refused for its content.
var ErrInvalid = errors.New("invalid inventory upload")

// Validate checks an upload before it is stored.
func (u *Upload) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if u.SchemaVersion != SchemaVersion {
		return bad("schemaVersion %d, want %d", u.SchemaVersion, SchemaVersion)
	}
	if u.Machine.ID == "" {
		return bad("machine.id is empty")
	}
	if len(u.Servers) > MaxServers {
		return bad("%d servers, at most %d", len(u.Servers), MaxServers)
	}
	for _, f := range []struct{ name, v string }{{"machine.id", u.Machine.ID}, {"machine.name", u.Machine.Name}, {"machine.os", u.Machine.OS}, {"machine.arch", u.Machine.Arch}, {"machine.scanner", u.Machine.Scanner}} {
		if len(f.v) > maxFieldLen {
			return bad("%s is longer than %d bytes", f.name, maxFieldLen)
		}
	}
	for i, s := range u.Servers {
		if s.Identity == "" {
			return bad("servers[%d].identity is empty", i)
		}
		for _, f := range []string{s.Identity, s.Name, s.Client, s.Scope, s.Transport, s.Catalog, s.Status} {
			if len(f) > maxFieldLen {
				return bad("servers[%d] has a field longer than %d bytes", i, maxFieldLen)
			}
		}
		if len(s.Findings) > 64 {
			return bad("servers[%d] has %d findings, at most 64", i, len(s.Findings))
		}
	}
	return nil
}

// MachineID derives a machine's fleet id from a stable local identifier
// (Linux's /etc/machine-id, macOS's IOPlatformUUID, Windows' MachineGuid,
// or the host name as a last resort). The raw identifier is never sent:
// like systemd's sd_id128_get_machine_app_specific, the id is an HMAC of
// it keyed for this application, so it cannot be joined with other data
// that carries the raw value.
func MachineID(raw string) string {
	m := hmac.New(sha256.New, []byte("mcpgov fleet machine id v1"))
	m.Write([]byte(strings.TrimSpace(raw)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Decode parses an upload the way every decision on untrusted JSON is
// parsed here: member names match exactly, a duplicate or unknown member
// is an error, and the result is validated.
func Decode(body []byte) (Upload, error) {
	var u Upload
	if err := jsonv2.Unmarshal(body, &u, jsonv2.RejectUnknownMembers(true)); err != nil {
		return Upload{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := u.Validate(); err != nil {
		return Upload{}, err
	}
	return u, nil
}
