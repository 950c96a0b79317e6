package gateway_test

import "testing"

// initializeSession sends initialize (2025-11-25, a JSON answer) to url
// and returns the session id the gateway answered with; anything but 200
// with a session id ends the test.
func initializeSession(t *testing.T, url string) string {
	t.Helper()
	status, body, hdr := post(t, url, "", initBody, "Accept", "application/json")
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || sid == "" {
		t.Fatalf("initialize %s: %d %q (session %q)", url, status, body, sid)
	}
	return sid
}
