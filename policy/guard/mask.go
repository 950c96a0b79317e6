package guard

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// Where secrets and personal data hide from a check that reads only
// values, and how what mcpgov writes itself (finding messages, reasons,
// records) keeps them out (issue 12, item 8): object keys are checked and
// masked like values, paths are shown with such keys masked, and an
// embedded resource's base64 blob is checked as the text it encodes.

// ShownPath is leaf i's path as messages may show it: every object key on
// it that holds a secret or personal data is masked
// ("$.[REDACTED:email].phone"), so a reason or a record never carries the
// value through its location.
func (p *Payload) ShownPath(i int) string {
	l := p.Leaves[i]
	path := l.Path
	k := l.up - 1
	if l.IsKey {
		k = i
	}
	for k >= 0 {
		kl := p.Leaves[k]
		if !keySuspect(kl.Key) {
			k = kl.up - 1
			continue
		}
		if m := p.shownKey(k); m != "" {
			// kl.Path ends with the key; inner keys were replaced after it,
			// so the prefix up to it is still the original.
			pre := kl.Path[:len(kl.Path)-len(kl.Key)]
			path = pre + m + path[len(kl.Path):]
		}
		k = kl.up - 1
	}
	return path
}

// shownKey returns the masked form of key leaf k, or "" when it is clean.
// Results are kept: every finding under one key asks again.
func (p *Payload) shownKey(k int) string {
	p.shownMu.Lock()
	defer p.shownMu.Unlock()
	if m, ok := p.shown[k]; ok {
		return m
	}
	m, changed := maskKey(p.Leaves[k].Key)
	if !changed {
		m = ""
	}
	if p.shown == nil {
		p.shown = map[int]string{}
	}
	p.shown[k] = m
	return m
}

// shownKeyOr returns key leaf k's key as it may be shown.
func (p *Payload) shownKeyOr(k int) string {
	if m := p.shownKey(k); m != "" {
		return m
	}
	return p.Leaves[k].Key
}

// keySuspect is the cheap test before maskKey: a key without an "@" or a
// digit and shorter than any credential format holds nothing to mask.
func keySuspect(k string) bool {
	if len(k) < 6 {
		return false
	}
	if len(k) >= 12 {
		return true
	}
	return strings.ContainsAny(k, "@0123456789")
}

// maskKey masks the secrets and personal data in an object key, whatever
// guardrails are configured: what is shown of a location must not be
// what a guardrail would have redacted.
func maskKey(k string) (string, bool) {
	if !keySuspect(k) {
		return k, false
	}
	fs := CheckPII(k, nil)
	for _, f := range secret.Find("", k) {
		fs = append(fs, PIIFinding{"secret", f.Start, f.End})
	}
	out := k
	if len(fs) > 0 {
		sort.Slice(fs, func(i, j int) bool { return fs[i].Start < fs[j].Start })
		var b strings.Builder
		last := 0
		for _, f := range fs {
			if f.Start < last {
				continue
			}
			b.WriteString(k[last:f.Start])
			b.WriteString("[REDACTED:" + f.Category + "]")
			last = f.End
		}
		b.WriteString(k[last:])
		out = b.String()
	}
	out = secret.MaskValue("", out)
	return out, out != k
}

// replacements turns new leaf texts into the rewriter's map: values by
// path, keys by keyMark+path, blobs encoded back to base64.
func (p *Payload) replacements(texts map[int]string) map[string]string {
	repl := make(map[string]string, len(texts))
	for i, t := range texts {
		l := p.Leaves[i]
		switch {
		case l.IsKey:
			repl[keyMark+l.Path] = t
		case l.Base64:
			repl[l.Path] = base64.StdEncoding.EncodeToString([]byte(t))
		default:
			repl[l.Path] = t
		}
	}
	return repl
}

// decodeBlobs replaces each embedded resource's base64 "blob" that holds
// text by that text, so every check reads what the client will. A blob is
// text when a sibling "mimeType" says so, or, unlabelled or labelled
// otherwise (but not image, audio or video), when its first bytes decode
// to text. Keys match exactly, as the MCP schema spells them.
func (p *Payload) decodeBlobs() {
	mimes := map[string][]string{} // parent path -> its mimeType values
	for _, l := range p.Leaves {
		if !l.IsKey && l.Key == "mimeType" && strings.HasSuffix(l.Path, ".mimeType") {
			parent := strings.TrimSuffix(l.Path, ".mimeType")
			mimes[parent] = append(mimes[parent], l.Value)
		}
	}
	for i := range p.Leaves {
		l := &p.Leaves[i]
		if l.IsKey || l.Key != "blob" || !strings.HasSuffix(l.Path, ".blob") {
			continue
		}
		if !textBlob(mimes[strings.TrimSuffix(l.Path, ".blob")], l.Value) {
			continue
		}
		dec, err := base64.StdEncoding.DecodeString(l.Value)
		if err != nil {
			continue // not base64: checked as it is
		}
		l.Value, l.Base64 = string(dec), true
	}
}

// textBlob decides whether a blob with these mimeType values holds text.
func textBlob(mimes []string, b64 string) bool {
	media := len(mimes) > 0
	for _, m := range mimes {
		m = strings.ToLower(strings.TrimSpace(m))
		if i := strings.IndexByte(m, ';'); i >= 0 {
			m = strings.TrimSpace(m[:i])
		}
		if textualMIME(m) {
			return true
		}
		if !strings.HasPrefix(m, "image/") && !strings.HasPrefix(m, "audio/") && !strings.HasPrefix(m, "video/") {
			media = false
		}
	}
	if media {
		return false
	}
	// Sniff the first bytes: text is valid UTF-8 without control bytes.
	n := min(len(b64), 512) &^ 3
	head, err := base64.StdEncoding.DecodeString(b64[:n])
	if err != nil || len(head) == 0 {
		return false
	}
	for i := 0; i < len(head); {
		c := head[i]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size <= 1 {
			// A rune cut by the sniff window is not an error.
			return len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:])
		}
		i += size
	}
	return true
}

func textualMIME(m string) bool {
	if strings.HasPrefix(m, "text/") || strings.HasSuffix(m, "+json") || strings.HasSuffix(m, "+xml") || strings.HasSuffix(m, "+yaml") {
		return true
	}
	switch m {
	case "application/json", "application/xml", "application/yaml", "application/x-yaml", "application/toml",
		"application/javascript", "application/x-sh", "application/sql", "application/x-ndjson",
		"application/x-www-form-urlencoded", "application/csv":
		return true
	}
	return false
}

// RecordCopy returns what an audit record may store of a payload (a
// call's arguments): every span the results found masked whatever their
// mode, hook or redaction setting; the secrets, pii and regex guardrails
// that apply to the request's server and tool on any hook but did not run
// on it, run for the record alone (a pii guardrail configured only on
// results still keeps an email in the arguments out of the trail); and
// every string and key passed through secret.MaskValue, as a record without
// guardrails gets. A secret is masked as secret.Mask masks it ("ghp_****",
// "****"), the same form a record without guardrails has, so a token reads
// alike in the trail whatever the bundle holds; other categories are
// "[REDACTED:category]". A record is read by others than the session, so
// no reference tokens and no hashes.
//
// It returns nil for a payload it cannot copy whole (not JSON, or larger
// than the scan limit): the caller records a digest instead.
func (s *Set) RecordCopy(req *Request, results []Result) json.RawMessage {
	p := req.Payload
	if p == nil || !p.IsJSON || p.Truncated {
		return nil
	}
	var spans []span
	ran := make(map[string]bool, len(results))
	for _, r := range results {
		ran[r.Name] = true
		for _, sp := range r.spans {
			sp.method = redactRecord
			spans = append(spans, sp)
		}
	}
	for _, sp := range s.specs {
		if ran[sp.Name] || sp.Kind != KindSecrets && sp.Kind != KindPII && sp.Kind != KindRegex {
			continue
		}
		if !globAny(sp.Servers, req.Server) || !globAny(sp.Tools, req.Tool) {
			continue
		}
		var r Result
		detect(sp, p, &r)
		for _, x := range r.spans {
			x.method = redactRecord
			spans = append(spans, x)
		}
	}
	texts, _ := s.maskLeaves("", p, spans)
	for i, l := range p.Leaves {
		t, ok := texts[i]
		if !ok {
			t = l.Value
		}
		var m string
		if l.IsKey {
			// Known formats first, as secret.MaskValue masks a key in a
			// record without guardrails; maskKey then finds the rest.
			m, _ = maskKey(secret.MaskValue("", t))
		} else {
			m = secret.MaskValue(l.Key, t)
		}
		if m != t || ok {
			texts[i] = m
		}
	}
	if len(texts) == 0 {
		return p.Raw
	}
	out, err := p.ReplaceStrings(p.replacements(texts))
	if err != nil {
		return nil
	}
	return out
}
