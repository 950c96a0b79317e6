package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
)

// dexConsentBrowserMain is "dex-consent-browser", the MCPGOV_BROWSER of
// the shim's OAuth tests: a scripted browser that opens the consent URL
// (its last argument), signs in at Dex's form as alice and follows the
// redirects to the shim's loopback endpoint. It appends "STATUS" (the
// endpoint's) or "error: …" to $CONSENT_BROWSER_LOG.
func dexConsentBrowserMain() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	status, _, err := oauthusertest.Consent(ctx, os.Args[len(os.Args)-1])
	line := fmt.Sprint(status)
	if err != nil {
		line = "error: " + err.Error()
	}
	appendLine(os.Getenv("CONSENT_BROWSER_LOG"), line)
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// followBrowserMain is "follow-browser": a browser whose authorization
// server approves at once (the conformance harness's), so following the
// redirects to the shim's endpoint is the whole consent.
func followBrowserMain() {
	resp, err := http.Get(os.Args[len(os.Args)-1])
	line := ""
	if err != nil {
		line = "error: " + err.Error()
	} else {
		resp.Body.Close()
		line = fmt.Sprint(resp.StatusCode)
	}
	appendLine(os.Getenv("CONSENT_BROWSER_LOG"), line)
}

func appendLine(path, line string) {
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}
