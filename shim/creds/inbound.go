package creds

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim"
)

// HeadersHeader carries caller-supplied headers per upstream:
// {"server-id": {"Authorization": "…"}}. Each server of auth type headers
// gets its own entry, and no other server sees it.
const HeadersHeader = "X-Mcpgov-Mcp-Headers"

// inboundToken is the caller's bearer token, "" when none.
func inboundToken(r *http.Request) string {
	if r == nil {
		return ""
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// passthrough forwards the caller's token, only when its audience is the
// server's: a token minted for the gateway (or anyone else) is never
// handed to an upstream (MCP security best practices, token passthrough).
func passthrough(s *catalog.Server, req Request) (shim.Credentials, error) {
	tok := inboundToken(req.Inbound)
	if tok == "" {
		return shim.Credentials{}, &Error{Server: s.ID, Err: errors.New("passthrough needs the caller's bearer token; there is none"), Hint: "reach the server through the gateway with a token for " + s.Auth.Audience}
	}
	aud, err := audiences(tok)
	if err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: fmt.Errorf("passthrough refused: %w", err)}
	}
	if !slices.Contains(aud, s.Auth.Audience) {
		return shim.Credentials{}, &Error{Server: s.ID, Err: fmt.Errorf("passthrough refused: the caller's token is for %s, not the server's audience %s", strings.Join(quoted(aud), ", "), s.Auth.Audience), Hint: "get a token whose audience is the server's, or use token_exchange"}
	}
	return bearer(s, req.Stdio, tok)
}

func quoted(list []string) []string {
	if len(list) == 0 {
		return []string{"no audience"}
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// audiences reads a JWT's aud claim. The gateway verified the token when
// it identified the caller; this only reads whom it is for.
func audiences(tok string) ([]string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("the caller's token is not a JWT, so its audience cannot be checked")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the caller's token has an unreadable payload")
	}
	var claims struct {
		Aud jsontext.Value `json:"aud"`
	}
	if err := jsonv2.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("the caller's token has unreadable claims: %w", err)
	}
	var one string
	if jsonv2.Unmarshal(claims.Aud, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := jsonv2.Unmarshal(claims.Aud, &many); err != nil {
		return nil, errors.New("the caller's token has no aud claim")
	}
	return many, nil
}

// forbiddenHeaders are headers a caller may not set on an upstream: they
// belong to the connection or to the protocol.
var forbiddenHeaders = []string{"Host", "Content-Length", "Content-Type", "Connection", "Transfer-Encoding", "Te", "Upgrade", "Accept", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-Id", HeadersHeader}

// callerHeaders delivers the headers the caller named for this server in
// HeadersHeader, and nothing for any other server.
func callerHeaders(s *catalog.Server, req Request) (shim.Credentials, error) {
	all, err := ParseHeaders(req.Inbound)
	if err != nil {
		return shim.Credentials{}, &Error{Server: s.ID, Err: err, Hint: `send ` + HeadersHeader + `: {"server-id": {"Header-Name": "value"}}`}
	}
	mine := all[s.ID]
	if len(mine) == 0 {
		return shim.Credentials{}, nil
	}
	if req.Stdio {
		return shim.Credentials{}, &Error{Server: s.ID, Err: errors.New("caller headers need an HTTP server; this one is launched over stdio")}
	}
	return shim.Credentials{Apply: func(r *http.Request) error {
		for k, v := range mine {
			r.Header.Set(k, v)
		}
		return nil
	}}, nil
}

// ParseHeaders decodes HeadersHeader from r: strict JSON (duplicate
// members refused, values strings), header names checked. More than one
// HeadersHeader line is refused, as a duplicate member would be.
func ParseHeaders(r *http.Request) (map[string]map[string]string, error) {
	if r == nil {
		return nil, nil
	}
	lines := r.Header.Values(HeadersHeader)
	if len(lines) == 0 {
		return nil, nil
	}
	if len(lines) > 1 {
		return nil, fmt.Errorf("%s: sent %d times; send one JSON object", HeadersHeader, len(lines))
	}
	var m map[string]map[string]string
	if err := jsonv2.Unmarshal([]byte(lines[0]), &m); err != nil {
		return nil, fmt.Errorf("%s: %w", HeadersHeader, redactJSONError(err))
	}
	out := map[string]map[string]string{}
	for id, hs := range m {
		canon := map[string]string{}
		for k, v := range hs {
			ck := http.CanonicalHeaderKey(k)
			if !validHeaderName(k) || slices.Contains(forbiddenHeaders, ck) {
				return nil, fmt.Errorf("%s: server %q: header %q may not be set by the caller", HeadersHeader, id, k)
			}
			if _, dup := canon[ck]; dup {
				return nil, fmt.Errorf("%s: server %q: header %q given twice", HeadersHeader, id, k)
			}
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, fmt.Errorf("%s: server %q: header %q has a control character in its value", HeadersHeader, id, k)
			}
			canon[ck] = v
		}
		out[id] = canon
	}
	return out, nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

// redactJSONError keeps where the JSON is wrong, not what it holds (the
// values are credentials).
func redactJSONError(err error) error {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		return fmt.Errorf("want an object of objects of strings (at %s)", se.JSONPointer)
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d (%s)", syn.ByteOffset, firstWords(syn.Err))
	}
	return errors.New("invalid JSON")
}

func firstWords(err error) string {
	if err == nil {
		return "syntax"
	}
	return err.Error()
}
