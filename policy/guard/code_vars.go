package guard

import (
	"slices"
	"strings"
)

// A program is often held in a variable before it is run, without a
// shell: cmd = "rm -rf /" then subprocess.run(cmd.split()); name := "rm"
// and args := []string{"-rf", "/"} then exec.Command(name, args...).
// The call forms judge a constant argument vector by the command line it
// makes, and saw only names there. varTable reads the assignments of a
// text, and a call whose arguments name assigned variables is judged
// again with each value put in their place: a destructive command found
// that way is a finding, a harmless one changes nothing.
//
// The values only add findings, never remove one: a name assigned a
// constant in one place may be a parameter in another, so a call that
// runs a name is judged as before (argument provenance), and the values
// of a name assigned more than once are each tried.

// maxVarValues bounds the values kept per name, maxVariants the
// argument lists tried per call, maxVarArgs the arguments of a call put
// in them (a program and its flags come first: ["rm", "-rf", "/"]), and
// maxListDepth the list literals resolved within one another. The bounds
// stop the work, not only what it returns: resolving a call costs the
// same whatever its text (a call of 120 arguments, a list nested 190
// deep).
const (
	maxVarValues = 4
	maxVariants  = 16
	maxVarArgs   = 8
	maxListDepth = 2
	maxRHS       = 600
)

// varTable holds the assignments of a text, read on first use, and what
// each argument text resolved to, so that a call repeated is resolved
// once.
type varTable struct {
	s     string
	built bool
	m     map[string][]string
	memo  map[string][]string
	fired map[string]bool
}

// variantFires reports whether form f fires on an argument list made by
// putting assigned values in args (argVariants), once per form and
// argument text: a call repeated is judged once.
func (t *varTable) variantFires(f *callForm, args []string) bool {
	var b strings.Builder
	b.WriteString(f.lit)
	for _, a := range args[:min(len(args), maxVarArgs)] {
		b.WriteByte(0)
		b.WriteString(a)
	}
	key := b.String()
	if r, ok := t.fired[key]; ok {
		return r
	}
	r := false
	for _, v := range argVariants(args, t) {
		if formFires(f, v) {
			r = true
			break
		}
	}
	if t.fired == nil {
		t.fired = map[string]bool{}
	}
	t.fired[key] = r
	return r
}

func (t *varTable) values(name string) []string {
	if !t.built {
		t.built = true
		t.m = varAssignments(t.s)
	}
	return t.m[name]
}

// varAssignments reads NAME = VALUE, NAME := VALUE and their declared forms
// (var, const, let, local, my, $NAME, NAME: type = VALUE), one per line,
// a value that opens brackets running on to the lines that close them.
// Each line is read once.
func varAssignments(s string) map[string][]string {
	var m map[string][]string
	for off := 0; off < len(s); {
		le := strings.IndexByte(s[off:], '\n')
		if le < 0 {
			le = len(s) - off
		}
		line := s[off : off+le]
		next := off + le + 1
		name, rhsAt, ok := assignmentHead(line)
		if ok {
			start := off + rhsAt
			end := rhsEnd(s, start)
			rhs := strings.TrimRight(strings.TrimSpace(s[start:end]), ";")
			if rhs != "" {
				if m == nil {
					m = map[string][]string{}
				}
				// The last distinct values are kept, the ones nearest the
				// call: keeping the first let a name assigned harmless
				// values four times hide the fifth, dangerous one.
				if vs := m[name]; !slices.Contains(vs, rhs) {
					if len(vs) == maxVarValues {
						copy(vs, vs[1:])
						vs = vs[:len(vs)-1]
					}
					m[name] = append(vs, rhs)
				}
			}
			if end > next {
				next = end
			}
		}
		off = next
	}
	return m
}

// assignmentHead reads the left side of an assignment line: the name and
// where its value starts.
func assignmentHead(line string) (string, int, bool) {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if strings.HasPrefix(line[i:], "<?php ") {
		i += len("<?php ") // PHP's first statement shares the tag's line
	}
	for _, kw := range []string{"var ", "const ", "let ", "local ", "my ", "final ", "String ", "string "} {
		if strings.HasPrefix(line[i:], kw) {
			i += len(kw)
			break
		}
	}
	if i < len(line) && (line[i] == '$' || line[i] == '@') {
		i++ // PHP's and Perl's sigils
	}
	ns := i
	for i < len(line) && isWordChar(line[i]) {
		i++
	}
	if i == ns || isDigit(line[ns]) {
		return "", 0, false
	}
	name := line[ns:i]
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j < len(line) && !strings.HasPrefix(line[j:], ":=") && line[j] != '=' {
		// A declared type between the name and '=': Python's
		// "cmd: str = …", Go's "var args []string = …".
		if !(line[j] == ':' || j > i && (line[j] == '[' || isWordChar(line[j]))) {
			return "", 0, false // args[0] = …, a call, an expression
		}
		k := strings.IndexByte(line[j:], '=')
		if k < 0 || k > 40 || strings.ContainsAny(line[j:j+k], "(\"'`") {
			return "", 0, false
		}
		j += k
	}
	switch {
	case strings.HasPrefix(line[j:], ":="):
		j += 2
	case strings.HasPrefix(line[j:], "=") && !strings.HasPrefix(line[j:], "=="):
		j++
	default:
		return "", 0, false
	}
	return name, j, true
}

// rhsEnd is where the value starting at s[start:] ends: its line's end,
// or the line that closes the brackets it opens (at most maxRHS bytes).
func rhsEnd(s string, start int) int {
	depth := 0
	var quote byte
	for i := start; i < len(s) && i-start < maxRHS; i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == '\n':
			if depth <= 0 {
				return i
			}
		}
	}
	if e := strings.IndexByte(s[start:], '\n'); e >= 0 && e < maxRHS {
		return start + e
	}
	return min(len(s), start+maxRHS)
}

// argVariants returns the argument lists made by putting the assigned
// values in place of the names among args (and the word lists of
// split strings), or nil when none of args is resolved.
//
// Only the first maxVarArgs arguments are resolved and kept, and at most
// maxVariants lists are made.
func argVariants(args []string, vars *varTable) [][]string {
	return argVariantsAt(args, vars, 0)
}

func argVariantsAt(args []string, vars *varTable, depth int) [][]string {
	args = args[:min(len(args), maxVarArgs)]
	var alts [maxVarArgs][]string
	resolved := false
	for i, a := range args {
		if vs := resolveArgAt(a, vars, depth); len(vs) > 0 {
			alts[i] = vs
			resolved = true
		} else {
			alts[i] = args[i : i+1]
		}
	}
	if !resolved {
		return nil
	}
	// The lists in the order of an odometer over the alternatives,
	// stopping at maxVariants.
	var pick [maxVarArgs]int
	out := make([][]string, 0, maxVariants)
	var back []string // the lists' backing array, allocated once
	for len(out) < maxVariants {
		if len(back) < len(args) {
			back = make([]string, len(args)*(maxVariants-len(out)))
		}
		v := back[:len(args):len(args)]
		back = back[len(args):]
		for i := range args {
			v[i] = alts[i][pick[i]]
		}
		out = append(out, v)
		i := len(args) - 1
		for ; i >= 0; i-- {
			if pick[i]++; pick[i] < len(alts[i]) {
				break
			}
			pick[i] = 0
		}
		if i < 0 {
			break
		}
	}
	return out
}

// resolveArgAt returns what an argument stands for: the values of a
// name (cmd, *argv, args...), or the words of a split string
// (cmd.split(), shlex.split(cmd), strings.Fields(cmd), "rm -rf
// /".split()); depth is how deep in list literals it is.
func resolveArgAt(a string, vars *varTable, depth int) []string {
	a = strings.TrimSpace(a)
	if depth == 0 {
		if vs, ok := vars.memo[a]; ok {
			return vs
		}
		vs := resolveArgOnce(a, vars, depth)
		if vars.memo == nil {
			vars.memo = map[string][]string{}
		}
		vars.memo[a] = vs
		return vs
	}
	return resolveArgOnce(a, vars, depth)
}

func resolveArgOnce(a string, vars *varTable, depth int) []string {
	if l, ok := listElems(a); ok {
		if depth >= maxListDepth {
			return nil
		}
		return resolveList(l, vars, depth+1)
	}
	if inner, ok := splitCall(strings.TrimSuffix(strings.TrimPrefix(a, "*"), "...")); ok {
		var out []string
		if constantArg(inner) {
			if w, ok := wordList(inner); ok {
				out = append(out, w)
			}
			return out
		}
		if !isPyIdent(inner) {
			return nil
		}
		for _, v := range vars.values(inner) {
			if constantArg(v) {
				if w, ok := wordList(v); ok {
					out = append(out, w)
				}
			}
		}
		return out
	}
	name := strings.TrimSuffix(strings.TrimPrefix(a, "*"), "...")
	if !isPyIdent(name) || constantArg(a) {
		return nil
	}
	return append([]string(nil), vars.values(name)...)
}

// listElems returns the elements of a list literal ([…], {…},
// []string{…}, new String[]{…}).
func listElems(a string) ([]string, bool) {
	for _, typ := range []string{"new String[]", "[]string", "String[]"} {
		a = strings.TrimSpace(strings.TrimPrefix(a, typ))
	}
	if len(a) < 2 || !(a[0] == '[' && a[len(a)-1] == ']' || a[0] == '{' && a[len(a)-1] == '}') {
		return nil, false
	}
	return callArgs(a[1:len(a)-1]+")", -1), true
}

// resolveList returns the list literals made by resolving the elements
// of a list, or nil when none is resolved.
func resolveList(elems []string, vars *varTable, depth int) []string {
	vs := argVariantsAt(elems, vars, depth)
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, "["+strings.Join(v, ", ")+"]")
	}
	return out
}

// splitCall reads X.split(), X.split(' '), shlex.split(X),
// strings.Fields(X) and strings.Split(X, " "), returning X.
func splitCall(a string) (string, bool) {
	for _, suf := range []string{".split()", ".split(' ')", `.split(" ")`} {
		if x, ok := strings.CutSuffix(a, suf); ok {
			return x, true
		}
	}
	for _, pre := range []string{"shlex.split(", "strings.Fields("} {
		if x, ok := strings.CutPrefix(a, pre); ok && strings.HasSuffix(x, ")") {
			return strings.TrimSpace(x[:len(x)-1]), true
		}
	}
	if x, ok := strings.CutPrefix(a, "strings.Split("); ok {
		for _, sep := range []string{`, " ")`, `," ")`} {
			if y, ok := strings.CutSuffix(x, sep); ok {
				return strings.TrimSpace(y), true
			}
		}
	}
	return "", false
}

// wordList turns a constant string into a list literal of its words:
// "rm -rf /" becomes ['rm', '-rf', '/'].
func wordList(lit string) (string, bool) {
	if len(lit) >= 2 && (lit[0] == 'r' || lit[0] == 'b' || lit[0] == 'u') && isQuote(lit[1]) {
		lit = lit[1:]
	}
	if len(lit) < 2 {
		return "", false
	}
	words := strings.Fields(lit[1 : len(lit)-1])
	if len(words) == 0 {
		return "", false
	}
	q := make([]string, len(words))
	for i, w := range words {
		if strings.ContainsAny(w, `'"\`) {
			return "", false
		}
		q[i] = "'" + w + "'"
	}
	return "[" + strings.Join(q, ", ") + "]", true
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }
