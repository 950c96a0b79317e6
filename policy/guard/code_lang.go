package guard

import (
	"path"
	"strings"
)

// More code-safety rule ids.
const (
	RuleCodeReverseShell = "code.reverse-shell"
	RuleCodePowerShell   = "code.powershell"
	RuleCodeRemoteExec   = "code.remote-exec"
	RuleCodeRmTree       = "code.rmtree-home"
	RuleCodeBlockDevice  = "code.block-device-write"
)

// Argument provenance of a call.
const (
	argAny      = iota // flag whatever the argument
	argDynamic         // flag unless the first argument is a constant string
	argShellArg        // exec.Command-style: flag when a shell runs -c with a non-constant script, or the program is not constant
	argArgv            // flag only when the constant argument vector (a list) runs something destructive
)

// callForm is a call of one language that runs commands or code, or
// loads objects from data. lit ends in "(".
type callForm struct {
	lit  string
	rule string
	msg  string
	prov int
	// method: the callee may be a method (x.lit); otherwise the byte
	// before lit must not be part of a name.
	method bool
}

var callForms = []callForm{
	// Python
	{"os.execl(", RuleCodeShell, "os.exec*() replaces the process with a program", argAny, false},
	{"os.execle(", RuleCodeShell, "os.exec*() replaces the process with a program", argAny, false},
	{"os.execlp(", RuleCodeShell, "os.exec*() replaces the process with a program", argAny, false},
	{"os.execlpe(", RuleCodeShell, "os.exec*() replaces the process with a program", argAny, false},
	{"os.execv(", RuleCodeShell, "os.exec*() replaces the process with a program", argAny, false},
	{"os.execve(", RuleCodeShell, "os.exec*() replaces the process with a program", argAny, false},
	{"os.execvp(", RuleCodeShell, "os.exec*() replaces the process with a program", argAny, false},
	{"os.execvpe(", RuleCodeShell, "os.exec*() replaces the process with a program", argAny, false},
	{"os.spawnl(", RuleCodeShell, "os.spawn*() runs a program", argAny, false},
	{"os.spawnle(", RuleCodeShell, "os.spawn*() runs a program", argAny, false},
	{"os.spawnlp(", RuleCodeShell, "os.spawn*() runs a program", argAny, false},
	{"os.spawnlpe(", RuleCodeShell, "os.spawn*() runs a program", argAny, false},
	{"os.spawnv(", RuleCodeShell, "os.spawn*() runs a program", argAny, false},
	{"os.spawnve(", RuleCodeShell, "os.spawn*() runs a program", argAny, false},
	{"os.spawnvp(", RuleCodeShell, "os.spawn*() runs a program", argAny, false},
	{"os.spawnvpe(", RuleCodeShell, "os.spawn*() runs a program", argAny, false},
	{"os.popen2(", RuleCodeShell, "os.popen2() runs a shell command", argDynamic, false},
	{"os.popen3(", RuleCodeShell, "os.popen3() runs a shell command", argDynamic, false},
	{"os.popen4(", RuleCodeShell, "os.popen4() runs a shell command", argDynamic, false},
	{"os.startfile(", RuleCodeShell, "os.startfile() opens a file with its program", argAny, false},
	{"os.posix_spawn(", RuleCodeShell, "os.posix_spawn() runs a program", argAny, false},
	{"pty.spawn(", RuleCodeShell, "pty.spawn() runs a program", argAny, false},
	{"commands.getoutput(", RuleCodeShell, "commands.getoutput() runs a shell command", argDynamic, false},
	{"subprocess.getoutput(", RuleCodeShell, "subprocess.getoutput() runs a shell command", argDynamic, false},
	{"subprocess.getstatusoutput(", RuleCodeShell, "subprocess.getstatusoutput() runs a shell command", argDynamic, false},
	{".exec_command(", RuleCodeRemoteExec, "exec_command() runs a command on a remote host", argAny, true},
	{"dill.loads(", RuleCodeDeserial, "dill.loads() runs code from its input", argAny, false},
	{"dill.load(", RuleCodeDeserial, "dill.load() runs code from its input", argAny, false},
	{"jsonpickle.decode(", RuleCodeDeserial, "jsonpickle.decode() builds arbitrary objects", argAny, false},
	{"jsonpickle.unpickler.decode(", RuleCodeDeserial, "jsonpickle.decode() builds arbitrary objects", argAny, false},
	{"torch.load(", RuleCodeDeserial, "torch.load() unpickles its input", argNoWeightsOnly, false},
	{"yaml.unsafe_load(", RuleCodeDeserial, "yaml.unsafe_load() builds arbitrary objects", argAny, false},
	{"yaml.full_load(", RuleCodeDeserial, "yaml.full_load() builds arbitrary objects", argAny, false},
	{"shelve.open(", RuleCodeDeserial, "shelve unpickles what it reads", argAny, false},
	{"pickle.Unpickler(", RuleCodeDeserial, "pickle.Unpickler runs code from its input", argAny, false},
	{"cPickle.loads(", RuleCodeDeserial, "pickle.loads() runs code from its input", argAny, false},
	// JavaScript
	{"vm.runInNewContext(", RuleCodeEval, "vm.runIn*Context() runs text as code", argDynamic, false},
	{"vm.runInThisContext(", RuleCodeEval, "vm.runIn*Context() runs text as code", argDynamic, false},
	{"execSync(", RuleCodeShell, "execSync() runs a shell command", argDynamic, true},
	{"spawnSync(", RuleCodeShell, "spawnSync() runs a program", argDynamic, true},
	// PHP
	{"shell_exec(", RuleCodeShell, "shell_exec() runs a shell command", argDynamic, false},
	{"passthru(", RuleCodeShell, "passthru() runs a shell command", argDynamic, false},
	{"proc_open(", RuleCodeShell, "proc_open() runs a command", argDynamic, false},
	{"pcntl_exec(", RuleCodeShell, "pcntl_exec() runs a program", argDynamic, false},
	{"popen(", RuleCodeShell, "popen() runs a shell command", argDynamic, false},
	{"system(", RuleCodeShell, "system() runs a shell command", argDynamic, false},
	{"unserialize(", RuleCodeDeserial, "unserialize() builds arbitrary objects", argDynamic, false},
	{"create_function(", RuleCodeEval, "create_function() compiles text into code", argDynamic, false},
	// Ruby
	{"IO.popen(", RuleCodeShell, "IO.popen() runs a command", argDynamic, false},
	{"Open3.capture2(", RuleCodeShell, "Open3 runs a command", argDynamic, false},
	{"Open3.capture2e(", RuleCodeShell, "Open3 runs a command", argDynamic, false},
	{"Open3.capture3(", RuleCodeShell, "Open3 runs a command", argDynamic, false},
	{"Open3.popen3(", RuleCodeShell, "Open3 runs a command", argDynamic, false},
	{"Kernel.spawn(", RuleCodeShell, "spawn() runs a command", argDynamic, false},
	{"spawn(", RuleCodeShell, "spawn() runs a command", argDynamic, false},
	{"instance_eval(", RuleCodeEval, "instance_eval() runs text as code", argDynamic, true},
	{"class_eval(", RuleCodeEval, "class_eval() runs text as code", argDynamic, true},
	{"Marshal.load(", RuleCodeDeserial, "Marshal.load() builds arbitrary objects", argAny, false},
	{"YAML.unsafe_load(", RuleCodeDeserial, "YAML.unsafe_load() builds arbitrary objects", argAny, false},
	// Java, Groovy
	{"new ProcessBuilder(", RuleCodeShell, "ProcessBuilder runs a command", argShellArg, false},
	{".readObject(", RuleCodeDeserial, "ObjectInputStream.readObject() builds arbitrary objects", argAny, true},
	{"Eval.me(", RuleCodeEval, "Eval.me() runs text as Groovy", argDynamic, false},
	{".execute(", RuleCodeShell, "String.execute() runs a command (Groovy)", argAny, true},
	// Go
	{"exec.Command(", RuleCodeShell, "exec.Command runs a program", argShellArg, false},
	{"exec.CommandContext(", RuleCodeShell, "exec.CommandContext runs a program", argShellArg, false},
	{"syscall.Exec(", RuleCodeShell, "syscall.Exec replaces the process with a program", argAny, false},
	// A tree removed whole: the home or a root directory (homeOrRoot)
	{"shutil.rmtree(", RuleCodeRmTree, "shutil.rmtree() on a home or root directory", argAny, false},
	{"os.RemoveAll(", RuleCodeRmTree, "os.RemoveAll on a home or root directory", argAny, false},
	{"fs.rmSync(", RuleCodeRmTree, "fs.rmSync() on a home or root directory", argAny, false},
	{"fs.rm(", RuleCodeRmTree, "fs.rm() on a home or root directory", argAny, false},
	{"fs.rmdirSync(", RuleCodeRmTree, "fs.rmdirSync() on a home or root directory", argAny, false},
	{"fs.promises.rm(", RuleCodeRmTree, "fs.rm() on a home or root directory", argAny, false},
	{"fse.remove(", RuleCodeRmTree, "fs-extra remove() on a home or root directory", argAny, false},
	{"fse.removeSync(", RuleCodeRmTree, "fs-extra removeSync() on a home or root directory", argAny, false},
	{"rimraf(", RuleCodeRmTree, "rimraf on a home or root directory", argAny, false},
	{"rimraf.sync(", RuleCodeRmTree, "rimraf on a home or root directory", argAny, false},
	{"FileUtils.rm_rf(", RuleCodeRmTree, "FileUtils.rm_rf on a home or root directory", argAny, false},
	{"FileUtils.rm_r(", RuleCodeRmTree, "FileUtils.rm_r on a home or root directory", argAny, false},
	{"FileUtils.remove_dir(", RuleCodeRmTree, "FileUtils.remove_dir on a home or root directory", argAny, false},
	{"FileUtils.deleteDirectory(", RuleCodeRmTree, "FileUtils.deleteDirectory on a home or root directory", argAny, false},
	{"FileSystemUtils.deleteRecursively(", RuleCodeRmTree, "deleteRecursively on a home or root directory", argAny, false},
}

// allCallForms are callForms and moreCallForms.
var allCallForms = append(append([]callForm{}, callForms...), moreCallForms...)

// callFormsByByte indexes callForms by the byte before their "(".
var callFormsByByte = func() map[byte][]int {
	m := map[byte][]int{}
	for i, f := range allCallForms {
		b := f.lit[len(f.lit)-2]
		m[b] = append(m[b], i)
	}
	return m
}()

// callFormsAt checks the call forms that end at the "(" at p. A call
// that does not fire as written is judged again with the values its
// variables were assigned (vars), which finds what a program held in a
// variable runs.
func callFormsAt(s string, p int, add func(rule, msg string), vars *varTable) {
	if p == 0 {
		return
	}
	for _, fi := range callFormsByByte[s[p-1]] {
		f := &allCallForms[fi]
		at := p + 1 - len(f.lit)
		if at < 0 || s[at:p+1] != f.lit {
			continue
		}
		if f.lit == ".execute(" {
			// Groovy's "cmd".execute() and [argv].execute(), not
			// cursor.execute(sql): the receiver is a literal, judged as a
			// command is.
			if groovyExecutes(s, at) {
				add(f.rule, f.msg)
			}
			continue
		}
		if !f.method && at > 0 && (isWordChar(s[at-1]) || s[at-1] == '.' || s[at-1] == '$' || s[at-1] == '>') {
			continue // a method or a longer name (os.system vs system)
		}
		if declaredAt(s, at) {
			continue // func (w *Writer) spawn(f func()): a definition, not a call
		}
		args := callArgs(s, p)
		if f.lit == "exec.CommandContext(" && len(args) > 0 {
			args = args[1:] // the context, whatever it is called
		}
		if formFires(f, args) {
			add(f.rule, f.msg)
			continue
		}
		if vars == nil {
			continue
		}
		if vars.variantFires(f, args) {
			add(f.rule, f.msg)
		}
	}
}

// formFires applies a call form's provenance rule to its arguments.
func formFires(f *callForm, args []string) bool {
	if f.prov >= argSecondDynamic && !moreProvenance(f.prov, args) {
		return false
	}
	switch f.prov {
	case argDynamic:
		if len(args) == 0 || constantArg(args[0]) && !dangerousConstant(args[0]) && !dangerousArgv(args[:min(2, len(args))]) && !dynamicCommand(args) {
			return false
		}
	case argShellArg:
		if !dynamicCommand(args) && !dangerousArgv(args) {
			return false
		}
	case argArgv:
		// A constant program with values after it runs no shell, unless
		// the program is a shell given a script that is not constant
		// (["bash", "-c", cmd]): that is shell=True by another name.
		if len(args) == 0 || !dangerousArgv(args[:1]) && !shellListDynamic(args[0]) {
			return false
		}
	}
	return f.rule != RuleCodeRmTree || homeOrRoot(args)
}

// callArgs splits the arguments of the call whose "(" is at p, at the top
// level of brackets and outside strings (bounded to 400 bytes).
func callArgs(s string, p int) []string {
	var out []string
	depth := 0
	start := p + 1
	var quote byte
	end := min(len(s), p+400)
	for i := p + 1; i < end; i++ {
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
			if depth == 0 {
				if a := strings.TrimSpace(s[start:i]); a != "" {
					out = append(out, a)
				}
				return out
			}
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:end]))
}

// constantArg: a string literal with nothing interpolated into it, or a
// list of them: the program text is fixed, so no input reaches it.
func constantArg(a string) bool {
	a = strings.TrimSpace(a)
	if strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]") || strings.HasPrefix(a, "{") && strings.HasSuffix(a, "}") {
		inner := a[1 : len(a)-1]
		if strings.TrimSpace(inner) == "" {
			return true
		}
		for _, e := range callArgs(inner+")", -1) {
			if !constantArg(e) {
				return false
			}
		}
		return true
	}
	// r"…", b'…', u"…", @"…" prefixes; f-strings are not constant.
	if len(a) > 2 && (a[0] == 'r' || a[0] == 'b' || a[0] == 'u' || a[0] == '@') && (a[1] == '"' || a[1] == '\'') {
		a = a[1:]
	}
	if len(a) < 2 {
		return false
	}
	q := a[0]
	if (q != '"' && q != '\'' && q != '`') || a[len(a)-1] != q {
		return false
	}
	body := a[1 : len(a)-1]
	if strings.IndexByte(body, q) >= 0 && !strings.Contains(body, "\\"+string(q)) {
		return false // "a" + x + "b"
	}
	if q == '`' && strings.Contains(body, "${") {
		return false // a JavaScript template
	}
	if q == '"' && (strings.Contains(body, "${") || strings.Contains(body, "#{") || strings.Contains(body, "$")) {
		return false // interpolation in PHP, Ruby, shell, Groovy
	}
	return true
}

// dynamicCommand: exec.Command's program is not a constant, or it is a
// shell given a -c script that is not a constant. The arguments may come
// as a list (spawn("sh", ["-c", cmd]), pcntl_exec("/bin/sh",
// array("-c", $cmd)), exec(new String[]{"sh", "-c", cmd})).
func dynamicCommand(args []string) bool {
	if len(args) == 0 {
		return false
	}
	first, isList := firstElem(args[0])
	if !isList && !constantArg(first) {
		return true
	}
	if first == "" || first[0] == '[' || first[0] == '{' {
		return false // a list led by a list names no program
	}
	// The cheap test before the lists are spread: the program must be a
	// shell named by a constant.
	if !constantArg(first) || !isShellName(first) {
		return false
	}
	flat := flattenArgs(args, 0)
	for i, a := range flat[1:] {
		if t := strings.Trim(a, `"'`); (t == "-c" || t == "/c" || t == "/C" || strings.EqualFold(t, "-Command")) && i+2 < len(flat) {
			return !constantArg(flat[i+2])
		}
		// Process.Start("cmd.exe", "/c " + input): flag and script
		// in one argument built from a value.
		if t := strings.ToLower(strings.TrimLeft(a, `"'`)); i == 0 && !constantArg(a) && (strings.HasPrefix(t, "/c ") || strings.HasPrefix(t, "-c ") || strings.HasPrefix(t, "-command ")) {
			return true
		}
	}
	return false
}

// isShellName: a constant string that names a shell (sh, /bin/bash,
// cmd.exe, powershell).
func isShellName(lit string) bool {
	prog := strings.ToLower(path.Base(strings.ReplaceAll(strings.Trim(strings.TrimSpace(lit), `"'`+"`"), "\\", "/")))
	switch strings.TrimSuffix(prog, ".exe") {
	case "sh", "bash", "zsh", "dash", "ksh", "cmd", "powershell", "pwsh":
		return true
	}
	return false
}

// firstElem returns a's first element when a is a list literal ([…],
// {…}, array(…), []string{…}, new String[]{…}), without splitting the
// rest, or a itself.
func firstElem(a string) (string, bool) {
	a = strings.TrimSpace(a)
	for _, typ := range []string{"new String[]", "[]string", "String[]", "array("} {
		if strings.HasPrefix(a, typ) {
			a = strings.TrimSpace(a[len(typ):])
			if typ == "array(" {
				a = "[" + a
			}
			break
		}
	}
	if len(a) < 2 || a[0] != '[' && a[0] != '{' {
		return a, false
	}
	depth := 0
	var quote byte
	for i := 1; i < len(a); i++ {
		c := a[i]
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
			if depth == 0 {
				return strings.TrimSpace(a[1:i]), true
			}
			depth--
		case c == ',' && depth == 0:
			return strings.TrimSpace(a[1:i]), true
		}
	}
	return strings.TrimSpace(a[1:]), true
}

// flattenArgs spreads the list literals among args (PHP's array(…)
// too) into one argument vector.
func flattenArgs(args []string, depth int) []string {
	var out []string
	for _, a := range args {
		a = strings.TrimSpace(a)
		if inner, ok := strings.CutPrefix(a, "array("); ok && strings.HasSuffix(inner, ")") {
			a = "[" + inner[:len(inner)-1] + "]"
		}
		if l, ok := listElems(a); ok && depth < maxListDepth {
			out = append(out, flattenArgs(l, depth+1)...)
			continue
		}
		out = append(out, a)
	}
	return out
}

// dangerousConstant: a constant command is still a finding when what it
// runs is: it destroys data, runs a download, or reads credentials.
func dangerousConstant(a string) bool {
	a = strings.TrimSpace(a)
	if len(a) >= 2 && (a[0] == 'r' || a[0] == 'b' || a[0] == 'u' || a[0] == '@') && (a[1] == '"' || a[1] == '\'') {
		a = a[1:] // r"…", b'…'; not the r of "rm -rf /"
	}
	return dangerousCommand(strings.Trim(a, `"'[]`))
}

// dangerousCommand: the command line cmd destroys data, runs a download,
// opens a reverse shell or reads credentials.
func dangerousCommand(cmd string) bool {
	low := strings.ToLower(cmd)
	if wildcardInjection(low) {
		return true
	}
	for _, p := range sensitiveCommandPaths {
		if strings.Contains(low, p) {
			return true
		}
	}
	found := false
	if hasShellAnchor(cmd) {
		checkShell(cmd, func(string, string) { found = true }, 1)
	}
	if !found {
		// Reverse shells, PowerShell cradles and encoded commands, writes
		// to block devices: the script rules, on the command alone.
		scriptFindings(low, func(string, string) { found = true })
	}
	return found
}

// dangerousArgv: the arguments, each a constant string or a list of them
// (exec.Command("rm", "-rf", "/"), subprocess.run(["sh", "-c", "…"]),
// spawn("rm", ["-rf", "~"])), make a command line that dangerousConstant
// flags. An argument vector with a value in it is left to the call's
// provenance rule.
func dangerousArgv(args []string) bool {
	line, ok := argvLine(args, 0)
	return ok && strings.ContainsRune(line, ' ') && dangerousCommand(line)
}

// argvLine joins constant arguments into a shell command line, quoting
// the ones a shell would split; ok is false when one is not a constant.
func argvLine(args []string, depth int) (string, bool) {
	if depth > 2 {
		return "", false
	}
	parts := make([]string, 0, len(args))
	for _, a := range args {
		a = strings.TrimSpace(a)
		for _, typ := range []string{"new String[]", "[]string", "String[]"} {
			a = strings.TrimSpace(strings.TrimPrefix(a, typ))
		}
		if len(a) >= 2 && (a[0] == '[' && a[len(a)-1] == ']' || a[0] == '{' && a[len(a)-1] == '}') {
			inner, ok := argvLine(callArgs(a[1:len(a)-1]+")", -1), depth+1)
			if !ok {
				return "", false
			}
			parts = append(parts, inner)
			continue
		}
		if !constantArg(a) {
			return "", false
		}
		if a[0] != '"' && a[0] != '\'' && a[0] != '`' {
			a = a[1:] // r"…", b'…'
		}
		v := a[1 : len(a)-1]
		if v == "" || strings.ContainsAny(v, " \t'\"|;&<>()$`*?~") {
			v = "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, " "), len(parts) > 0
}

// wildcardInjection: a shell command run from code that hands a bare "*"
// to a program that reads options from file names (chown, chmod, tar,
// rsync): a file named "--checkpoint-action=exec=…" in that directory
// becomes an option (bandit's B609).
func wildcardInjection(low string) bool {
	f := strings.Fields(low)
	if len(f) < 2 {
		return false
	}
	switch path.Base(f[0]) {
	case "chown", "chmod", "tar", "rsync":
		for _, a := range f[1:] {
			if a == "*" || strings.HasSuffix(a, "/*") {
				return true
			}
		}
	}
	return false
}

var sensitiveCommandPaths = []string{"/etc/shadow", "/etc/passwd", ".ssh/", "id_rsa", ".aws/credentials", ".netrc", ".git-credentials", "/dev/tcp/"}

// scriptRules are literal shapes in any text: reverse shells, PowerShell
// cradles and defences turned off, writes to block devices.
var scriptRules = []struct {
	lit  string // found case-insensitively
	rule string
	msg  string
	also []string // and one of these (lower case) in the same line; empty: none needed
}{
	// A shell's streams on /dev/tcp; not a port probe (head < /dev/tcp/db/5432).
	{"/dev/tcp/", RuleCodeReverseShell, "a shell connected to a TCP socket (/dev/tcp)", devTCPShell},
	{"/dev/udp/", RuleCodeReverseShell, "a shell connected to a UDP socket (/dev/udp)", devTCPShell},
	{"nc -e ", RuleCodeReverseShell, "netcat hands a shell to a remote host", nil},
	{"ncat -e ", RuleCodeReverseShell, "ncat hands a shell to a remote host", nil},
	{"nc.traditional -e", RuleCodeReverseShell, "netcat hands a shell to a remote host", nil},
	{"socat ", RuleCodeReverseShell, "socat hands a shell to a remote host", []string{"exec:", "system:"}},
	{"mkfifo", RuleCodeReverseShell, "a named pipe between a shell and netcat", []string{"nc ", "/bin/sh", "/bin/bash"}},
	{"socket.socket(", RuleCodeReverseShell, "a socket wired to a shell", []string{"dup2", "/bin/sh", "subprocess", "pty.spawn"}},
	{"socket(", RuleCodeReverseShell, "a socket wired to a shell", []string{"sh -i", "bash -i", "cmd.exe", "dup2("}},
	{"tcpsocket.new(", RuleCodeReverseShell, "a socket wired to a shell", []string{"/bin/sh", "exec", "spawn"}},
	{"tcpsocket.open(", RuleCodeReverseShell, "a socket wired to a shell", []string{"/bin/sh", "exec", "spawn"}},
	{"/inet/tcp/", RuleCodeReverseShell, "awk connected to a TCP socket (/inet/tcp)", []string{"getline", "|&", "sh"}},
	{"mknod", RuleCodeReverseShell, "a named pipe between a shell and netcat", []string{"nc ", "telnet ", "/bin/sh", "/bin/bash"}},
	{"fsockopen(", RuleCodeReverseShell, "a socket wired to a shell", []string{"/bin/sh", "exec", "proc_open", "shell"}},
	{"new-object system.net.sockets.tcpclient", RuleCodeReverseShell, "a PowerShell reverse shell", nil},
	{"net.sockets.tcpclient", RuleCodeReverseShell, "a PowerShell reverse shell", []string{"iex", "invoke-expression", "getstream"}},
	{"invoke-expression", RuleCodePowerShell, "Invoke-Expression runs text as PowerShell", nil},
	{"iex(", RuleCodePowerShell, "IEX runs text as PowerShell", nil},
	{"iex (", RuleCodePowerShell, "IEX runs text as PowerShell", nil},
	{"| iex", RuleCodePowerShell, "IEX runs downloaded text as PowerShell", nil},
	{"|iex", RuleCodePowerShell, "IEX runs downloaded text as PowerShell", nil},
	// WebClient's methods in PowerShell ($wc.DownloadFile, (New-Object
	// Net.WebClient).DownloadString), not an SDK's DownloadFile(ctx, …).
	{"downloadstring(", RuleCodePowerShell, "a PowerShell download cradle", psCradleContext},
	{"downloadfile(", RuleCodePowerShell, "a PowerShell download cradle", psCradleContext},
	{"-encodedcommand", RuleCodePowerShell, "PowerShell runs an encoded command", nil},
	{"set-mppreference", RuleCodePowerShell, "turns Microsoft Defender protection off", []string{"disable", "exclusion"}},
	{"add-mppreference", RuleCodePowerShell, "adds a Microsoft Defender exclusion", []string{"exclusion"}},
	{"remove-item", RuleCodeRmRoot, "Remove-Item -Recurse on a drive root or the user profile", psRoots},
	// Remove-Item's aliases (rm, ri, del, erase, rd, rmdir) with
	// -Recurse or -Force abbreviated, as PowerShell accepts them.
	{"rm -r", RuleCodeRmRoot, "Remove-Item (rm) -Recurse on a drive root or the user profile", psRoots},
	{"rm -fo", RuleCodeRmRoot, "Remove-Item (rm) -Force on a drive root or the user profile", psRoots},
	{"ri -r", RuleCodeRmRoot, "Remove-Item (ri) -Recurse on a drive root or the user profile", psRoots},
	{"del -r", RuleCodeRmRoot, "Remove-Item (del) -Recurse on a drive root or the user profile", psRoots},
	{"erase -r", RuleCodeRmRoot, "Remove-Item (erase) -Recurse on a drive root or the user profile", psRoots},
	{"format-volume", RuleCodeDiskWipe, "Format-Volume formats a drive", []string{"-driveletter", "-force", "-partition"}},
	{"clear-disk", RuleCodeDiskWipe, "Clear-Disk erases a disk", []string{"-removedata", "-removeoem"}},
	{"remove-partition", RuleCodeDiskWipe, "Remove-Partition deletes a partition", nil},
	{"bcdedit", RuleCodeDiskWipe, "bcdedit changes boot configuration", []string{"recoveryenabled no", "/deletevalue", "/delete"}},
	{"vssadmin delete shadows", RuleCodeDiskWipe, "deletes the volume shadow copies", nil},
	{"format c:", RuleCodeDiskWipe, "formats the system drive", nil},
	{"del /", RuleCodeRmRoot, "del /s on a drive root or the user profile", []string{"c:\\*", "c:\\ ", "c:\\\n", "%userprofile%", "c:\\users\\*"}},
	{"rd /s", RuleCodeRmRoot, "rd /s on a drive root or the user profile", []string{"c:\\ ", "c:\\\n", "%userprofile%"}},
	{"rmdir /s", RuleCodeRmRoot, "rmdir /s on a drive root or the user profile", []string{"c:\\ ", "c:\\\n", "%userprofile%"}},
	{"> /dev/sd", RuleCodeBlockDevice, "writes over a block device", nil},
	{">/dev/sd", RuleCodeBlockDevice, "writes over a block device", nil},
	{"> /dev/nvme", RuleCodeBlockDevice, "writes over a block device", nil},
	{">/dev/nvme", RuleCodeBlockDevice, "writes over a block device", nil},
	{"> /dev/hd", RuleCodeBlockDevice, "writes over a block device", nil},
	{"> /dev/mmcblk", RuleCodeBlockDevice, "writes over a block device", nil},
	{"> /dev/vd", RuleCodeBlockDevice, "writes over a block device", nil},
	{"of=/dev/", RuleCodeBlockDevice, "dd writes over a device", nil},
}

// constantExpression: the Invoke-Expression or IEX rule at low[at:] is
// given a string literal with no variable or subexpression in it.
func constantExpression(lit, low string, at int) bool {
	if lit != "invoke-expression" && lit != "iex(" && lit != "iex (" {
		return false
	}
	rest := strings.TrimLeft(low[at+len(lit):], " ")
	if lit == "invoke-expression" {
		rest = strings.TrimLeft(strings.TrimPrefix(rest, "-command"), " ")
	}
	if rest == "" || rest[0] != '"' && rest[0] != '\'' {
		return false
	}
	end := strings.IndexByte(rest[1:], rest[0])
	return end >= 0 && !strings.ContainsAny(rest[1:1+end], "$(`")
}

// devTCPShell: a line with /dev/tcp that gives a shell its streams
// (bash -i >& /dev/tcp/…, exec 5<>/dev/tcp/…, sh <&196).
var devTCPShell = []string{"sh -i", "bash -i", "<>", ">&", "<&", "0>&1", "/bin/sh", "/bin/bash", "| sh", "|sh", "| bash", "|bash", "cmd.exe"}

// psCradleContext: a line that is PowerShell's (a variable, New-Object,
// WebClient or IEX on it).
var psCradleContext = []string{"webclient", "new-object", "$", "iex", "invoke-expression"}

// psRoots are the targets of a PowerShell removal that wipe a drive or
// a profile: a drive root, the user and system folders, the variables
// naming them.
var psRoots = []string{" ~\n", " ~ ", "$env:homepath", "$env:homedrive\\ ", "c:\\ ", "c:\\'", "c:\\\"", "c:\\*", "$env:userprofile", "$env:systemdrive", "$env:windir", "$home", "-path c:\\ ", " c:\\\n", "c:\\windows", "c:\\users ", "c:\\users\n", "c:\\users\\*"}

// scriptFindings looks for the script rules; low is s lower-cased.
func scriptFindings(low string, add func(rule, msg string)) {
	if blockDeviceWrite(low) {
		add(RuleCodeBlockDevice, "writes over a block device")
	}
	if shellOnDescriptor(low) || socketShell(low) {
		add(RuleCodeReverseShell, "a shell whose input and output are a network connection")
	}
	for _, r := range scriptRules {
		at := strings.Index(low, r.lit)
		if at < 0 {
			continue
		}
		if len(r.also) > 0 && !lineHasAny(low, at, r.also) {
			continue
		}
		if constantExpression(r.lit, low, at) {
			continue // Invoke-Expression "Get-Date": a fixed command
		}
		if r.lit == "of=/dev/" && (strings.Contains(low[at:min(len(low), at+20)], "of=/dev/null") || strings.Contains(low[at:min(len(low), at+20)], "of=/dev/zero")) {
			continue
		}
		add(r.rule, r.msg)
	}
	windowsFindings(low, add)
}

// blockDevices are the names of disks under /dev/ (lower case): SCSI and
// SATA, NVMe, IDE, virtio, Xen, MMC, macOS.
var blockDevices = []string{"sd", "nvme", "hd", "vd", "xvd", "mmcblk", "disk", "rdisk"}

// blockDeviceWrite: low (lower-cased text) writes to a disk under /dev/
// by a way the shell rules do not parse: tee, a file opened for writing
// (Python's open(…, "wb"), Go's os.OpenFile with O_WRONLY or O_RDWR,
// os.WriteFile, Node's fs.writeFile*, createWriteStream), or a tool that
// erases a device (blkdiscard, sgdisk --zap-all, hdparm's secure erase).
// Redirections and dd's of= are scriptRules'.
func blockDeviceWrite(low string) bool {
	for off := 0; off < len(low); {
		j := strings.Index(low[off:], "/dev/")
		if j < 0 {
			return false
		}
		at := off + j
		off = at + 5
		if !isBlockDevice(low[off:]) {
			continue
		}
		ls := strings.LastIndexByte(low[max(0, at-120):at], '\n') + 1 + max(0, at-120)
		before := low[ls:at]
		le := strings.IndexByte(low[at:min(len(low), at+120)], '\n')
		after := low[at:min(len(low), at+120)]
		if le >= 0 {
			after = low[at : at+le]
		}
		switch {
		case strings.Contains(before, "tee "),
			strings.Contains(before, "blkdiscard"),
			strings.Contains(before, "sgdisk") && (strings.Contains(before, "--zap") || strings.Contains(before, "-z")),
			strings.Contains(before, "hdparm") && strings.Contains(before, "security-erase"),
			strings.Contains(before, "writefile"), strings.Contains(before, "createwritestream("):
			return true
		case strings.HasSuffix(strings.TrimRight(before, "'\"` "), "open("), strings.HasSuffix(strings.TrimRight(before, "'\"` "), "openfile("):
			// open("/dev/sda", "wb"), os.OpenFile("/dev/sda", os.O_RDWR, 0)
			if m := strings.IndexByte(after, ','); m >= 0 {
				mode := after[m:]
				if strings.Contains(mode, "o_wronly") || strings.Contains(mode, "o_rdwr") ||
					strings.Contains(mode, "'w") || strings.Contains(mode, "\"w") || strings.Contains(mode, "'a") ||
					strings.Contains(mode, "\"a") || strings.Contains(mode, "+'") || strings.Contains(mode, "+\"") || strings.Contains(mode, "r+") {
					return true
				}
			}
		}
	}
	return false
}

// isBlockDevice: rest (what follows "/dev/") names a disk or a
// partition: sda, sdb1, nvme0n1, mmcblk0, disk2 (not null, zero, tty,
// sdcard directories or stdout).
func isBlockDevice(rest string) bool {
	for _, d := range blockDevices {
		if !strings.HasPrefix(rest, d) {
			continue
		}
		r := rest[len(d):]
		switch d {
		case "sd", "hd", "vd", "xvd":
			return len(r) > 0 && r[0] >= 'a' && r[0] <= 'z' && (len(r) == 1 || !isWordChar(r[1]) || isDigit(r[1]))
		default:
			return len(r) > 0 && isDigit(r[0])
		}
	}
	return false
}
