package enforce

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// MaxRecordedArguments bounds the arguments an audit record keeps; larger
// ones are recorded by size and digest, so one huge call cannot bloat the
// trail or slow every reader of it.
const MaxRecordedArguments = 64 << 10

// recordArguments is what the audit record stores of a call's arguments
// when no pre hook supplied a masked copy: every string value passed
// through secret.MaskValue under its key, and oversized arguments replaced
// by their size and SHA-256.
func recordArguments(args json.RawMessage) json.RawMessage {
	if len(args) == 0 {
		return nil
	}
	if len(args) > MaxRecordedArguments {
		sum := sha256.Sum256(args)
		return json.RawMessage(fmt.Sprintf(`{"_mcpgov_truncated":true,"bytes":%d,"sha256":"%s"}`, len(args), hex.EncodeToString(sum[:])))
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return json.RawMessage(`{"_mcpgov_unparsable":true}`)
	}
	masked, changed := maskJSON("", v)
	if !changed {
		return args
	}
	out, err := json.Marshal(masked)
	if err != nil {
		return json.RawMessage(`{"_mcpgov_unparsable":true}`)
	}
	return out
}

// maskJSON masks string values, naming each by its nearest object key,
// and object keys: a token used as a key is as much in the record.
func maskJSON(key string, v any) (any, bool) {
	switch t := v.(type) {
	case string:
		m := secret.MaskValue(key, t)
		return m, m != t
	case map[string]any:
		changed := false
		var renamed map[string]string // original key -> masked key
		for k, e := range t {
			if m, ok := maskJSON(k, e); ok {
				t[k], changed = m, true
			}
			if mk := secret.MaskValue("", k); mk != k {
				if renamed == nil {
					renamed = map[string]string{}
				}
				renamed[k] = mk
			}
		}
		if renamed == nil {
			return t, changed
		}
		// In key order, so the same arguments give the same record.
		keys := make([]string, 0, len(renamed))
		for k := range renamed {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := t[k]
			delete(t, k)
			name := renamed[k]
			for n := 2; ; n++ {
				if _, taken := t[name]; !taken {
					break
				}
				name = renamed[k] + "#" + strconv.Itoa(n)
			}
			t[name] = e
		}
		return t, true
	case []any:
		changed := false
		for i, e := range t {
			if m, ok := maskJSON(key, e); ok {
				t[i], changed = m, true
			}
		}
		return t, changed
	}
	return v, false
}
