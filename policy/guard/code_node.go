package guard

import "strings"

// Node's child_process is judged by its calls, as every other language's
// exec forms are: the module imported under any name (const cp =
// require("child_process"), import * as cp from "node:child_process",
// const { exec: run } = require("child_process")) and one of its
// functions called on a command that is not a constant, or on a constant
// one that is destructive. A module that imports child_process to run
// "git status" is not a finding.

// childProcessFuncs are the functions of child_process that run a
// command or a program.
var childProcessFuncs = map[string]bool{"exec": true, "execSync": true, "spawn": true, "spawnSync": true, "execFile": true, "execFileSync": true}

// childProcessExec is the check of the "child_process" anchor at s[at:];
// the whole text is judged at the first occurrence only.
func childProcessExec(s string, at int) bool {
	if strings.Index(s, "child_process") != at {
		return false
	}
	receivers, funcs := childProcessBindings(s)
	var judged map[string]bool
	for off := 0; off < len(s); {
		j := strings.IndexByte(s[off:], '(')
		if j < 0 {
			return false
		}
		p := off + j
		off = p + 1
		e := p
		b := e
		for b > 0 && isWordChar(s[b-1]) {
			b--
		}
		if b == e {
			continue
		}
		name := s[b:e]
		fn := ""
		if b > 0 && s[b-1] == '.' {
			recv := s[:b-1]
			for _, r := range receivers {
				if strings.HasSuffix(recv, r) && (len(recv) == len(r) || !isWordChar(recv[len(recv)-len(r)-1]) && recv[len(recv)-len(r)-1] != '.') {
					fn = name
					break
				}
			}
		} else if b == 0 || !isWordChar(s[b-1]) {
			fn = funcs[name]
		}
		if !childProcessFuncs[fn] || fn == "execSync" || fn == "spawnSync" || fn == "execFileSync" {
			continue // the *Sync forms are call forms of their own, judged there
		}
		args := callArgs(s, p)
		if len(args) == 0 {
			continue
		}
		key := strings.Join(args[:min(2, len(args))], "\x00")
		if judged[key] {
			continue // the same call again
		}
		if judged == nil {
			judged = map[string]bool{}
		}
		judged[key] = true
		if commandFires(args) {
			return true
		}
	}
	return false
}

// commandFires: a call that runs args[0] (a command line or a program
// and its arguments) runs one from a value, a shell's script from a
// value, or a destructive constant; the cheap tests first.
func commandFires(args []string) bool {
	if !constantArg(args[0]) {
		return true
	}
	if dynamicCommand(args) {
		return true
	}
	return dangerousConstant(args[0]) || dangerousArgv(args[:min(2, len(args))])
}

// childProcessBindings reads the names child_process is bound to in s:
// receivers (cp in cp.exec, or require("child_process") itself) and
// functions taken from it (run in const { exec: run } = …), each mapped
// to its name in the module.
func childProcessBindings(s string) (receivers []string, funcs map[string]string) {
	receivers = []string{"child_process", `require("child_process")`, `require('child_process')`, `require("node:child_process")`, `require('node:child_process')`}
	funcs = map[string]string{}
	for off := 0; off < len(s); {
		j := strings.Index(s[off:], "child_process")
		if j < 0 {
			break
		}
		at := off + j
		off = at + len("child_process")
		ls := strings.LastIndexByte(s[:at], '\n') + 1
		head := strings.TrimSpace(s[ls:at])
		for _, kw := range []string{"const ", "let ", "var ", "import "} {
			head = strings.TrimPrefix(head, kw)
		}
		switch {
		case strings.HasPrefix(head, "{"):
			// { exec, spawn: sp } = require(…  or  { exec as run } from …
			end := strings.IndexByte(head, '}')
			if end < 0 {
				continue
			}
			for _, part := range strings.Split(head[1:end], ",") {
				part = strings.TrimSpace(part)
				orig, alias, ok := strings.Cut(part, ":")
				if !ok {
					orig, alias, ok = strings.Cut(part, " as ")
				}
				orig, alias = strings.TrimSpace(orig), strings.TrimSpace(alias)
				if !ok {
					alias = orig
				}
				if childProcessFuncs[orig] && isPyIdent(alias) {
					funcs[alias] = orig
				}
			}
		default:
			// cp = require(…  or  * as cp from …  or  cp from …
			name := head
			if k := strings.IndexAny(name, "=\n"); k >= 0 {
				name = name[:k]
			} else if k := strings.Index(name, " from"); k >= 0 {
				name = name[:k]
			}
			name = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), "* as "))
			if isPyIdent(name) {
				receivers = append(receivers, name)
			}
		}
	}
	return receivers, funcs
}
