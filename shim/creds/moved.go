package creds

import (
	"fmt"
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
