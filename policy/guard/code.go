package guard

import (
	"sync"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Code-safety rule ids.
const (
	RuleCodeEval       = "code.eval"
	RuleCodeShell      = "code.shell-exec"
	RuleCodeDeserial   = "code.unsafe-deserialize"
	RuleCodePipeShell  = "code.pipe-to-shell"
	RuleCodeRmRoot     = "code.rm-rf-root"
	RuleCodeDiskWipe   = "code.disk-wipe"
	RuleCodeChmodWorld = "code.chmod-777"
	RuleCodeForkBomb   = "code.fork-bomb"
	// RuleCodePersistence: a command that makes itself or another run
	// again later (an SSH key appended, a crontab installed, a Run key).
	RuleCodePersistence = "code.persistence"
	// RuleCodeCoverTracks: a command that clears the record of what was
	// run (shell history, event logs) or turns a host's defences off.
	RuleCodeCoverTracks = "code.cover-tracks"
)

// CodeFinding is one dangerous construct in code or a command line.
type CodeFinding = RuleFinding

type codeAnchor struct {
	lit   string
	rule  string
	msg   string
	check func(s string, at int) bool // optional refinement at the hit
}

var codeAnchors = []codeAnchor{
	{"eval(", RuleCodeEval, "eval() runs text as code", callNotMethodDynamic},
	{"exec(", RuleCodeEval, "exec() runs text as code", callNotMethodDynamic},
	{"__import__(", RuleCodeEval, "__import__() loads modules by name at run time", nil},
	{"new Function(", RuleCodeEval, "new Function() compiles text into code", nil},
	{"os.system(", RuleCodeShell, "os.system() runs a shell command", dynamicFirstArg},
	{"os.popen(", RuleCodeShell, "os.popen() runs a shell command", dynamicFirstArg},
	{"shell=", RuleCodeShell, "subprocess with shell=True runs a shell command", func(s string, at int) bool { return shellTruthy(s, at) && shellTrueDynamic(s, at) }},
	// shell = True, spaced: only as a call's keyword (a config file's
	// shell = "/bin/zsh" is no call).
	{"shell =", RuleCodeShell, "subprocess with shell=True runs a shell command", func(s string, at int) bool {
		return shellTruthy(s, at) && inCall(s, at) && shellTrueDynamic(s, at)
	}},
	{"child_process", RuleCodeShell, "child_process runs a command from a value", childProcessExec},
	{"Runtime.getRuntime().exec(", RuleCodeShell, "Runtime.exec() runs a command", dynamicFirstArg},
	{"pickle.loads(", RuleCodeDeserial, "pickle.loads() runs code from its input", nil},
	{"pickle.load(", RuleCodeDeserial, "pickle.load() runs code from its input", nil},
	{"yaml.load(", RuleCodeDeserial, "yaml.load() without SafeLoader builds arbitrary objects", yamlUnsafe},
	{"marshal.loads(", RuleCodeDeserial, "marshal.loads() on untrusted input", nil},
	{":(){", RuleCodeForkBomb, "a fork bomb", nil},
}

// shellAnchors trigger the shell parse.
var shellAnchors = []string{"rm ", "mkfs", "wipefs", "shred ", "blkdiscard ", "dd ", "chmod ", "bash -c", "sh -c", "> /dev/sd", ">/dev/sd", "<(curl", "<(wget", "$(curl", "$(wget", "`curl", "`wget",
	"&& sh ", "&& bash ", "; sh ", "; bash ", "&& ./", "; ./", "&& python", "<<< \"$(curl", "<<<$(curl", "<<< $(curl",
	"nc ", "ncat ", "netcat ", "telnet ", "authorized_keys", "crontab", "history -c", "HISTFILE", "_history", "iptables",
	"ufw ", "setenforce", "systemctl "}

// pipeTargets are the commands a pipe into which makes a line worth
// parsing ("curl … | sh").
var pipeTargets = []string{"sh", "bash", "zsh", "dash", "python", "python3", "perl", "ruby", "node", "sudo"}

// hasShellAnchor reports whether s holds a shell anchor or a pipe into an
// interpreter; pipes are found in one pass over '|' (tables are full of
// them, so one Index per pipe anchor would rescan them all).
func hasShellAnchor(s string) bool {
	for _, a := range shellAnchors {
		if containsWord(s, a) {
			return true
		}
	}
	return pipeIntoInterpreter(s)
}

// pipeIntoInterpreter: s pipes into one of pipeTargets.
func pipeIntoInterpreter(s string) bool {
	for off := 0; ; {
		j := strings.IndexByte(s[off:], '|')
		if j < 0 {
			return false
		}
		at := off + j + 1
		off = at
		rest := strings.TrimLeft(s[at:min(len(s), at+32)], " ")
		// | /bin/bash, | /usr/bin/env python3, | env sh
		rest = strings.TrimPrefix(rest, "/usr/local/bin/")
		rest = strings.TrimPrefix(rest, "/usr/bin/")
		rest = strings.TrimPrefix(rest, "/bin/")
		rest = strings.TrimPrefix(rest, "env ")
		for _, t := range pipeTargets {
			if strings.HasPrefix(rest, t) && (len(rest) == len(t) || !isWordChar(rest[len(t)])) {
				return true
			}
		}
	}
}

// CheckCode returns the dangerous constructs in s: code anchors
// (eval, os.system, shell=True, pickle, …), and shell command lines, parsed
// with mvdan.cc/sh so that quoted text ("echo 'rm -rf /'") is not a command.
func CheckCode(s string) []CodeFinding {
	if r, ok := resolvePyAliases(s); ok {
		s = r // o.popen(cmd) after "import os as o" is os.popen(cmd)
	}
	var out []CodeFinding
	vars := &varTable{s: s}
	seen := map[string]bool{}
	add := func(rule, msg string) {
		if !seen[rule+msg] {
			seen[rule+msg] = true
			out = append(out, CodeFinding{rule, msg})
		}
	}
	php := strings.Contains(s, "<?")
	// Most anchors hold a '(' : visit the (few) parentheses once and
	// compare each such anchor in place, instead of one scan per anchor.
	for off := 0; off < len(s); {
		j := strings.IndexByte(s[off:], '(')
		if j < 0 {
			break
		}
		p := off + j
		off = p + 1
		for _, a := range codeAnchors {
			k := strings.IndexByte(a.lit, '(')
			if k < 0 || p-k < 0 || p-k+len(a.lit) > len(s) || s[p-k:p-k+len(a.lit)] != a.lit {
				continue
			}
			if a.check == nil || a.check(s, p-k) {
				add(a.rule, a.msg)
			}
		}
		callFormsAt(s, p, add, vars)
		contextCallsAt(s, p, add)
		if php && p > 0 && (s[p-1] == ']' || isWordChar(s[p-1])) && phpVariableCall(s, p, vars) {
			add(RuleCodeEval, "calls a function the request names (PHP)")
		}
	}
	script, shell := anchorsIn(s)
	if script {
		scriptFindings(strings.ToLower(s), add)
	}
	for _, a := range codeAnchors {
		if strings.IndexByte(a.lit, '(') >= 0 {
			continue
		}
		for off := 0; off < len(s); {
			j := strings.Index(s[off:], a.lit)
			if j < 0 {
				break
			}
			at := off + j
			off = at + len(a.lit)
			if a.check == nil || a.check(s, at) {
				add(a.rule, a.msg)
				break
			}
		}
	}
	if strings.Contains(s, "<?") && phpBackticks(s) {
		add(RuleCodeShell, "backticks run a shell command with a variable in it (PHP)")
	}
	if strings.Contains(s, "#{") && interpolatedBackticks(s) {
		add(RuleCodeShell, "backticks run a shell command with interpolated input (Ruby)")
	}
	if shell {
		for _, line := range shellLines(s) {
			checkShell(line, add, 0)
		}
	}
	return out
}

// callNotMethod: eval( / exec( as a function, not model.eval() or
// cursor.exec(), and with an argument.
func callNotMethod(s string, at int) bool {
	if at > 0 {
		c := s[at-1]
		if isWordChar(c) || c == '.' {
			return false
		}
	}
	i := strings.IndexByte(s[at:], '(')
	return at+i+1 < len(s) && s[at+i+1] != ')'
}

// callNotMethodDynamic is callNotMethod with an argument that is not a
// constant string: eval("1 + 1") runs no input.
func callNotMethodDynamic(s string, at int) bool {
	return callNotMethod(s, at) && dynamicFirstArg(s, at)
}

// dynamicFirstArg: the first argument of the call at s[at:] is not a
// constant string literal (os.system("ls -l") runs a fixed command).
func dynamicFirstArg(s string, at int) bool {
	p := at
	for {
		k := strings.IndexByte(s[p:], '(')
		if k < 0 {
			return false
		}
		p += k
		if p+1 < len(s) && s[p+1] == ')' {
			p += 2 // getRuntime()
			continue
		}
		break
	}
	args := callArgs(s, p)
	return len(args) > 0 && (!constantArg(args[0]) || dangerousConstant(args[0]))
}

// shellTrueDynamic: the call that shell=True belongs to runs a command
// that is not a constant string.
func shellTrueDynamic(s string, at int) bool {
	p := openParen(s, at)
	if p < 0 {
		return true
	}
	args := callArgs(s, p)
	return len(args) == 0 || !constantArg(args[0]) || dangerousConstant(args[0])
}

// interpolatedBackticks: Ruby's `…#{x}…` or %x(…#{x}…), a shell command
// built from a value; a constant command in backticks is not a finding.
func interpolatedBackticks(s string) bool {
	for off := 0; ; {
		j := strings.Index(s[off:], "#{")
		if j < 0 {
			return false
		}
		at := off + j
		off = at + 2
		ls := strings.LastIndexByte(s[:at], '\n') + 1
		before := s[ls:at]
		if strings.Count(before, "`")%2 == 1 {
			if k := strings.IndexByte(s[at:], '`'); k > 0 && !strings.Contains(s[at:at+k], "\n") {
				return true
			}
		}
		if k := strings.LastIndex(before, "%x"); k >= 0 && k+2 < len(before) && strings.IndexByte("({[|!", before[k+2]) >= 0 {
			return true
		}
	}
}

// anchorsIn finds, in one case-insensitive pass, whether s holds an
// anchor of the script rules and one of the shell anchors (these at word
// bounds, as containsWord): the cheap test before lower-casing s or
// parsing its lines. Pipes into an interpreter are found apart, in one
// pass over '|'.
func anchorsIn(s string) (script, shell bool) {
	bp := lowerBufs.Get().(*[]byte)
	low := (*bp)[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		low = append(low, c)
	}
	ns := int64(len(scriptAnchors))
	anchorTrie().Walk(low, func(end, n, pi int64) bool {
		if pi < ns {
			script = true
		} else if a := shellAnchors[pi-ns]; !shell && wordAt(s, int(end-n+1), a) {
			shell = true
		}
		return !(script && shell)
	})
	*bp = low
	lowerBufs.Put(bp)
	return script, shell || pipeIntoInterpreter(s)
}

// wordAt: the anchor a found at s[at:] (case-insensitively) is there
// case-sensitively and, where it starts or ends with a letter, starts or
// ends a word.
func wordAt(s string, at int, a string) bool {
	end := at + len(a)
	if s[at:end] != a {
		return false
	}
	first, last := a[0], a[len(a)-1]
	if first >= 'a' && first <= 'z' && at > 0 && isWordChar(s[at-1]) {
		return false
	}
	return !(last >= 'a' && last <= 'z' && end < len(s) && isWordChar(s[end]))
}

// anchorTrie holds scriptAnchors then shellAnchors, lower case; built on
// first use.
var anchorTrie = sync.OnceValue(func() *ahocorasick.Trie {
	b := ahocorasick.NewTrieBuilder().AddStrings(scriptAnchors)
	for _, a := range shellAnchors {
		b.AddString(strings.ToLower(a))
	}
	return b.Build()
})

// scriptAnchors are the script rules' literals, lower case: at least one
// is in any text a script rule fires on.
var scriptAnchors = []string{"/dev/", "/inet/", "mknod", "nc ", "ncat", "socat", "mkfifo", "ocket", "net.dial", "tcpclient", "sh -i", "iex", "nvoke-",
	"ownload", "-enc", "-e ", "mppreference", "emove-", "rm -", "ri -", "del -", "erase -", "format-volume", "clear-disk", "bcdedit", "vssadmin", "ormat c",
	"sockopen", "del /", "rd /", "rmdir /", "owershell", "pwsh", "ertutil", "itsadmin", "mshta",
	"egsvr32", "undll32", "criptblock", "-service", "indefend", "antispyware", "realtimemonitoring",
	"windowsfeature", "wmic", "webrequest", "iwr ", "bitstransfer", "sc stop", "sc config", "currentversion\\run", "wevtutil",
	"clear-eventlog", "advfirewall"}

var lowerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func yamlUnsafe(s string, at int) bool {
	end := strings.IndexByte(s[at:], ')')
	if end < 0 {
		end = min(len(s)-at, 200)
	}
	// SnakeYAML's new Yaml(new SafeConstructor()) is the safe loader of Java.
	return !strings.Contains(s[at:at+end], "SafeLoader") && !strings.Contains(s, "SafeConstructor")
}

// shellLines picks the lines worth parsing: lines holding a shell anchor,
// with prompts ("$ ") removed.
func shellLines(s string) []string {
	var out []string
	for line := range strings.SplitSeq(joinContinuations(s), "\n") {
		t := strings.TrimSpace(line)
		t = strings.TrimPrefix(t, "$ ")
		t = strings.TrimPrefix(t, "# ")
		if v, ok := dockerExecForm(t); ok {
			t = v // RUN ["sh", "-c", "curl … | sh"]
		}
		t = strings.TrimPrefix(t, "RUN ") // Dockerfile
		if strings.Contains(t, "\":") {
			// package.json "postinstall": "curl … | sh", on its own line or
			// in a package.json printed on one line.
			if vs := jsonStringMembers(t); len(vs) > 0 {
				for _, v := range vs {
					if hasShellAnchor(v) {
						out = append(out, v)
					}
				}
				continue
			}
		}
		if hasShellAnchor(t) {
			out = append(out, t)
		}
	}
	return out
}

func checkShell(line string, add func(rule, msg string), depth int) {
	if depth > 3 || len(line) > 4096 {
		return
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
	if err != nil {
		return // prose, not a command
	}
	downloadThenRun(f, add)
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Stmt:
			for _, r := range n.Redirs {
				if r.Word == nil || r.Op != syntax.AppOut && r.Op != syntax.RdrOut && r.Op != syntax.RdrAll && r.Op != syntax.AppAll {
					continue
				}
				target := strings.Join(words([]*syntax.Word{r.Word}), "")
				switch {
				case strings.Contains(target, "authorized_keys"):
					add(RuleCodePersistence, "adds a key to ~/.ssh/authorized_keys")
				case r.Op == syntax.RdrOut && (strings.HasSuffix(target, "bash_history") || strings.HasSuffix(target, "zsh_history")):
					add(RuleCodeCoverTracks, "empties the shell history")
				}
			}
		case *syntax.CmdSubst:
			// `curl | sh` in prose is markdown inline code, not a command.
			return false
		case *syntax.BinaryCmd:
			if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
				pipelineFindings(n, add)
				return true
			}
		case *syntax.CallExpr:
			args := unwrap(words(n.Args))
			if len(args) == 0 {
				return true
			}
			name := path.Base(args[0])
			if downloadAsCommand(n) {
				// $(curl …) as the command: the download's output is run.
				add(RuleCodePipeShell, "runs the output of a download as a command")
			}
			if isNetcat(name) && netcatExec(args[1:]) {
				add(RuleCodeReverseShell, name+" hands a shell to a remote host")
			}
			switch name {
			case "rm":
				if rmRoot(args[1:]) {
					add(RuleCodeRmRoot, "rm -rf on the root, home or every file")
				}
			case "mkfs", "wipefs":
				if deviceTarget(args[1:]) {
					add(RuleCodeDiskWipe, name+" destroys a file system")
				}
			case "shred", "blkdiscard":
				if deviceTarget(args[1:]) {
					add(RuleCodeDiskWipe, name+" destroys a file system")
				}
			case "dd":
				for _, a := range args[1:] {
					if strings.HasPrefix(a, "of=/dev/") {
						add(RuleCodeDiskWipe, "dd writes over a device")
					}
				}
			case "chmod":
				if chmodWorld(args[1:]) {
					add(RuleCodeChmodWorld, "chmod 777 on a system path")
				}
			case "tee":
				if anyContains(args[1:], "authorized_keys") {
					add(RuleCodePersistence, "adds a key to ~/.ssh/authorized_keys")
				}
			case "crontab":
				if len(args) == 2 && args[1] == "-" {
					add(RuleCodePersistence, "installs a crontab from its input")
				}
			case "history":
				if anyEqual(args[1:], "-c") {
					add(RuleCodeCoverTracks, "clears the shell history")
				}
			case "unset":
				if anyEqual(args[1:], "HISTFILE") {
					add(RuleCodeCoverTracks, "stops the shell history")
				}
			case "iptables", "ip6tables":
				if anyEqual(args[1:], "-F") || anyEqual(args[1:], "--flush") {
					add(RuleCodeCoverTracks, name+" flushes the firewall rules")
				}
			case "ufw":
				if anyEqual(args[1:], "disable") {
					add(RuleCodeCoverTracks, "turns the firewall off")
				}
			case "setenforce":
				if anyEqual(args[1:], "0") {
					add(RuleCodeCoverTracks, "turns SELinux enforcement off")
				}
			case "systemctl":
				if (anyEqual(args[1:], "stop") || anyEqual(args[1:], "disable") || anyEqual(args[1:], "mask")) &&
					(anyContains(args[1:], "firewalld") || anyContains(args[1:], "apparmor") || anyContains(args[1:], "auditd") || anyContains(args[1:], "ufw")) {
					add(RuleCodeCoverTracks, "stops a host's firewall or audit service")
				}
			}
			switch name {
			case "rm", "shred", "truncate", "ln":
				if anyContains(args[1:], "bash_history") || anyContains(args[1:], "zsh_history") {
					add(RuleCodeCoverTracks, "removes the shell history")
				}
			case "sh", "bash", "zsh":
				for i, a := range args[1:] {
					if a == "-c" && i+2 < len(args) {
						checkShell(args[i+2], add, depth+1)
					}
				}
			case "eval":
				checkShell(strings.Join(args[1:], " "), add, depth+1)
			}
			switch name {
			case "sh", "bash", "zsh", "dash", "eval", "source", ".", "python", "python3", "perl", "ruby", "node":
				for _, a := range args[1:] {
					if downloadSubst(a) {
						add(RuleCodePipeShell, "runs a downloaded script: "+name+" with $(curl …) or <(curl …)")
					}
				}
			}
			if strings.HasPrefix(name, "mkfs.") && deviceTarget(args[1:]) {
				add(RuleCodeDiskWipe, name+" destroys a file system")
			}
		}
		return true
	})
}

// deviceTarget: mkfs or wipefs is given a device (/dev/…) or a target
// the text does not fix ($DISK); "mkfs.erofs --help" or an image file
// built in a directory destroys nothing.
func deviceTarget(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "/dev/") || strings.HasPrefix(a, "$") {
			return true
		}
	}
	return false
}

// downloadSubst: a word that is the output of curl or wget.
func downloadSubst(a string) bool {
	for _, p := range []string{"$(curl", "<(curl", "`curl", "$(wget", "<(wget", "`wget"} {
		if strings.Contains(a, p) {
			return true
		}
	}
	return false
}

// words renders literal words; parts that are not literal keep their
// source form ($HOME, "$HOME").
func words(ws []*syntax.Word) []string {
	out := make([]string, 0, len(ws))
	p := syntax.NewPrinter()
	for _, w := range ws {
		if lit := w.Lit(); lit != "" {
			out = append(out, lit)
			continue
		}
		var b strings.Builder
		if err := p.Print(&b, w); err != nil {
			continue
		}
		out = append(out, strings.Trim(b.String(), `"'`))
	}
	return out
}

// unwrap drops command wrappers so "sudo rm -rf /" is rm.
func unwrap(args []string) []string {
	for len(args) > 0 {
		switch path.Base(args[0]) {
		case "sudo", "doas", "nohup", "nice", "time", "exec", "command", "builtin", "xargs", "env", "stdbuf", "timeout", "busybox", "setsid":
			args = args[1:]
			for len(args) > 0 && (strings.HasPrefix(args[0], "-") || strings.Contains(args[0], "=") || isNumber(args[0])) {
				args = args[1:]
			}
			continue
		}
		return args
	}
	return args
}

func isNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && s[i] != 's' && s[i] != '.' {
			return false
		}
	}
	return s != ""
}

func isInterpreter(n string) bool {
	switch n {
	case "sh", "bash", "zsh", "dash", "ksh", "python", "python3", "perl", "ruby", "node":
		return true
	}
	return false
}

func rmRoot(args []string) bool {
	var r bool
	var targets []string
	for _, a := range args {
		switch {
		case a == "--no-preserve-root":
			return true
		case a == "--recursive":
			r = true
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--"):
			r = r || strings.ContainsAny(a, "rR")
		default:
			targets = append(targets, a)
		}
	}
	if !r {
		return false
	}
	for _, t := range targets {
		switch strings.TrimRight(t, "/") {
		case "", "/*", "~", "$HOME", "${HOME}", "*", "/home", "/etc", "/usr", "/var", "/boot", "/bin", "/lib", "..", ".":
			return true
		}
		if t == "/" || t == "~/" || t == "/*" || t == "~/*" || t == "$HOME/*" {
			return true
		}
		// Everything in a system directory: "/var/lib/*", "/usr/bin/".
		if systemDirs[strings.TrimRight(strings.TrimSuffix(t, "*"), "/")] {
			return true
		}
	}
	return false
}

// systemDirs are the directories whose whole content a system needs.
var systemDirs = map[string]bool{"/etc": true, "/usr": true, "/var": true, "/boot": true, "/bin": true, "/sbin": true,
	"/lib": true, "/lib64": true, "/opt": true, "/root": true, "/srv": true, "/home": true, "/var/lib": true,
	"/var/log": true, "/usr/bin": true, "/usr/lib": true, "/usr/local": true, "/usr/sbin": true, "/Users": true,
	"/System": true, "/Library": true}

func chmodWorld(args []string) bool {
	mode, target := false, false
	for _, a := range args {
		if a == "777" || a == "0777" || a == "a+rwx" {
			mode = true
		}
		switch strings.TrimRight(a, "/") {
		case "", "/etc", "/usr", "/var", "/bin", "~", "$HOME":
			target = true
		}
	}
	return mode && target
}

// containsWord is strings.Contains where an anchor that starts or ends
// with a letter must start or end a word: "| sh" is not "| shipped", and
// "rm " is not "platform ".
func containsWord(s, a string) bool {
	first, last := a[0], a[len(a)-1]
	checkStart := first >= 'a' && first <= 'z'
	checkEnd := last >= 'a' && last <= 'z'
	if !checkStart && !checkEnd {
		return strings.Contains(s, a)
	}
	for off := 0; ; {
		j := strings.Index(s[off:], a)
		if j < 0 {
			return false
		}
		at := off + j
		end := at + len(a)
		if (!checkStart || at == 0 || !isWordChar(s[at-1])) && (!checkEnd || end == len(s) || !isWordChar(s[end])) {
			return true
		}
		off = at + 1
	}
}

func anyEqual(args []string, w string) bool {
	for _, a := range args {
		if a == w {
			return true
		}
	}
	return false
}

func anyContains(args []string, w string) bool {
	for _, a := range args {
		if strings.Contains(a, w) {
			return true
		}
	}
	return false
}
