package wrap

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// SecretEnvFlag is the shim flag a moved secret is passed by reference
// with: --secret-env NAME=REF (the shim resolves REF and sets NAME in the
// server's environment at launch).
const SecretEnvFlag = "--secret-env"

// moved is one literal secret taken out of an entry's env.
type moved struct {
	name, ref string
	clear     patch // the value replaced by "" in the config
	mask      patch // the value masked, for backups and diffs
	span      Span
}

// moveSecrets takes the literal secrets of obj's env into the vault
// (Options.MoveSecret) and returns the edits that remove them from the
// config. Placeholders (${VAR}, ${input:id}) are not secrets and stay.
func (d *jdoc) moveSecrets(it *item, o Options, obj *hujson.Object) ([]moved, error) {
	if o.MoveSecret == nil {
		return nil, nil
	}
	env := member(obj, "env")
	if env == nil {
		return nil, nil
	}
	eo, ok := env.Value.Value.(*hujson.Object)
	if !ok {
		return nil, nil
	}
	var out []moved
	for i := range eo.Members {
		m := &eo.Members[i]
		name, ok := memberKey(m)
		if !ok || member(eo, name) != m { // a shadowed duplicate is not what runs
			continue
		}
		v, ok := stringLit(&m.Value)
		if !ok {
			continue
		}
		if _, ok := secret.Detect(name, v); !ok {
			continue
		}
		ref, err := o.MoveSecret(it.srv, name, v, !o.DryRun)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", name, err)
		}
		s, e := d.start(&m.Value), d.end(&m.Value)
		out = append(out, moved{name: name, ref: ref,
			clear: patch{s, e, `""`}, mask: patch{s, e, quote(secret.Mask(v))},
			span: Span{Field: "env." + name, Wrapped: `""`, Secret: ref}})
	}
	return out, nil
}

// withSecretFlags puts a --secret-env flag per moved secret before the
// prefix's "--".
func withSecretFlags(prefix []string, ms []moved) []string {
	if len(ms) == 0 {
		return prefix
	}
	out := append([]string(nil), prefix[:len(prefix)-1]...)
	for _, m := range ms {
		out = append(out, SecretEnvFlag, m.name+"="+m.ref)
	}
	return append(out, prefix[len(prefix)-1])
}

// addMoves adds the moved secrets' edits to e.
func addMoves(e edit, ms []moved) edit {
	for _, m := range ms {
		e.patches = append(e.patches, m.clear)
		e.spans = append(e.spans, m.span)
		e.redact = append(e.redact, m.mask)
	}
	if len(ms) > 0 {
		names := make([]string, len(ms))
		for i, m := range ms {
			names[i] = m.name
		}
		e.reason = strings.TrimPrefix(e.reason+"; moved "+strings.Join(names, ", ")+" to the vault", "; ")
	}
	return e
}

// envSpan is where env.NAME's value is in obj.
func (d *jdoc) envSpan(obj *hujson.Object, field string) (int, int, bool) {
	name, ok := strings.CutPrefix(field, "env.")
	if !ok {
		return 0, 0, false
	}
	env := member(obj, "env")
	if env == nil {
		return 0, 0, false
	}
	eo, ok := env.Value.Value.(*hujson.Object)
	if !ok {
		return 0, 0, false
	}
	m := member(eo, name)
	if m == nil {
		return 0, 0, false
	}
	return d.start(&m.Value), d.end(&m.Value), true
}

// restoreSecrets fills in the Original of rec's moved secrets from the
// vault (Options.RestoreSecret), so unwrap puts each value back.
func restoreSecrets(rec *Record, o Options) (*Record, error) {
	if rec == nil {
		return nil, nil
	}
	var out *Record
	for i, sp := range rec.Spans {
		if sp.Secret == "" {
			continue
		}
		if o.RestoreSecret == nil {
			return nil, fmt.Errorf("%s was moved to the vault (%s) and no vault is open", sp.Field, sp.Secret)
		}
		v, err := o.RestoreSecret(sp.Secret)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sp.Field, err)
		}
		if out == nil {
			cp := *rec
			cp.Spans = append([]Span(nil), rec.Spans...)
			out = &cp
		}
		out.Spans[i].Original = quote(v)
	}
	if out == nil {
		return rec, nil
	}
	return out, nil
}

// restoreMoved puts back the moved secrets of a record whose command line
// was restored some other way (the client rewrote the file since wrap):
// each env value still "" gets its value from the vault. done are the
// patches already made; a value they restore is not patched twice.
func (d *jdoc) restoreMoved(it *item, lookup func(string) *Record, done []patch) []patch {
	rec := lookup(it.res.Pointer)
	if rec == nil {
		return nil
	}
	obj, _ := d.locate(it, false)
	if obj == nil {
		return nil
	}
	var out []patch
	for _, sp := range rec.Spans {
		if sp.Secret == "" {
			continue
		}
		s, e, ok := d.envSpan(obj, sp.Field)
		if !ok || string(d.b[s:e]) != sp.Wrapped || slices.ContainsFunc(done, func(p patch) bool { return p.start == s }) {
			continue
		}
		out = append(out, patch{s, e, sp.Original})
	}
	return out
}
