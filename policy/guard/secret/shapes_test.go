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

// TestOpenAIMarker: a project key of any half lengths is found by the
// "T3BlbkFJ" marker; the marker without the halves is not a key.
func TestOpenAIMarker(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	half := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alnum[r.IntN(len(alnum))]
		}
		return string(b)
	}
	for _, n := range []int{20, 58, 74} {
		key := "sk-proj-" + half(n) + "T3BlbkFJ" + half(n)
		if fs := Find("", "OPENAI_API_KEY="+key); len(fs) == 0 || fs[0].Rule != RuleOpenAI {
			t.Errorf("halves of %d: %v", n, fs)
		}
	}
	if fs := Find("", "the marker sk-proj-T3BlbkFJ alone"); len(fs) != 0 {
		t.Errorf("marker alone: %v", fs)
	}
}
