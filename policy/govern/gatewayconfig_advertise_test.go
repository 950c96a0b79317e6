package govern

import (
	"strings"
	"testing"
)

// TestGatewayAdvertiseURL: [gateway] advertise_url is read normalized,
// the managed file's wins, and one the other replicas could not use is
// refused naming the key, the file and what is wrong.
func TestGatewayAdvertiseURL(t *testing.T) {
	user, err := ParseConfig("/home/u/.config/mcpgov/config.toml", []byte("[gateway]\nadvertise_url = \"HTTP://GW-1.Internal:8080/\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Configs{User: user}.Gateway()
	if err != nil || s.AdvertiseURL != "http://gw-1.internal:8080" {
		t.Fatalf("advertise_url: %q %v, want http://gw-1.internal:8080", s.AdvertiseURL, err)
	}
	managed, err := ParseConfig("/etc/mcpgov/config.toml", []byte("[gateway]\nadvertise_url = \"https://10.0.0.7:8443\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := (Configs{User: user, Managed: managed}).Gateway(); err != nil || s.AdvertiseURL != "https://10.0.0.7:8443" {
		t.Errorf("managed advertise_url over the user's: %q %v", s.AdvertiseURL, err)
	}
	for v, want := range map[string]string{
		"10.0.0.7:8080":                `want an http:// or https:// URL`,
		"http://[::]:8080":             `is an address to listen on, not one the other replicas can reach`,
		"http://0.0.0.0:8080":          `is an address to listen on`,
		"http://gw:8080/mcp":           `has a path`,
		"http://gw:8080?x=1":           `has a query or fragment`,
		"http://u:secret@gw:8080":      `holds credentials`,
		"http://gw:99999":              `invalid port "99999"`,
		"http://:8080":                 `names no host`,
		"https://gw.example.com:0":     `invalid port "0"`,
		"http://gw.example.com:8080#f": `has a query or fragment`,
	} {
		bad, err := ParseConfig("/x/config.toml", []byte("[gateway]\nadvertise_url = \""+v+"\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = (Configs{User: bad}).Gateway()
		if err == nil || !strings.Contains(err.Error(), "config /x/config.toml: invalid [gateway] advertise_url: ") || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("advertise_url %q: %v, want %q", v, err, want)
		}
	}
}
