package guard

import "strings"

// shellListDynamic: a list literal that runs a shell on a script that is
// not a constant (["bash", "-c", cmd]).
func shellListDynamic(a string) bool {
	_, ok := firstElem(a)
	return ok && dynamicCommand([]string{a})
}

// groovyExecutes: the call ".execute(" at s[at:] has a literal receiver
// that runs a command from a value or a destructive one: Groovy's
// "ls ${dir}".execute() or ["sh", "-c", cmd].execute(). A constant
// command ("git status".execute()) is not a finding, nor is a method of
// an object (cursor.execute(sql), stmt.execute()).
func groovyExecutes(s string, at int) bool {
	if at == 0 {
		return false
	}
	ls := strings.LastIndexByte(s[:at], '\n') + 1
	line := s[ls:at]
	var recv string
	switch c := s[at-1]; c {
	case '"', '\'':
		open := strings.LastIndexByte(line[:len(line)-1], c)
		if open < 0 {
			return false
		}
		recv = line[open:]
	case ']':
		depth := 0
		for i := len(line) - 1; i >= 0; i-- {
			switch line[i] {
			case ']':
				depth++
			case '[':
				depth--
			}
			if depth == 0 {
				recv = line[i:]
				break
			}
		}
		if recv == "" {
			return false
		}
		if shellListDynamic(recv) {
			return true
		}
		return dangerousArgv([]string{recv})
	default:
		return false
	}
	return !constantArg(recv) || dangerousConstant(recv)
}

// phpVariableCall: the "(" at p calls a function whose name the request
// gives: $_GET['f']($x), or $f($x) after $f = $_POST['f'].
func phpVariableCall(s string, p int, vars *varTable) bool {
	before := strings.TrimRight(s[max(0, p-120):p], " ")
	if strings.HasSuffix(before, "]") {
		k := strings.LastIndex(before, "$_")
		return k >= 0 && requestInput(before[k:])
	}
	e := len(before)
	i := e
	for i > 0 && isWordChar(before[i-1]) {
		i--
	}
	if i == e || i == 0 || before[i-1] != '$' || i >= 2 && (before[i-2] == '>' || before[i-2] == ':') {
		return false
	}
	for _, v := range vars.values(before[i:e]) {
		if k := strings.IndexByte(v, ';'); k >= 0 {
			v = v[:k] // $f = $_GET['f']; $f(…) on one line
		}
		if requestInput(v) {
			return true
		}
	}
	return false
}

// declaredAt: the name at s[at:] is being defined, not called: after
// func, def, function or fn, or as a Go method (func (w *T) name().
func declaredAt(s string, at int) bool {
	ls := strings.LastIndexByte(s[:at], '\n') + 1
	before := strings.TrimRight(s[ls:at], " \t")
	for _, kw := range []string{"func", "def", "function", "fn", "async def"} {
		if before == kw || strings.HasSuffix(before, " "+kw) || strings.HasSuffix(before, "\t"+kw) {
			return true
		}
	}
	return strings.HasPrefix(strings.TrimSpace(before), "func (") && strings.HasSuffix(before, ")")
}

// inCall: s[at:] is inside the parentheses of a call opened on the same
// or an earlier line, within 400 bytes.
func inCall(s string, at int) bool {
	p := openParen(s, at)
	return p > 0 && isWordChar(s[p-1])
}

// openParen is where the parenthesis that s[at:] is inside opens, within
// the 400 bytes before at, or -1.
func openParen(s string, at int) int {
	depth := 0
	for p := at - 1; p >= 0 && at-p < 400; p-- {
		switch s[p] {
		case ')':
			depth++
		case '(':
			if depth == 0 {
				return p
			}
			depth--
		}
	}
	return -1
}
