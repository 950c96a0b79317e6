package govern

import (
	"path/filepath"
	"testing"
	"time"
)

func TestGatewaySettingsPrecedence(t *testing.T) {
	user, err := ParseConfig("/home/u/.config/mcpgov/config.toml", []byte("[gateway]\nlisten = \"127.0.0.1:9000\"\nmax_body = 100\nidle_timeout = \"5m\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	managed, err := ParseConfig("/etc/mcpgov/config.toml", []byte("[gateway]\nmax_body = 200\nmax_sessions = 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Configs{User: user, Managed: managed}.Gateway()
	if err != nil {
		t.Fatal(err)
	}
	want := GatewaySettings{Listen: "127.0.0.1:9000", MaxBody: 200, MaxSessions: 7, IdleTimeout: 5 * time.Minute,
		TLSCert: filepath.Join("/home/u/.config/mcpgov", "c.pem"), TLSKey: filepath.Join("/home/u/.config/mcpgov", "k.pem")}
	if s.Listen != want.Listen || s.MaxBody != want.MaxBody || s.MaxSessions != want.MaxSessions || s.IdleTimeout != want.IdleTimeout || s.TLSCert != want.TLSCert || s.TLSKey != want.TLSKey {
		t.Errorf("got %+v, want %+v", s, want)
	}
	bad, _ := ParseConfig("/x/config.toml", []byte("[gateway]\nmax_sessions = -1\n"))
	if _, err := (Configs{User: bad}).Gateway(); err == nil {
		t.Error("a negative max_sessions was accepted")
	}
}
