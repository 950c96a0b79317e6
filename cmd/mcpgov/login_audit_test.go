//go:build unix

package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestLoginShimAuditIdentity: the audit record of a shim call carries the
// logged-in user's verified subject, email, groups and issuer; a call made
// without a login (audit mode) is recorded as unauthenticated.
func TestLoginShimAuditIdentity(t *testing.T) {
	d := startDex(t, "5m")
	sb := newSandbox(t)
	bundle := writeBundle(t)
	sb.config(dexProfile(d))

	cs, _ := sb.shim("--bundle", bundle, "--mode", "audit", "--", "fake-mcp-server")
	if _, isErr := echo(t, cs); isErr {
		t.Fatal("audit mode refused a call")
	}
	cs.Close()

	deviceLogin(t, d, sb).wantExit(t, 0)
	st, _ := sb.status()
	cs, _ = sb.shim("--bundle", bundle, "--", "fake-mcp-server")
	if text, isErr := echo(t, cs); isErr || text != "hello" {
		t.Fatalf("enforce mode after login: isError=%v %q", isErr, text)
	}
	cs.Close()

	out := sb.must("", "audit", "query", "--format", "jsonl", "--tool", "echo").Stdout
	type identity struct {
		Subject, Email, Issuer, Method string
		Groups                         []string
	}
	var ids []identity
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Identity identity `json:"identity"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit record %q: %v", line, err)
		}
		ids = append(ids, rec.Identity)
	}
	if len(ids) != 2 {
		t.Fatalf("want 2 echo records, got %d:\n%s", len(ids), out)
	}
	if ids[0].Method != "none" || ids[0].Subject != "" {
		t.Errorf("the call without a login was recorded as %+v, want method none", ids[0])
	}
	got := ids[1]
	if got.Method != "oidc" || got.Subject == "" || got.Subject != st["subject"] || got.Email != "alice@example.com" ||
		got.Issuer != d.Issuer || strings.Join(got.Groups, ",") != "eng,mcp-admins" {
		t.Errorf("the logged-in call was recorded as %+v; want subject %v, alice's email and groups eng, mcp-admins, issuer %s", got, st["subject"], d.Issuer)
	}
}
