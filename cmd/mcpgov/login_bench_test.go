//go:build unix

package main

import (
	"strings"
	"testing"
)

// benchLogin is a logged-in sandbox on a fresh Dex.
func benchLogin(b *testing.B) (*dex, *loginSandbox) {
	d := startDex(b, "5m")
	sb := newSandbox(b)
	sb.config(dexProfile(d))
	m, wait := sb.startLogin(`open this URL to log in:\s+(\S+)`, "--web")
	browserLogin(b, d, m[1], nil)
	if r := wait(); r.Code != 0 {
		b.Fatalf("login: %s", r.Stderr)
	}
	return d, sb
}

// BenchmarkLoginRefresh: `mcpgov auth token` with an expired access token,
// so each run refreshes at Dex (process start + discovery + refresh grant
// + ID token verification + keyring-less store).
func BenchmarkLoginRefresh(b *testing.B) {
	_, sb := benchLogin(b)
	for b.Loop() {
		b.StopTimer()
		sb.expire("default")
		b.StartTimer()
		sb.must("", "auth", "token")
	}
}

// BenchmarkLoginTokenFresh is the baseline: the same command when the
// token is fresh (process start and one file read).
func BenchmarkLoginTokenFresh(b *testing.B) {
	_, sb := benchLogin(b)
	for b.Loop() {
		sb.must("", "auth", "token")
	}
}

// BenchmarkLoginWeb: a whole --web login (PKCE) including the scripted
// browser's two requests to Dex.
func BenchmarkLoginWeb(b *testing.B) {
	d := startDex(b, "5m")
	sb := newSandbox(b)
	sb.config(dexProfile(d))
	for b.Loop() {
		m, wait := sb.startLogin(`open this URL to log in:\s+(\S+)`, "--web")
		if page := browserLogin(b, d, m[1], nil); !strings.Contains(page, "login complete") {
			b.Fatal(page)
		}
		if r := wait(); r.Code != 0 {
			b.Fatal(r.Stderr)
		}
	}
}
