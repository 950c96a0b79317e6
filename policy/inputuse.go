package policy

import (
	"reflect"
	"slices"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
)

// inputUse is what the bundle's policies read of their input, to two
// levels: a decision depends on nothing else, so the rest is neither
// converted into Rego values nor part of the decision cache's key. Without
// it, the session's call counter (input.session.calls), which changes on
// every call, made every decision of a session a cache miss even for
// policies that never read it.
type inputUse struct {
	// all: some policy reads the whole input, or a member chosen at run
	// time (input[x]).
	all bool
	// roots maps each member read (input.server) to the members read of
	// it (input.server.id → "id"); a nil set means the whole member.
	roots map[string]map[string]bool
}

// readsInput walks the policies' references to input.
func readsInput(mods map[string]*ast.Module) inputUse {
	u := inputUse{roots: map[string]map[string]bool{}}
	whole := map[string]bool{}
	for _, m := range mods {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if !r[0].Equal(ast.InputRootDocument) {
				return false
			}
			if len(r) == 1 {
				u.all = true
				return false
			}
			root, ok := r[1].Value.(ast.String)
			if !ok {
				u.all = true
				return false
			}
			name := string(root)
			sub, ok := ast.String(""), false
			if len(r) > 2 {
				sub, ok = r[2].Value.(ast.String)
			}
			if !ok {
				whole[name] = true
				return false
			}
			if u.roots[name] == nil {
				u.roots[name] = map[string]bool{}
			}
			u.roots[name][string(sub)] = true
			return false
		})
	}
	for name := range whole {
		u.roots[name] = nil
	}
	return u
}

// reads reports whether the policies read input member root.
func (u inputUse) reads(root string) bool {
	if u.all {
		return true
	}
	_, ok := u.roots[root]
	return ok
}

// inputMember is what the policies read of one member of the input.
type inputMember struct {
	read bool
	subs map[string]bool // nil: all of it
}

// member says what the policies read of root.
func (u inputUse) member(root string) inputMember {
	if u.all {
		return inputMember{read: true}
	}
	subs, ok := u.roots[root]
	return inputMember{read: ok, subs: subs}
}

// wants reports whether the policies read sub of the member.
func (m inputMember) wants(sub string) bool { return m.subs == nil || m.subs[sub] }

// put sets obj[sub] = v when the policies read sub of m (generic, so
// that v is not boxed into an interface, an allocation, unless it is).
func put[T any](m inputMember, obj map[string]any, sub string, v T) {
	if m.wants(sub) {
		obj[sub] = v
	}
}

// size is the member's map size: n for all of it, else the subs read.
func (m inputMember) size(n int) int {
	if m.subs == nil {
		return n
	}
	return min(n, len(m.subs))
}

// pick is project for one member read, v its whole value.
func (u inputUse) pick(root string, v any) any {
	if u.all {
		return v
	}
	subs := u.roots[root]
	m, isMap := v.(map[string]any)
	if subs == nil || !isMap {
		return v
	}
	pm := make(map[string]any, len(subs))
	for k := range subs {
		if sv, ok := m[k]; ok {
			pm[k] = sv
		}
	}
	return pm
}

// project returns the part of in the policies read; in itself when they
// read all of it.
func (u inputUse) project(in map[string]any) map[string]any {
	if u.all {
		return in
	}
	out := make(map[string]any, len(u.roots))
	for root := range u.roots {
		if v, ok := in[root]; ok {
			out[root] = u.pick(root, v)
		}
	}
	return out
}

// appendKey appends a canonical encoding of v to b: equal values give
// equal bytes (object members sorted), and a value of another type or
// content gives other bytes. It handles what buildInput makes; ok is
// false for anything else, and the caller then does not cache.
func appendKey(b []byte, v any) (_ []byte, ok bool) {
	switch x := v.(type) {
	case nil:
		return append(b, 'n'), true
	case bool:
		if x {
			return append(b, 't'), true
		}
		return append(b, 'f'), true
	case string:
		return appendKeyString(b, x), true
	case int:
		return append(strconv.AppendInt(append(b, 'i'), int64(x), 10), ';'), true
	case int64:
		return append(strconv.AppendInt(append(b, 'i'), x, 10), ';'), true
	case float64:
		return append(strconv.AppendFloat(append(b, 'd'), x, 'g', -1, 64), ';'), true
	case []any:
		b = strconv.AppendInt(append(b, '['), int64(len(x)), 10)
		for _, e := range x {
			if b, ok = appendKey(b, e); !ok {
				return b, false
			}
		}
		return b, true
	case map[string]any:
		var small [16]string
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = strconv.AppendInt(append(b, '{'), int64(len(x)), 10)
		for _, k := range keys {
			b = appendKeyString(b, k)
			if b, ok = appendKey(b, x[k]); !ok {
				return b, false
			}
		}
		return b, true
	}
	// Named string types (guard.Mode, audit.Verdict) are strings to Rego.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return appendKeyString(b, rv.String()), true
	}
	return b, false
}

// appendKeyString writes s length-prefixed, so no content can be read as
// a boundary.
func appendKeyString(b []byte, s string) []byte {
	b = strconv.AppendInt(append(b, 's'), int64(len(s)), 10)
	return append(append(b, ':'), s...)
}
