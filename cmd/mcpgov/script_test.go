package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mcpgov/mcpgov/catalog/catalogtest"
	"github.com/mcpgov/mcpgov/cmd/mcpgov/cli"
	"github.com/mcpgov/mcpgov/shim/shimtest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mcpgov":              func() { benchProfileHook(); os.Exit(benchTraced(cli.Main)) },
		"fake-mcp-server":     catalogtest.FakeServerMain,
		"lenient-mcp-server":  shimtest.LenientServerMain,
		"env-mcp-server":      envServerMain,
		"dex-consent-browser": dexConsentBrowserMain,
		"follow-browser":      followBrowserMain,
	})
}

// TestScript runs the end-to-end scripts in testdata/script against the real
// binary. Set MCPGOV_UPDATE_GOLDEN=1 to rewrite testdata/golden files.
func TestScript(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("..", "..", "testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Condition: func(cond string) (bool, error) {
			if prog, ok := strings.CutPrefix(cond, "have:"); ok {
				return haveProgram(prog)
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			return sandbox(env, golden)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cmpjson":           cmdCmpJSON,
			"envsubst":          cmdEnvsubst,
			"exitcode":          cmdExitCode,
			"mkbig":             cmdMkbig,
			"mkfifo":            cmdMkfifo,
			"jsonfield":         cmdJSONField,
			"listen":            cmdListen,
			"crosscheck-claude": cmdCrosscheckClaude,
			"crosscheck-codex":  cmdCrosscheckCodex,
			"accepted":          cmdAccepted,
			"validsarif":        cmdValidSARIF,
			"jsonsubset":        cmdJSONSubset,
			"scanentry":         cmdScanEntry,
			"diaglines":         cmdDiagLines,
		},
	})
}

// sandbox gives every script its own home and XDG directories and removes
// the client overrides of the developer's environment.
func sandbox(env *testscript.Env, golden string) error {
	home := filepath.Join(env.WorkDir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	env.Setenv("HOME", home)
	env.Setenv("USERPROFILE", home)
	env.Setenv("USER", "tester")
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	env.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local", "state"))
	env.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	for _, k := range []string{
		"CLAUDE_CONFIG_DIR", "CODEX_HOME", "COPILOT_HOME", "CONTINUE_GLOBAL_DIR", "OPENCODE_CONFIG",
		"OPENCODE_CONFIG_DIR", "GEMINI_CLI_SYSTEM_SETTINGS_PATH", "VSCODE_PORTABLE", "APPDATA",
		"CLINE_DIR", "KIMI_CODE_HOME", "GROK_HOME", "PI_CODING_AGENT_DIR", "CLAUDE_CODE_PLUGIN_CACHE_DIR",
		"MCPGOV_FORCE_TTY", "NO_COLOR", "MCPGOV_BUNDLE", "MCPGOV_CONFIG",
	} {
		env.Setenv(k, "")
	}
	// Never read the machine's real managed config.
	env.Setenv("MCPGOV_MANAGED_CONFIG", filepath.Join(env.WorkDir, "managed", "config.toml"))
	env.Setenv("GOLDEN_DIR", golden)
	env.Values["golden"] = golden
	return nil
}

// cmpjson FILE GOLDEN compares a JSON document (stdout, or a file) with
// testdata/golden/GOLDEN after dropping fields that vary between runs
// (host name, time, arch, version) and writing $WORK for the work dir.
func cmdCmpJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpjson stdout|FILE GOLDEN")
	}
	var got string
	if args[0] == "stdout" {
		got = ts.ReadFile("stdout")
	} else {
		got = ts.ReadFile(args[0])
	}
	norm, err := normalizeJSON(got, ts.Getenv("WORK"))
	ts.Check(err)
	path := filepath.Join(ts.Value("golden").(string), args[1])
	if os.Getenv("MCPGOV_UPDATE_GOLDEN") != "" {
		ts.Check(os.WriteFile(path, []byte(norm), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	ts.Check(err)
	same := string(want) == norm
	if same == neg {
		if !neg {
			ts.Logf("got (normalized):\n%s", norm)
			ts.Fatalf("%s differs from golden %s (rerun with MCPGOV_UPDATE_GOLDEN=1 to accept)", args[0], args[1])
		}
		ts.Fatalf("%s unexpectedly matches golden %s", args[0], args[1])
	}
}

// volatile are the keys, by parent object, whose values differ between
// machines and runs.
var volatile = map[string]map[string]bool{
	"host":     {"name": true, "scannedAt": true, "arch": true, "scanner": true},
	"driver":   {"version": true},
	"machines": {"scannedAt": true},
}

func normalizeJSON(doc, work string) (string, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	v = scrub(v, "")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	out := buf.String()
	if real, err := filepath.EvalSymlinks(work); err == nil && real != work {
		out = strings.ReplaceAll(out, real, "$WORK")
	}
	return strings.ReplaceAll(out, work, "$WORK"), nil
}

func scrub(v any, parent string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if volatile[parent][k] {
				t[k] = "<" + k + ">"
				continue
			}
			t[k] = scrub(val, k)
		}
	case []any:
		for i := range t {
			t[i] = scrub(t[i], parent)
		}
	}
	return v
}

// envsubst FILE... replaces $WORK and $HOME in files, so fixtures can hold
// absolute paths.
func cmdEnvsubst(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		p := ts.MkAbs(f)
		b, err := os.ReadFile(p)
		ts.Check(err)
		s := strings.NewReplacer("$WORK", ts.Getenv("WORK"), "$HOME", ts.Getenv("HOME")).Replace(string(b))
		ts.Check(os.WriteFile(p, []byte(s), 0o644))
	}
}

// exitcode N PROG ARGS... runs a program and asserts its exact exit status.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// diaglines [-progress] checks the last command's stderr: every line is a
// diagnostic, "mcpgov: error: ", "mcpgov: warning: " or "mcpgov: hint: ",
// or the indented continuation of the one before it (STYLE rule 6). With
// -progress a report of progress ("mcpgov: wrote …", no level) is allowed
// too.
func cmdDiagLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! diaglines")
	}
	progress := len(args) == 1 && args[0] == "-progress"
	if len(args) > 0 && !progress {
		ts.Fatalf("usage: diaglines [-progress]")
	}
	diag := regexp.MustCompile(`^mcpgov: (error|warning|hint): \S`)
	note := regexp.MustCompile(`^mcpgov: \S`)
	stderr := ts.ReadFile("stderr")
	if stderr == "" {
		return
	}
	for i, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		switch {
		case diag.MatchString(line):
		case progress && note.MatchString(line):
		case i > 0 && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "":
		default:
			ts.Fatalf("stderr line %d has no diagnostic prefix: %q", i+1, line)
		}
	}
}

// mkbig FILE MIB writes a file of the given size in MiB.
func cmdMkbig(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mkbig FILE MIB")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	chunk := bytes.Repeat([]byte(`{"mcpServers":{}}                                                              `+"\n"), 1<<20/80)
	for written := 0; written < n<<20; written += len(chunk) {
		_, err = f.Write(chunk)
		ts.Check(err)
	}
	ts.Check(f.Truncate(int64(n) << 20))
}

// mkfifo FILE creates a named pipe; a scan must not block on it.
func cmdMkfifo(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		ts.Check(syscall.Mkfifo(ts.MkAbs(f), 0o644))
	}
}

// jsonfield FILE PATH WANT asserts one value in a JSON document; PATH is
// dot-separated with numeric array indexes.
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonfield stdout|FILE PATH WANT")
	}
	src := args[0]
	var doc string
	if src == "stdout" {
		doc = ts.ReadFile("stdout")
	} else {
		doc = ts.ReadFile(src)
	}
	var v any
	ts.Check(json.Unmarshal([]byte(doc), &v))
	for _, part := range strings.Split(args[1], ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(t) {
				ts.Fatalf("%s: no element %s", args[1], part)
			}
			v = t[i]
		default:
			ts.Fatalf("%s: cannot index %T with %s", args[1], v, part)
		}
	}
	got := fmt.Sprint(v)
	if b, err := json.Marshal(v); err == nil && (strings.HasPrefix(string(b), "[") || strings.HasPrefix(string(b), "{")) {
		got = string(b)
	}
	if (got == args[2]) == neg {
		ts.Fatalf("%s = %s, want %s%s", args[1], got, map[bool]string{true: "not "}[neg], args[2])
	}
}

// listen VAR starts a loopback TCP listener that counts connections and
// stores its http:// URL in $VAR; accepted N asserts the count. Used to prove
// a scan never contacts configured URLs.
func cmdListen(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: listen VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	ts.Defer(func() { ln.Close() })
	ts.Setenv(args[0], "http://"+ln.Addr().String())
	listeners.Store(ts.Getenv("WORK"), &n)
}

// listeners maps a script's work dir to its connection counter.
var listeners sync.Map

func cmdAccepted(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: accepted N")
	}
	want, err := strconv.ParseInt(args[0], 10, 64)
	ts.Check(err)
	v, _ := listeners.Load(ts.Getenv("WORK"))
	n, ok := v.(*atomic.Int64)
	if !ok {
		ts.Fatalf("accepted: no listener started")
	}
	if got := n.Load(); got != want {
		ts.Fatalf("listener accepted %d connections, want %d", got, want)
	}
}

// jsonsubset A B asserts that every value in JSON document A is in B, equal
// (B may hold more keys): "nothing of the original was lost".
func cmdJSONSubset(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonsubset A B")
	}
	var a, b any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &a))
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &b))
	if path := firstMissing(a, b, "$"); (path == "") == neg {
		if neg {
			ts.Fatalf("%s is contained in %s", args[0], args[1])
		}
		ts.Fatalf("%s differs at %s", args[1], path)
	}
}

func firstMissing(a, b any, path string) string {
	switch at := a.(type) {
	case map[string]any:
		bt, ok := b.(map[string]any)
		if !ok {
			return path
		}
		for k, v := range at {
			if p := firstMissing(v, bt[k], path+"."+k); p != "" {
				return p
			}
		}
		return ""
	case []any:
		bt, ok := b.([]any)
		if !ok || len(bt) != len(at) {
			return path
		}
		for i := range at {
			if p := firstMissing(at[i], bt[i], fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
		return ""
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		return path
	}
	return ""
}
