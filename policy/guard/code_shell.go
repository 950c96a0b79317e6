package guard

import (
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// downloadThenRun finds a script downloaded to a file and then run in the
// same command line ("curl -o i.sh URL && sh i.sh", "wget -O x URL; chmod
// +x x; ./x"): the two-step form of curl | sh. It also finds an
// interpreter fed a download through a here-string (bash <<< "$(curl …)").
func downloadThenRun(f *syntax.File, add func(rule, msg string)) {
	saved := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Stmt:
			call, ok := n.Cmd.(*syntax.CallExpr)
			if !ok {
				return true
			}
			args := unwrap(words(call.Args))
			if len(args) == 0 || !isInterpreter(path.Base(args[0])) && path.Base(args[0]) != "source" && args[0] != "." {
				return true
			}
			for _, r := range n.Redirs {
				if r.Word != nil && downloadSubst(strings.Join(words([]*syntax.Word{r.Word}), "")) {
					add(RuleCodePipeShell, "runs a downloaded script: "+path.Base(args[0])+" reads $(curl …)")
				}
			}
		case *syntax.CallExpr:
			args := unwrap(words(n.Args))
			if len(args) == 0 {
				return true
			}
			name := path.Base(args[0])
			switch name {
			case "curl", "wget":
				for i, a := range args[1:] {
					if (a == "-o" || a == "--output" || a == "-O" && name == "wget" || a == "--output-document") && i+2 < len(args) {
						saved[path.Clean(args[i+2])] = true
					}
					if v, ok := strings.CutPrefix(a, "--output-document="); ok {
						saved[path.Clean(v)] = true
					}
				}
				return true
			}
			if saved[path.Clean(args[0])] && strings.ContainsRune(args[0], '/') {
				add(RuleCodePipeShell, "runs a script it has just downloaded")
				return true
			}
			if isInterpreter(name) || name == "source" || name == "." {
				for _, a := range args[1:] {
					if saved[path.Clean(a)] {
						add(RuleCodePipeShell, "runs a script it has just downloaded with "+name)
						break
					}
				}
			}
		}
		return true
	})
}

// isNetcat: a program that joins stdin and stdout to a socket.
func isNetcat(name string) bool {
	switch name {
	case "nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "telnet":
		return true
	}
	return false
}

// netcatExec: netcat's -e or -c runs a shell for the remote end.
func netcatExec(args []string) bool {
	for i, a := range args {
		if (a == "-e" || a == "-c" || a == "--exec" || a == "--sh-exec") && i+1 < len(args) {
			if p := path.Base(args[i+1]); isInterpreter(p) || p == "cmd.exe" || p == "cmd" || strings.HasPrefix(p, "bash") || strings.HasPrefix(p, "sh") {
				return true
			}
		}
	}
	return false
}

// pipelineFindings judges a whole pipeline, however long: a download
// (curl, wget, fetch) or a socket (netcat) earlier in it feeding an
// interpreter that reads its input as a script (curl … | tee x | bash);
// an interactive shell whose output goes on to netcat (sh -i 2>&1 | nc
// host port). An interpreter given a script of its own (python -m
// json.tool, sh -c '…', node x.js) reads its input as data.
func pipelineFindings(n *syntax.BinaryCmd, add func(rule, msg string)) {
	stmts := pipelineStmts(&syntax.Stmt{Cmd: n}, 0)
	var source string // the first downloader or netcat seen
	interactive := ""
	for _, st := range stmts {
		args := stmtArgs(st)
		if len(args) == 0 {
			continue
		}
		name := path.Base(args[0])
		switch {
		case name == "curl" || name == "wget" || name == "fetch":
			if source == "" {
				source = name
			}
		case isNetcat(name):
			if interactive != "" {
				add(RuleCodeReverseShell, "an interactive "+interactive+" talks to a remote host through "+name)
			}
			if source == "" {
				source = name
			}
		case isInterpreter(name):
			if anyEqual(args[1:], "-i") {
				interactive = name
			}
			if source == "" || !stdinIsScript(name, args[1:]) {
				continue
			}
			if isNetcat(source) {
				add(RuleCodeReverseShell, source+" pipes a remote host's commands into "+name)
			} else {
				add(RuleCodePipeShell, "downloads a script and pipes it into "+name)
			}
		}
	}
}

// pipelineStmts lists the commands of a pipeline in order.
func pipelineStmts(st *syntax.Stmt, depth int) []*syntax.Stmt {
	if b, ok := st.Cmd.(*syntax.BinaryCmd); ok && (b.Op == syntax.Pipe || b.Op == syntax.PipeAll) && depth < 64 {
		return append(pipelineStmts(b.X, depth+1), pipelineStmts(b.Y, depth+1)...)
	}
	return []*syntax.Stmt{st}
}

// stmtArgs is the words of a simple command, wrappers (sudo, env) left out.
func stmtArgs(st *syntax.Stmt) []string {
	if st == nil {
		return nil
	}
	if call, ok := st.Cmd.(*syntax.CallExpr); ok {
		return unwrap(words(call.Args))
	}
	return nil
}

// stdinIsScript: an interpreter given these arguments runs what it reads
// on its input: no script of its own (no file, -c, -e or -m), or "-" or
// -s in its place.
func stdinIsScript(name string, args []string) bool {
	for _, a := range args {
		switch {
		case a == "-" || a == "--" || a == "-s":
			return true
		case a == "-c" || a == "-e" || a == "-m" || a == "-E" || a == "--eval" || a == "-p" && name == "node":
			return false
		case strings.HasPrefix(a, "-"):
			continue
		default:
			return false // a script file: the input is its data
		}
	}
	return true
}

// shellOnDescriptor: low holds an interactive shell whose input or output
// is a descriptor above 2 (sh -i <&3 >&3 2>&3): a socket the code opened
// before, the stdio of a reverse shell in Lua, PHP, Perl or Ruby.
func shellOnDescriptor(low string) bool {
	for off := 0; off < len(low); {
		j := strings.Index(low[off:], "sh -i")
		if j < 0 {
			return false
		}
		at := off + j + len("sh -i")
		off = at
		rest := low[at:min(len(low), at+40)]
		for k := 0; k+2 < len(rest); k++ {
			if (rest[k] == '<' || rest[k] == '>') && rest[k+1] == '&' {
				d := strings.TrimLeft(rest[k+2:], " ")
				if len(d) > 0 && isDigit(d[0]) && (d[0] >= '3' || len(d) > 1 && isDigit(d[1])) {
					return true
				}
			}
		}
	}
	return false
}

// socketOpeners and shellPrograms make socketShell: code that dials a
// host and starts a shell with its standard streams on that connection,
// the reverse shell of a language without /dev/tcp (Go's net.Dial then
// exec.Command("/bin/sh") with cmd.Stdin = conn; Node's net.Socket piped
// into a spawned sh; Java's Socket beside a ProcessBuilder of cmd.exe).
var (
	socketOpeners = []string{"net.dial(", "net.dialtcp(", "net.dialtimeout(", "new socket(", "new net.socket(", "net.connect(", "net.createconnection(", "socket.tcp(", "tcpsocket.new(", "tcpsocket.open(", "fsockopen(", "tcpclient("}
	shellPrograms = []string{`"/bin/sh"`, `"/bin/bash"`, `"sh"`, `"bash"`, `'/bin/sh'`, `'/bin/bash'`, `'sh'`, `'bash'`, `"cmd.exe"`, `'cmd.exe'`, `"cmd"`, `"powershell"`, `"powershell.exe"`}
	streamWiring  = []string{".stdin =", ".stdin=", "stdin:", ".stdout =", "pipe(sh.stdin", ".pipe(proc.stdin", ".pipe(p.stdin", "getinputstream()", "getoutputstream()", "dup2(", "redirecterrorstream"}
)

// socketShell: low (lower-cased text) opens a socket, starts a shell and
// wires the shell's streams; all three, so a client that runs a fixed
// tool beside a network call is not one.
func socketShell(low string) bool {
	return anyIn(low, socketOpeners) && anyIn(low, shellPrograms) && anyIn(low, streamWiring)
}

func anyIn(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// downloadAsCommand: the command word is $(curl …) or $(wget …), so the
// download's output is run. Backticks are left out: in prose they are
// markdown's inline code.
func downloadAsCommand(call *syntax.CallExpr) bool {
	if len(call.Args) == 0 || len(call.Args[0].Parts) == 0 {
		return false
	}
	cs, ok := call.Args[0].Parts[0].(*syntax.CmdSubst)
	if !ok || cs.Backquotes || len(cs.Stmts) == 0 {
		return false
	}
	args := stmtArgs(cs.Stmts[0])
	if len(args) == 0 {
		return false
	}
	switch path.Base(args[0]) {
	case "curl", "wget":
		return true
	}
	// $(curl … | base64 -d): the download leads a pipeline.
	if b, ok := cs.Stmts[0].Cmd.(*syntax.BinaryCmd); ok {
		if a := stmtArgs(pipelineStmts(&syntax.Stmt{Cmd: b}, 0)[0]); len(a) > 0 && (path.Base(a[0]) == "curl" || path.Base(a[0]) == "wget") {
			return true
		}
	}
	return false
}
