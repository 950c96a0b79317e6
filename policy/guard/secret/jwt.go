package secret

import (
	"encoding/base64"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// jwtStandIn: a JWT-shaped value whose parts are words ("header.
// eyJ….signature", "eyJ….eyJ….signature"), or whose claims were written
// by hand (jwtClaimsStandIn).
func jwtStandIn(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		switch strings.ToLower(p) {
		case "header", "payload", "signature", "sig":
			return true
		}
	}
	return strings.HasPrefix(parts[1], "eyJ") && jwtClaimsStandIn(parts[1])
}

// jwtClaimsStandIn: a JWT's claims say no issuer minted it, so it
// authorises nothing anywhere. A signed token carries its claims in
// clear, and test suites and specifications write them by hand:
//   - a time (exp, nbf, iat) before 2001 (1000, 3000): JWTs exist
//     since 2010, and no issuer's clock gave such a number (0 is not
//     one: Keycloak writes "nbf": 0 for "no not-before");
//   - an issuer, or a claim named by URL, at a domain reserved for
//     documentation (example.com, .example, .test, .invalid; RFC 2606):
//     nobody can run an issuer there;
//   - an issuer or subject that is a stand-in: one letter repeated
//     ("xxx"), foo/bar, or the claim's own name ("issuer", "subject");
//   - string claims that are all foo, bar, baz or qux.
//
// Tokens of a made-up but plausible issuer ("John Doe", iat 1516239022,
// the jwt.io sample) stay findings: nothing in them tells them apart.
// The payload is read with exact keys and duplicate members refused: a
// token whose claims parsers read differently is no stand-in.
func jwtClaimsStandIn(payload string) bool {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return false
	}
	var claims map[string]any
	if jsonv2.Unmarshal(b, &claims) != nil || len(claims) == 0 {
		return false
	}
	for _, t := range []string{"exp", "nbf", "iat"} {
		if n, ok := claims[t].(float64); ok && n > 0 && n < 1e9 {
			return true
		}
	}
	for name := range claims {
		if strings.Contains(name, "://") && documentationHost(name) {
			return true
		}
	}
	if iss, ok := claims["iss"].(string); ok && (documentationHost(iss) || standInClaim(iss, "issuer")) {
		return true
	}
	if sub, ok := claims["sub"].(string); ok && standInClaim(sub, "subject") {
		return true
	}
	var strs []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case string:
			strs = append(strs, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(claims)
	for _, x := range strs {
		if !metasyntactic(x) {
			return false
		}
	}
	return len(strs) > 0
}

// standInClaim: one letter repeated, foo/bar, or the claim's name.
func standInClaim(v, name string) bool {
	l := strings.ToLower(v)
	return len(v) >= 3 && allSame(l) && l[0] >= 'a' && l[0] <= 'z' || metasyntactic(v) || l == name
}

// documentationHost: the host of a URL, an address or a bare name is
// one RFC 2606 reserves (example.com, .net, .org; the .example, .test
// and .invalid top-level domains).
func documentationHost(v string) bool {
	h := strings.ToLower(v)
	if _, rest, ok := strings.Cut(h, "://"); ok {
		h = rest
	}
	if i := strings.IndexAny(h, "/?#"); i >= 0 {
		h = h[:i]
	}
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		h = h[i+1:]
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	for _, d := range []string{"example.com", "example.net", "example.org"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	for _, tld := range []string{".example", ".test", ".invalid"} {
		if strings.HasSuffix(h, tld) {
			return true
		}
	}
	return false
}
