package creds

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// AppendArgs puts back the secrets `mcpgov wrap --move-secrets` took out
// of a command's arguments: each resolved "N=value" (shim --secret-arg)
// is appended to argument N of args (0 is the first after the command),
// which the config left holding what came before the value (--api-key=,
// or nothing). args is not changed; an index past its end is an error
// that names the flag, never the value.
func AppendArgs(args []string, resolved []string) ([]string, error) {
	if len(resolved) == 0 {
		return args, nil
	}
	out := append([]string(nil), args...)
	for _, r := range resolved {
		n, v, _ := strings.Cut(r, "=")
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 || i >= len(out) {
			return nil, fmt.Errorf("--secret-arg %s: the server's command line has no argument %s (it has %d)", n, n, len(out))
		}
		out[i] += v
	}
	return out, nil
}

// FillURL puts back the parts of a URL `mcpgov wrap --move-secrets` took
// out of a config: each resolved "NAME=value" (shim --secret-query) fills
// the empty value of query parameter NAME, as written, and userinfo
// (shim --secret-userinfo), when set, goes back before the host. Nothing
// else of the URL changes, so the server gets the request it got before.
// Errors name the parameter, never a value.
func FillURL(raw string, query []string, userinfo string) (string, error) {
	u := raw
	if userinfo != "" {
		i := strings.Index(u, "://")
		if i < 0 {
			return "", fmt.Errorf("--secret-userinfo: the URL has no scheme:// to put a user before")
		}
		u = u[:i+3] + userinfo + "@" + u[i+3:]
	}
	for _, r := range query {
		name, value, _ := strings.Cut(r, "=")
		q := strings.IndexByte(u, '?')
		if q < 0 {
			return "", fmt.Errorf("--secret-query %s: the URL has no query", name)
		}
		end := len(u)
		if h := strings.IndexByte(u[q:], '#'); h >= 0 {
			end = q + h
		}
		at, done := q+1, false
		for _, pair := range strings.Split(u[q+1:end], "&") {
			if pair == name+"=" {
				u = u[:at+len(pair)] + value + u[at+len(pair):]
				done = true
				break
			}
			at += len(pair) + 1
		}
		if !done {
			return "", fmt.Errorf("--secret-query %s: the URL has no empty %s= parameter to fill", name, name)
		}
	}
	return u, nil
}

// Origin is the origin of an http(s) URL, as wrap --move-secrets records
// it beside the secrets it takes out of a remote entry (shim
// --secret-origin): scheme://host:port, scheme and host in lower case and
// the port always written (80 for http, 443 for https when the URL has
// none), so two spellings of one origin compare equal. Errors say what is
// wrong, never the URL's userinfo or query.
func Origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme != "http" && scheme != "https":
		return "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.Hostname() == "":
		return "", errors.New("no host")
	case port == "" && scheme == "http":
		port = "80"
	case port == "":
		port = "443"
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// ValidOrigin says whether s is an origin Origin can compare: an http(s)
// URL of scheme, host and port only (a "/" path is allowed).
func ValidOrigin(s string) error {
	if _, err := Origin(s); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return errors.New("it has more than scheme://host:port")
	}
	return nil
}

// ErrOrigin is CheckOrigin's refusal.
var ErrOrigin = errors.New("moved secrets refused for another origin")

// CheckOrigin refuses to send a moved secret to a URL whose origin is not
// the one wrap took it from (shim --secret-origin): a careless edit of the
// wrapped entry's --url (another host, a typo'd domain) must not carry the
// vault's value there. An empty recorded origin (an entry wrapped before
// origins were recorded) checks nothing.
func CheckOrigin(recorded, target string) error {
	if recorded == "" {
		return nil
	}
	want, err := Origin(recorded)
	if err != nil {
		return fmt.Errorf("--secret-origin: %v; want scheme://host:port", err)
	}
	got, err := Origin(target)
	if err != nil {
		return fmt.Errorf("--url: %v", err)
	}
	if got != want {
		return fmt.Errorf("%w: --url's origin is %s, its moved secrets (--secret-header, --secret-bearer, --secret-query, --secret-userinfo) were taken from %s (--secret-origin); none was sent", ErrOrigin, got, want)
	}
	return nil
}
