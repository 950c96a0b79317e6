package secret

import (
	"encoding/base64"
	"testing"
)

// TestJWTClaimsWrittenByHand: a JWT whose claims no issuer could have
// minted (a time before 2001, an issuer at a documentation domain, xxx or
// foo/bar claims, claims named after themselves) is a stand-in; the same
// token with claims of a plausible issuer stays a finding. The claims and
// signatures are made up here.
func TestJWTClaimsWrittenByHand(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"HS256","typ":"JWT"}`))
	const sig = "Xq3vR8kT2mLw9ZpYc4HbN7sJfA1dEoU6iGtK0rVyQhM"
	jwt := func(claims string) string { return header + "." + enc([]byte(claims)) + "." + sig }
	for claims, want := range map[string]bool{
		`{"iss":"xxx","exp":3000}`:                                             false,
		`{"iss":"https://auth.acme-corp.io","exp":3000}`:                       false, // a time before 2001
		`{"iss":"https://auth.acme-corp.io","nbf":1000.5}`:                     false,
		`{"iss":"https://auth.acme-corp.io","exp":1893456000}`:                 true,
		`{"iss":"pki.example.com","sub":"u-83120"}`:                            false,
		`{"iss":"https://login.corp.test/realms/a","sub":"u-83120"}`:           false,
		`{"iss":"pki.acme-corp.io","sub":"u-83120"}`:                           true,
		`{"iss":"joe","http://example.com/is_root":true}`:                      false, // RFC 7519's own example
		`{"iss":"joe","https://acme-corp.io/is_root":true}`:                    true,
		`{"Scopes":["foo","bar"],"nbf":1451606400}`:                            false,
		`{"Scopes":["read","write"],"nbf":1451606400}`:                         true,
		`{"iss":"issuer","sub":"subject","scopes":["s1","s2"]}`:                false,
		`{"sub":"1234567890","name":"John Doe","iat":1516239022}`:              true, // nothing tells it apart
		`{"iss":"http://localhost:8081/realms/demo","nbf":0,"exp":15699145}`:   false,
		`{"iss":"http://localhost:8081/realms/demo","nbf":0,"exp":1569914554}`: true, // Keycloak's "no not-before"
		`{"iss":"xxx","iss":"https://auth.acme-corp.io"}`:                      true, // duplicate claims: no stand-in
		`{"ISS":"xxx","sub":"u-83120"}`:                                        true, // exact names
	} {
		v := jwt(claims)
		got := false
		for _, f := range Find("", "token: "+v) {
			got = got || f.Rule == RuleJWT
		}
		if got != want {
			t.Errorf("%s: JWT finding %v, want %v", claims, got, want)
		}
	}
}
