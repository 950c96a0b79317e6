package govern

import (
	"strings"
	"testing"
	"time"
)

// TestGatewayInputTimeout: [gateway] input_timeout is read as a duration,
// the managed file's wins, and a bad one is refused naming the key.
func TestGatewayInputTimeout(t *testing.T) {
	user, err := ParseConfig("/home/u/.config/mcpgov/config.toml", []byte("[gateway]\ninput_timeout = \"3m\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Configs{User: user}.Gateway()
	if err != nil || s.InputTimeout != 3*time.Minute {
		t.Fatalf("input_timeout 3m: %v %v", s.InputTimeout, err)
	}
	managed, err := ParseConfig("/etc/mcpgov/config.toml", []byte("[gateway]\ninput_timeout = \"20m\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := (Configs{User: user, Managed: managed}).Gateway(); err != nil || s.InputTimeout != 20*time.Minute {
		t.Errorf("managed input_timeout 20m over the user's 3m: %v %v", s.InputTimeout, err)
	}
	for _, v := range []string{"soon", "0s", "-1m"} {
		bad, err := ParseConfig("/x/config.toml", []byte("[gateway]\ninput_timeout = \""+v+"\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (Configs{User: bad}).Gateway(); err == nil || !strings.Contains(err.Error(), `invalid [gateway] input_timeout "`+v+`": want a duration like 10m`) {
			t.Errorf("input_timeout %q: %v", v, err)
		}
	}
}
