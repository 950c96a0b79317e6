package oauthusertest

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

var formAction = regexp.MustCompile(`<form[^>]*method="post"[^>]*action="([^"]*)"`)

// Consent plays the user in a browser: it opens consentURL with a fresh
// cookie jar, signs in at Dex's password form and follows the redirects
// to the redirect endpoint. It returns that endpoint's status and page.
// It returns errors instead of failing a test, so an MCP client's
// elicitation handler can call it.
func Consent(ctx context.Context, consentURL string) (int, string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	status, page, final, err := get(ctx, c, consentURL, nil)
	if err != nil {
		return 0, "", err
	}
	m := formAction.FindStringSubmatch(page)
	if m == nil || !strings.Contains(m[1], "/auth/local/login") {
		return status, page, fmt.Errorf("no login form at %s (status %d)", final, status)
	}
	action, err := final.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return 0, "", err
	}
	status, page, _, err = get(ctx, c, action.String(), url.Values{"login": {User}, "password": {Password}})
	return status, page, err
}

// LoginForm finds Dex's password sign-in form in a page; its first
// group is the form's action (HTML-escaped).
var LoginForm = regexp.MustCompile(`<form[^>]*method="post"[^>]*action="([^"]*/auth/local/login[^"]*)"`)

// OpenAs plays person (a Dex user whose password is Password) opening
// link in a fresh browser: each Dex sign-in form on the way, three at
// most, is filled in as them; redirects and cookies are followed. It
// returns the status and page where the browser ended.
func OpenAs(ctx context.Context, link, person string) (int, string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	status, page, at, err := get(ctx, c, link, nil)
	for signins := 0; err == nil && signins < 3; signins++ {
		m := LoginForm.FindStringSubmatch(page)
		if m == nil {
			break
		}
		action, perr := at.Parse(html.UnescapeString(m[1]))
		if perr != nil {
			return 0, "", perr
		}
		status, page, at, err = get(ctx, c, action.String(), url.Values{"login": {person}, "password": {Password}})
	}
	return status, page, err
}

func get(ctx context.Context, c *http.Client, u string, form url.Values) (int, string, *url.URL, error) {
	method, body := http.MethodGet, io.Reader(nil)
	if form != nil {
		method, body = http.MethodPost, strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, "", nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Request.URL, err
}
