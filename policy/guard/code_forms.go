package guard

import (
	"encoding/json"
	"strings"
)

// moreCallForms extend callForms with the exec, eval and load forms of
// each language that the first table left out: process wrappers of older
// Python, asyncio's shell, pickle behind data-frame and model loaders,
// Ruby's and Go's process calls, Node's vm. Each keeps the provenance rule
// of its kind: a call that runs a constant command or text is not a finding.
var moreCallForms = []callForm{
	// Python
	{"popen2.popen2(", RuleCodeShell, "popen2 runs a shell command", argDynamic, false},
	{"popen2.popen3(", RuleCodeShell, "popen2 runs a shell command", argDynamic, false},
	{"popen2.popen4(", RuleCodeShell, "popen2 runs a shell command", argDynamic, false},
	{"popen2.Popen3(", RuleCodeShell, "popen2 runs a shell command", argDynamic, false},
	{"popen2.Popen4(", RuleCodeShell, "popen2 runs a shell command", argDynamic, false},
	{"commands.getstatusoutput(", RuleCodeShell, "commands.getstatusoutput() runs a shell command", argDynamic, false},
	{"create_subprocess_shell(", RuleCodeShell, "create_subprocess_shell() runs a shell command", argDynamic, true},
	{".subprocess_shell(", RuleCodeShell, "loop.subprocess_shell() runs a shell command", argSecondDynamic, true},
	{"read_pickle(", RuleCodeDeserial, "read_pickle() unpickles its input", argAny, true},
	{"joblib.load(", RuleCodeDeserial, "joblib.load() unpickles its input", argAny, false},
	{"yaml.load_all(", RuleCodeDeserial, "yaml.load_all() without SafeLoader builds arbitrary objects", argNoSafeLoader, false},
	{"yaml.unsafe_load_all(", RuleCodeDeserial, "yaml.unsafe_load_all() builds arbitrary objects", argAny, false},
	{"np.load(", RuleCodeDeserial, "numpy.load() with allow_pickle unpickles its input", argAllowPickle, false},
	{"numpy.load(", RuleCodeDeserial, "numpy.load() with allow_pickle unpickles its input", argAllowPickle, false},
	{"_pickle.loads(", RuleCodeDeserial, "pickle.loads() runs code from its input", argAny, false},
	{"pexpect.spawn(", RuleCodeShell, "pexpect.spawn() runs a command", argDynamic, false},
	{"pexpect.run(", RuleCodeShell, "pexpect.run() runs a command", argDynamic, false},
	// subprocess without a shell runs its argument vector: a list of
	// constants is a finding only when the command it makes is
	// destructive (["rm", "-rf", "/"]); a list with values stays with
	// shell=, since no shell reads it.
	{"subprocess.run(", RuleCodeShell, "subprocess runs a destructive command", argArgv, false},
	{"subprocess.call(", RuleCodeShell, "subprocess runs a destructive command", argArgv, false},
	{"subprocess.Popen(", RuleCodeShell, "subprocess runs a destructive command", argArgv, false},
	{"subprocess.check_call(", RuleCodeShell, "subprocess runs a destructive command", argArgv, false},
	{"subprocess.check_output(", RuleCodeShell, "subprocess runs a destructive command", argArgv, false},
	// Ruby
	{"PTY.spawn(", RuleCodeShell, "PTY.spawn() runs a command", argDynamic, false},
	{"Process.spawn(", RuleCodeShell, "Process.spawn() runs a command", argDynamic, false},
	{"Kernel.system(", RuleCodeShell, "system() runs a shell command", argDynamic, false},
	{"Kernel.exec(", RuleCodeShell, "exec() replaces the process with a command", argDynamic, false},
	{"Kernel.eval(", RuleCodeEval, "eval() runs text as code", argDynamic, false},
	{"Open3.popen2(", RuleCodeShell, "Open3 runs a command", argDynamic, false},
	{"Open3.popen2e(", RuleCodeShell, "Open3 runs a command", argDynamic, false},
	{"Open3.pipeline(", RuleCodeShell, "Open3 runs a command", argDynamic, false},
	{"YAML.load(", RuleCodeDeserial, "YAML.load() of old Psych builds arbitrary objects", argDynamic, false},
	{"Marshal.restore(", RuleCodeDeserial, "Marshal.restore() builds arbitrary objects", argAny, false},
	// JavaScript
	{"vm.runInContext(", RuleCodeEval, "vm.runInContext() runs text as code", argDynamic, false},
	{"new vm.Script(", RuleCodeEval, "vm.Script compiles text into code", argDynamic, false},
	{"execFileSync(", RuleCodeShell, "execFileSync() runs a program", argDynamic, true},
	{"Deno.run(", RuleCodeShell, "Deno.run() runs a program", argDynamic, false},
	{"new Deno.Command(", RuleCodeShell, "Deno.Command runs a program", argDynamic, false},
	{"Bun.spawn(", RuleCodeShell, "Bun.spawn() runs a program", argDynamic, false},
	{"Bun.spawnSync(", RuleCodeShell, "Bun.spawnSync() runs a program", argDynamic, false},
	{"setTimeout(", RuleCodeEval, "setTimeout() with a string runs text as code", argStringBuilt, false},
	{"setInterval(", RuleCodeEval, "setInterval() with a string runs text as code", argStringBuilt, false},
	// Go
	{"os.StartProcess(", RuleCodeShell, "os.StartProcess runs a program", argDynamic, false},
	{"syscall.ForkExec(", RuleCodeShell, "syscall.ForkExec runs a program", argDynamic, false},
	{"unix.Exec(", RuleCodeShell, "unix.Exec replaces the process with a program", argDynamic, false},
	// PHP: code from a request
	{"assert(", RuleCodeEval, "assert() on a string runs it as PHP", argRequestInput, false},
	{"call_user_func(", RuleCodeEval, "call_user_func() calls a function named by the request", argRequestInput, false},
	{"call_user_func_array(", RuleCodeEval, "call_user_func_array() calls a function named by the request", argRequestInput, false},
	{"preg_replace(", RuleCodeEval, "preg_replace() with /e runs the replacement as PHP", argPregEval, false},
	{"include(", RuleCodeEval, "include() loads a file the request names", argRequestInput, false},
	{"require(", RuleCodeEval, "require() loads a file the request names", argRequestInput, false},
	{"include_once(", RuleCodeEval, "include_once() loads a file the request names", argRequestInput, false},
	{"require_once(", RuleCodeEval, "require_once() loads a file the request names", argRequestInput, false},
	// C#
	{"Process.Start(", RuleCodeShell, "Process.Start() runs a program", argDynamic, false},
	{"array_map(", RuleCodeEval, "array_map() calls a function named by the request", argRequestFirst, false},
	{"usort(", RuleCodeEval, "usort() calls a function named by the request", argRequestSecond, false},
	{"uasort(", RuleCodeEval, "uasort() calls a function named by the request", argRequestSecond, false},
	{"array_filter(", RuleCodeEval, "array_filter() calls a function named by the request", argRequestSecond, false},
	{"array_walk(", RuleCodeEval, "array_walk() calls a function named by the request", argRequestSecond, false},
	// Ruby's and Perl's open of "|cmd" runs a shell command.
	{"open(", RuleCodeShell, "open() of a pipe runs a shell command", argPipeOpen, false},
	{"Kernel.open(", RuleCodeShell, "open() of a pipe runs a shell command", argPipeOpen, false},
	// Ruby: a method or a class named by the request
	{".send(", RuleCodeEval, "send() calls a method named by the request", argRubyRequest, true},
	{".public_send(", RuleCodeEval, "public_send() calls a method named by the request", argRubyRequest, true},
	{"const_get(", RuleCodeEval, "const_get() loads a class named by the request", argRubyRequest, true},
}

// More argument provenance rules (see argAny).
const (
	argSecondDynamic = iota + 100 // the second argument is not a constant (loop.subprocess_shell(protocol, cmd))
	argNoSafeLoader               // no SafeLoader among the arguments
	argAllowPickle                // allow_pickle=True among the arguments
	argStringBuilt                // the first argument is a string built from values
	argRequestInput               // an argument reads the request ($_GET, $_POST, …)
	argPregEval                   // the pattern carries the e modifier
	argNoWeightsOnly              // torch.load without weights_only=True
	argRequestFirst               // the first argument reads the request
	argRequestSecond              // the second argument reads the request
	argPipeOpen                   // open() of "|cmd" (or "cmd|") with a value in the command
	argRubyRequest                // the first argument reads a Rails request (params[…], cookies[…])
)

// moreProvenance applies the provenance rules of moreCallForms; ok false
// drops the finding.
func moreProvenance(prov int, args []string) bool {
	switch prov {
	case argSecondDynamic:
		return len(args) > 1 && (!constantArg(args[1]) || dangerousConstant(args[1]))
	case argNoSafeLoader:
		return !strings.Contains(strings.Join(args, ","), "SafeLoader")
	case argAllowPickle:
		for _, a := range args {
			if strings.ReplaceAll(a, " ", "") == "allow_pickle=True" {
				return true
			}
		}
		return false
	case argStringBuilt:
		if len(args) == 0 {
			return false
		}
		a := strings.TrimSpace(args[0])
		return len(a) > 0 && (a[0] == '"' || a[0] == '\'' || a[0] == '`') && !constantArg(a)
	case argNoWeightsOnly:
		for _, a := range args {
			if strings.ReplaceAll(a, " ", "") == "weights_only=True" {
				return false
			}
		}
		return true
	case argRequestFirst:
		return len(args) > 0 && requestInput(args[0])
	case argRequestSecond:
		return len(args) > 1 && requestInput(args[1])
	case argRubyRequest:
		if len(args) == 0 {
			return false
		}
		for _, g := range []string{"params[", "params.fetch(", "params.require(", "cookies[", "request.params", "request.query_parameters"} {
			if strings.Contains(args[0], g) {
				return true
			}
		}
		return false
	case argPipeOpen:
		for _, a := range args[:min(2, len(args))] {
			a = strings.TrimSpace(a)
			if len(a) < 3 || !isQuote(a[0]) || constantArg(a) {
				continue
			}
			body := strings.TrimLeft(a[1:], " ")
			if strings.HasPrefix(body, "|") || strings.HasSuffix(strings.TrimRight(a[:len(a)-1], " "), "|") {
				return true
			}
		}
		return false
	case argRequestInput:
		for _, a := range args {
			if requestInput(a) {
				return true
			}
		}
		return false
	case argPregEval:
		if len(args) < 2 {
			return false
		}
		p := strings.Trim(strings.TrimSpace(args[0]), `"'`)
		if len(p) < 2 {
			return false
		}
		end := strings.LastIndexByte(p, p[0])
		if p[0] == '#' || p[0] == '/' || p[0] == '~' || p[0] == '@' || p[0] == '!' {
			return end > 0 && strings.Contains(p[end+1:], "e")
		}
	}
	return false
}

// requestInput: a PHP expression that reads the request.
func requestInput(a string) bool {
	for _, g := range []string{"$_GET", "$_POST", "$_REQUEST", "$_COOKIE", "$_SERVER[", "$_FILES", "php://input"} {
		if strings.Contains(a, g) {
			return true
		}
	}
	return false
}

// shellTruthy: the value given to subprocess's shell= is true: True, or
// any value Python reads as true (1, "yes", a non-empty list).
func shellTruthy(s string, at int) bool {
	v := s[at+strings.IndexByte(s[at:], '=')+1:]
	end := strings.IndexAny(v, ",)\n")
	if end < 0 {
		end = len(v)
	}
	switch strings.TrimSpace(v[:end]) {
	case "", "False", "0", "None", "[]", "{}", "''", `""`, "0.0":
		return false
	}
	return true
}

// contextMethodCalls are method calls that run commands or text only on a
// receiver of one type; the text must name the type for the call to count
// (rt.exec( is Runtime.exec only where Runtime is in sight; a RegExp's
// exec( is everywhere).
var contextMethodCalls = []struct {
	lit, context, rule, msg string
}{
	{".exec(", "getRuntime()", RuleCodeShell, "Runtime.exec() runs a command"},
	{".exec(", "Runtime.runtime", RuleCodeShell, "Runtime.exec() runs a command (Groovy)"},
	{".evaluate(", "GroovyShell", RuleCodeEval, "GroovyShell.evaluate() runs text as code"},
	{".eval(", "ScriptEngine", RuleCodeEval, "ScriptEngine.eval() runs text as code"},
	{".command(", "ProcessBuilder", RuleCodeShell, "ProcessBuilder runs a command"},
	{".fromXML(", "XStream", RuleCodeDeserial, "XStream.fromXML() builds arbitrary objects"},
	{".readValue(", "enableDefaultTyping", RuleCodeDeserial, "Jackson with default typing builds arbitrary objects"},
}

// contextCallsAt checks the context method calls whose "(" is at p.
func contextCallsAt(s string, p int, add func(rule, msg string)) {
	for _, c := range contextMethodCalls {
		at := p + 1 - len(c.lit)
		if at <= 0 || s[at:p+1] != c.lit || !isWordChar(s[at-1]) && s[at-1] != ')' {
			continue
		}
		if !strings.Contains(s, c.context) {
			continue
		}
		// pb.command("sh", "-c", cmd): a shell given a script from a value.
		if args := callArgs(s, p); len(args) > 0 && (!constantArg(args[0]) || dangerousConstant(args[0]) || dynamicCommand(args) || dangerousArgv(args)) {
			add(c.rule, c.msg)
		}
	}
}

// dockerExecForm reads a Dockerfile RUN in exec form (RUN ["sh", "-c",
// "…"]) as the command line it runs.
func dockerExecForm(t string) (string, bool) {
	rest, ok := strings.CutPrefix(t, "RUN ")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "[") {
		return "", false
	}
	var argv []string
	if json.Unmarshal([]byte(rest), &argv) != nil || len(argv) == 0 {
		return "", false
	}
	for i, a := range argv {
		if (a == "-c" || a == "/c" || a == "-Command") && i+1 < len(argv) {
			return argv[i+1], true
		}
	}
	return shellJoin(argv), true
}

// shellJoin quotes argv as one command line.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// joinContinuations joins the lines a trailing backslash continues (a
// Dockerfile RUN, a shell script), so "curl … | sh && \" is parsed with
// the line it goes on to.
func joinContinuations(s string) string {
	if !strings.Contains(s, "\\\n") && !strings.Contains(s, "\\\r\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\\\r\n", " ")
	return strings.ReplaceAll(s, "\\\n", " ")
}

// jsonStringMembers returns the string values of the members of a line of
// JSON ("postinstall": "curl … | sh"), wherever they sit in the line: a
// package.json printed on one line holds its scripts in the middle.
func jsonStringMembers(t string) []string {
	var out []string
	for off := 0; off < len(t); {
		j := strings.Index(t[off:], "\":")
		if j < 0 {
			break
		}
		k := off + j + 2
		off = k
		for k < len(t) && t[k] == ' ' {
			k++
		}
		if k >= len(t) || t[k] != '"' {
			continue
		}
		end := k + 1
		for end < len(t) && t[end] != '"' {
			if t[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(t) {
			break
		}
		var v string
		if json.Unmarshal([]byte(t[k:end+1]), &v) == nil {
			out = append(out, v)
		}
		off = end + 1
	}
	return out
}

// phpBackticks: PHP's backtick operator (shell_exec by another name) on a
// command with a variable in it, `ls $dir`, inside PHP code (the text
// opens a <?php or <?= block); a constant command in backticks is not a
// finding, and markdown's inline code outside PHP is not PHP.
func phpBackticks(s string) bool {
	open := strings.Index(s, "<?php")
	if open < 0 {
		open = strings.Index(s, "<?=")
	}
	if open < 0 {
		return false
	}
	for off := open; ; {
		j := strings.IndexByte(s[off:], '`')
		if j < 0 {
			return false
		}
		at := off + j + 1
		k := strings.IndexByte(s[at:], '`')
		if k < 0 {
			return false
		}
		body := s[at : at+k]
		off = at + k + 1
		if strings.ContainsRune(body, '\n') {
			continue
		}
		for i := 0; i+1 < len(body); i++ {
			if body[i] == '$' && (isWordChar(body[i+1]) || body[i+1] == '{') {
				return true
			}
		}
	}
}
