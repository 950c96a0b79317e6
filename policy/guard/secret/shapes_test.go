package secret

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestShapeFindings builds tokens of each shape from a seeded generator
// (no token-shaped literal is committed) and checks them found in text,
// with the near misses beside them not found.
func TestShapeFindings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(alphabet string, n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	const hex = "0123456789abcdef"
	discord := "N" + pick(b64, 23) + "." + pick(b64, 6) + "." + pick(b64, 27)
	telegram := "7" + pick("0123456789", 9) + ":AA" + pick(b64, 33)
	mailchimp := pick(hex, 32) + "-us12"
	for in, want := range map[string]string{
		"token: " + discord:               RuleDiscord,
		"bot=" + telegram + " end":        RuleTelegram,
		"key " + mailchimp:                RuleMailchimp,
		"v" + discord[1:]:                 "", // first letter not M, N or O
		"x" + telegram:                    "", // the id runs into a word
		mailchimp[1:]:                     "", // 31 hex digits
		"see docs.example.com/a.b.c.html": "",
	} {
		fs := shapeFindings(in)
		got := ""
		if len(fs) > 0 {
			got = fs[0].Rule
		}
		if got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
