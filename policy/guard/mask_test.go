package guard

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// Issue 12 item 8: secrets and personal data where a value-only check
// missed them or where mcpgov's own output carried them.

const (
	testEmail = "jane.doe@example.com"
	testCard  = "4111 1111 1111 1111"
	testGH    = "ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c"
)

func findingsOf(rs []Result) []Finding {
	var out []Finding
	for _, r := range rs {
		out = append(out, r.Findings...)
	}
	return out
}

// TestKeysAreChecked: an email or a token used as an object key is found
// (pre) and redacted from a result (post), the keys kept distinct.
func TestKeysAreChecked(t *testing.T) {
	s := mustSet(t, `
[defaults]
mode = "enforce"
[guardrails.pii]
hooks = ["pre", "post"]
[guardrails.secrets]
`)
	req := request(t, HookPre, `{"scores":{"`+testEmail+`":3}}`)
	fs := findingsOf(s.Run(context.Background(), req))
	if len(fs) != 1 || fs[0].Rule != "pii.email" {
		t.Fatalf("email key: findings %+v, want one pii.email", fs)
	}

	raw := `{"structuredContent":{"` + testEmail + `":1,"john@example.org":2,"` + testGH + `":"x","ok":"fine"}}`
	req = request(t, HookPost, raw)
	rs := s.Run(context.Background(), req)
	out, n, err := s.Redact(req, rs)
	if err != nil || n != 3 {
		t.Fatalf("Redact: %d replaced, %v; out %s", n, err, out)
	}
	got := string(out)
	for _, leak := range []string{testEmail, "john@example.org", testGH} {
		if strings.Contains(got, leak) {
			t.Errorf("redacted result keeps %q: %s", leak, got)
		}
	}
	var m map[string]map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("redacted result is not JSON: %v: %s", err, got)
	}
	if sc := m["structuredContent"]; len(sc) != 4 || sc["ok"] != "fine" || sc["[REDACTED:email]"] == nil || sc["[REDACTED:email]#2"] == nil {
		t.Errorf("keys not masked distinctly: %s", got)
	}
}

// TestReasonsDoNotCarryKeys: a path in a finding message, which becomes a
// guardrail reason on stderr, in the client's error and in the record,
// shows a sensitive key masked at every depth.
func TestReasonsDoNotCarryKeys(t *testing.T) {
	s := mustSet(t, `
[defaults]
mode = "enforce"
[guardrails.sql]
[guardrails.secrets]
`)
	raw := `{"by_user":{"` + testEmail + `":{"q":"DROP TABLE users"}},"` + testGH + `":{"password":"Zx9!qLm4#Tr8vB2w"}}`
	fs := findingsOf(s.Run(context.Background(), request(t, HookPre, raw)))
	if len(fs) < 2 {
		t.Fatalf("findings %+v, want the DROP and the password", fs)
	}
	var msgs []string
	for _, f := range fs {
		msgs = append(msgs, f.Message)
		if strings.Contains(f.Message, testEmail) || strings.Contains(f.Message, "doe@") || strings.Contains(f.Message, testGH[4:]) {
			t.Errorf("message carries a key's value: %q", f.Message)
		}
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"$.by_user.[REDACTED:email].q: ", "$.[REDACTED:secret].password: value of password", "$.[REDACTED:secret]: GitHub token"} {
		if !strings.Contains(all, want) {
			t.Errorf("messages %q lack %q", all, want)
		}
	}
}

// TestShownPathKeepsCleanPaths: nothing is masked that holds nothing.
func TestShownPathKeepsCleanPaths(t *testing.T) {
	p, err := Decode(json.RawMessage(`{"rows":[{"email":"x","a.b":{"name":"y"}}]}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range p.Leaves {
		if got := p.ShownPath(i); got != l.Path {
			t.Errorf("ShownPath(%d) = %q, want %q", i, got, l.Path)
		}
	}
}

// TestTextBlobsAreChecked: an embedded resource's base64 text is checked
// as text and redacted in place, encoded back; an image is left alone.
func TestTextBlobsAreChecked(t *testing.T) {
	s := mustSet(t, `
[defaults]
mode = "enforce"
[guardrails.pii]
[guardrails.secrets]
`)
	text := "customer " + testEmail + " paid with " + testCard + "\n"
	blob := base64.StdEncoding.EncodeToString([]byte(text))
	for _, mime := range []string{"text/plain", "", "application/octet-stream"} {
		mt := ""
		if mime != "" {
			mt = `,"mimeType":"` + mime + `"`
		}
		raw := `{"content":[{"type":"resource","resource":{"uri":"file:///r.txt"` + mt + `,"blob":"` + blob + `"}}]}`
		req := request(t, HookPost, raw)
		rs := s.Run(context.Background(), req)
		if fs := findingsOf(rs); len(fs) != 2 {
			t.Errorf("mimeType %q: findings %+v, want the email and the card", mime, fs)
			continue
		}
		out, _, err := s.Redact(req, rs)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Content []struct {
				Resource struct{ Blob string } `json:"resource"`
			} `json:"content"`
		}
		if err := json.Unmarshal(out, &r); err != nil || len(r.Content) != 1 {
			t.Fatalf("redacted: %v %s", err, out)
		}
		dec, err := base64.StdEncoding.DecodeString(r.Content[0].Resource.Blob)
		if err != nil {
			t.Fatalf("redacted blob is not base64: %v", err)
		}
		if want := "customer [REDACTED:email] paid with [REDACTED:card]\n"; string(dec) != want {
			t.Errorf("mimeType %q: redacted blob %q, want %q", mime, dec, want)
		}
	}
	// Binary blobs are not text: not decoded, nothing found, unchanged.
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + testEmail))
	req := request(t, HookPost, `{"contents":[{"uri":"file:///a.png","mimeType":"image/png","blob":"`+png+`"}]}`)
	if fs := findingsOf(s.Run(context.Background(), req)); len(fs) != 0 {
		t.Errorf("image blob: findings %+v", fs)
	}
	if req.Payload.Leaves[len(req.Payload.Leaves)-1].Base64 {
		t.Error("image blob decoded")
	}
}

func TestTextBlobSniff(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	cases := []struct {
		mimes []string
		data  string
		want  bool
	}{
		{[]string{"text/plain; charset=latin-1"}, "caf\xe9", true},
		{[]string{"application/vnd.api+json"}, "{}", true},
		{nil, "plain words\n", true},
		{nil, strings.Repeat("é", 300), true}, // a rune cut by the window
		{nil, "\x00\x01binary", false},
		{[]string{"application/pdf"}, "%PDF-1.7\n\x00", false},
		{[]string{"image/svg+xml"}, "<svg/>", true},
		{[]string{"audio/wav"}, "RIFF text-looking", false},
	}
	for _, c := range cases {
		if got := textBlob(c.mimes, enc([]byte(c.data))); got != c.want {
			t.Errorf("textBlob(%q, %q) = %v, want %v", c.mimes, c.data, got, c.want)
		}
	}
}

// TestRecordCopyMasksPIIFromPostOnlyGuardrail: record-side masking does
// not depend on the hook a guardrail blocks on. The pii guardrail here
// runs on results only (its default), yet the record of the arguments
// has the email and the card masked, and the keys too.
func TestRecordCopyMasksPIIFromPostOnlyGuardrail(t *testing.T) {
	s := mustSet(t, `
[defaults]
mode = "enforce"
[guardrails.pii]
hooks = ["post"]
[guardrails.sql]
`)
	raw := `{"to":"` + testEmail + `","card":"` + testCard + `","notes":{"` + "ops@example.net" + `":"cc"},"password":"hunter2-Xq9zLmP4","q":"select 1"}`
	req := request(t, HookPre, raw)
	rs := s.Run(context.Background(), req)
	if fs := findingsOf(rs); len(fs) != 0 {
		t.Fatalf("pre findings %+v: the pii guardrail should not run on arguments", fs)
	}
	got := string(s.RecordCopy(req, rs))
	for _, leak := range []string{testEmail, testCard, "ops@example.net", "hunter2-Xq9zLmP4"} {
		if strings.Contains(got, leak) {
			t.Errorf("record copy keeps %q: %s", leak, got)
		}
	}
	for _, kept := range []string{`"q":"select 1"`, `"to":"[REDACTED:email]"`, `"card":"[REDACTED:card]"`, `"[REDACTED:email]":"cc"`} {
		if !strings.Contains(got, kept) {
			t.Errorf("record copy %s lacks %s", got, kept)
		}
	}
	if string(req.Payload.Raw) != raw {
		t.Error("the forwarded arguments were changed")
	}

	// Out of the guardrail's scope, PII stays (it is not a secret); the
	// password is masked by package secret's rules all the same.
	scoped := mustSet(t, "[guardrails.pii]\nservers = [\"crm\"]\n")
	req = request(t, HookPre, raw)
	got = string(scoped.RecordCopy(req, scoped.Run(context.Background(), req)))
	if !strings.Contains(got, testEmail) || strings.Contains(got, "hunter2-Xq9zLmP4") {
		t.Errorf("out-of-scope record copy: %s", got)
	}
}

// TestRecordCopyMasksWhatBlockingGuardrailsFound: an enforce-mode secrets
// guardrail's findings on arguments, and an audit-mode one's, are masked
// in the copy whatever redact says; token redaction is not used there.
func TestRecordCopyMasksWhatBlockingGuardrailsFound(t *testing.T) {
	s := mustSet(t, `
[guardrails.secrets]
mode = "audit"
[guardrails.pii]
hooks = ["pre"]
redact = "token"
`)
	raw := `{"msg":"deploy with ` + testGH + ` for ` + testEmail + `"}`
	req := request(t, HookPre, raw)
	got := string(s.RecordCopy(req, s.Run(context.Background(), req)))
	if strings.Contains(got, testGH[4:]) || strings.Contains(got, testEmail) || strings.Contains(got, "EMAIL_1") {
		t.Errorf("record copy %s", got)
	}
	if !strings.Contains(got, "[REDACTED:email]") {
		t.Errorf("record copy %s: email not masked", got)
	}
}

// benchArgs is a 1 KB tools/call's arguments, the shape of policy's
// BenchmarkPipeline.
func benchArgs() json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"query":  "SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at > now() - interval '7 days' AND o.status IN ('paid','shipped') ORDER BY o.total DESC LIMIT 50",
		"params": []any{"2026-11-01", 50, "paid"},
		"note":   strings.Repeat("Weekly revenue report for the finance team, grouped by region. ", 10),
		"format": "markdown",
	})
	return b
}

const benchGuardrails = "[defaults]\nmode = \"enforce\"\n[guardrails.sql]\n[guardrails.secrets]\n[guardrails.pii]\n"

// BenchmarkPreHook is the pre hook on a 1 KB call: decode and run (the
// baseline of BenchmarkPreHookRecorded).
func BenchmarkPreHook(b *testing.B) { benchPre(b, false) }

// BenchmarkPreHookRecorded adds the record's copy of the arguments, which
// runs the post-only pii guardrail and scan's masking for the record.
func BenchmarkPreHookRecorded(b *testing.B) { benchPre(b, true) }

func benchPre(b *testing.B, record bool) {
	s := mustSet(b, benchGuardrails)
	args := benchArgs()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := Decode(args, DefaultMaxScanBytes)
		if err != nil {
			b.Fatal(err)
		}
		req := &Request{Hook: HookPre, Server: "db", Tool: "query", Payload: p}
		rs := s.Run(ctx, req)
		if record && s.RecordCopy(req, rs) == nil {
			b.Fatal("no record copy")
		}
	}
}
