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
