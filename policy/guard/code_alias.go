package guard

import (
	"strings"
)

// Python code rarely calls os.popen by that name alone: "import os as o"
// then o.popen(cmd), "from subprocess import Popen as pop" then pop(cmd),
// "from pickle import loads as lp" then lp(data). The call forms are
// written with the module's own name, so an aliased call went unseen.
// pyAliases reads the import statements of a text, and resolvePyAliases
// writes the calls made through the aliases in the modules' own names, so
// that every call form (and its argument provenance) applies to them.

// aliasModules are the modules whose calls the code rules know; an alias
// of any other module is left alone ("import numpy as np" stays np).
var aliasModules = map[string]bool{
	"os": true, "subprocess": true, "pickle": true, "cPickle": true, "_pickle": true, "dill": true,
	"marshal": true, "yaml": true, "shelve": true, "jsonpickle": true, "commands": true, "popen2": true,
	"pty": true, "shutil": true, "joblib": true, "torch": true, "asyncio": true,
}

// pyAliases maps each name an import binds (an alias of a module, or a
// function imported from one) to its canonical dotted name, for the
// modules of aliasModules.
func pyAliases(s string) map[string]string {
	var m map[string]string
	bind := func(name, canon string) {
		if name == "" || name == canon || !isPyIdent(name) {
			return
		}
		if m == nil {
			m = map[string]string{}
		}
		m[name] = canon
	}
	for off := 0; off < len(s); {
		j := strings.Index(s[off:], "import ")
		if j < 0 {
			break
		}
		// Only a line's first "import " can be a statement's: before a
		// later one the head holds "import", which no module name does.
		// So the scan goes on at the next line, and s is read once
		// however many "import " one line holds.
		at := off + j
		ls := strings.LastIndexByte(s[off:at], '\n') + 1 + off
		le := strings.IndexByte(s[at:], '\n')
		if le < 0 {
			le = len(s) - at
		}
		off = at + le + 1
		head := strings.TrimSpace(s[ls:at])
		names := s[at+len("import ") : at+le]
		if k := strings.IndexAny(names, "#;"); k >= 0 {
			names = names[:k]
		}
		names = strings.Trim(strings.TrimSpace(names), "()")
		switch {
		case head == "":
			// import os as o, subprocess as sp
			for _, part := range strings.Split(names, ",") {
				mod, alias, ok := strings.Cut(strings.TrimSpace(part), " as ")
				mod, alias = strings.TrimSpace(mod), strings.TrimSpace(alias)
				if ok && aliasModules[mod] {
					bind(alias, mod)
				}
			}
		case strings.HasPrefix(head, "from ") && !strings.ContainsAny(head[5:], "(\"'"):
			// from os import popen, system as run
			mod := strings.TrimSpace(head[5:])
			if !aliasModules[mod] {
				continue
			}
			for _, part := range strings.Split(names, ",") {
				fn, alias, ok := strings.Cut(strings.TrimSpace(part), " as ")
				fn, alias = strings.TrimSpace(fn), strings.TrimSpace(alias)
				if !isPyIdent(fn) {
					continue
				}
				if !ok {
					alias = fn
				}
				bind(alias, mod+"."+fn)
			}
		}
	}
	return m
}

func isPyIdent(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordChar(s[i]) {
			return false
		}
	}
	return true
}

// resolvePyAliases returns s with every call through an alias of
// pyAliases written in its canonical name (o.popen( → os.popen(,
// pop( → subprocess.Popen(), and whether it changed anything. A name
// counts where it starts a name (not after a dot or a letter) and is
// followed by "(" (a function) or "." (a module).
func resolvePyAliases(s string) (string, bool) {
	if !strings.Contains(s, "import ") {
		return s, false
	}
	m := pyAliases(s)
	if len(m) == 0 {
		return s, false
	}
	var b strings.Builder
	last, changed := 0, false
	for i := 0; i < len(s); {
		if !isWordChar(s[i]) || i > 0 && (isWordChar(s[i-1]) || s[i-1] == '.') {
			i++
			continue
		}
		e := i
		for e < len(s) && isWordChar(s[e]) {
			e++
		}
		if e < len(s) && (s[e] == '(' || s[e] == '.') {
			if canon, ok := m[s[i:e]]; ok && (s[e] == '(' || !strings.Contains(canon, ".")) {
				b.WriteString(s[last:i])
				b.WriteString(canon)
				last, changed = e, true
			}
		}
		i = e
	}
	if !changed {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}
