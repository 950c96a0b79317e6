// Package launch works out what an MCP server entry really starts: it
// peels wrappers (cmd /c, sh -c, mcpgov shim, mcp-remote, docker, package
// runners such as npx and uvx) off a command line, finds the package and
// its version or the canonical URL, and derives the launch identity scan
// reports and the shim records. The catalog matches its entries on it and
// the CLI names servers by it, without importing the scanner. It never
// runs anything.
package launch

import (
	"net"
	"net/url"
	"path"
	"strings"

	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// Launch is what a server entry starts once wrappers (cmd /c, mcpgov shim,
// mcp-remote, …) are peeled away.
type Launch struct {
	Ecosystem string   // "npm", "pypi", "oci" for packages; "" otherwise
	Package   string   // package or image name
	Version   string   // requested version or tag; "" when unpinned
	Command   string   // the command actually run, for non-package launches
	Args      []string // its arguments
	URL       string   // canonical URL of a remote server
	CatalogID string   // `mcpgov shim ID`: launched from the catalog
}

// Analysis is what Parse makes of one entry's command line: Launch's facts
// and the ones scan's findings need besides (wrappers, the package's
// pinning).
type Analysis struct {
	Command   string
	Args      []string
	URL       string // as written; Launch has it canonical
	Transport string // "http" or "sse" when a bridge turns the entry into a remote one
	Governed  bool   // runs through mcpgov shim
	WrappedBy []string
	Package   *Package
	CatalogID string
	Workload  string // ToolHive workload name
}

// Package is a package or image a launch runs.
type Package struct {
	Ecosystem, Name, Version string
	Pinned                   bool // an exact version (or digest) was asked for
}

// Launch is the public summary of a.
func (l Analysis) Launch() Launch {
	p := Launch{Command: l.Command, Args: l.Args, URL: CanonicalURL(l.URL), CatalogID: l.CatalogID}
	if l.Package != nil {
		p.Ecosystem, p.Package = l.Package.Ecosystem, l.Package.Name
		if l.Package.Pinned {
			p.Version = l.Package.Version
		}
	}
	return p
}

// bridges and governors recognised inside a command line. A governor
// enforces policy (it competes with mcpgov); a bridge only changes transport.
var governors = map[string]bool{"invariant-gateway": true, "snyk-agent-scan": true, "toolhive": true}

// IsGovernor reports whether a wrapper of WrappedBy enforces policy of its
// own (a gateway competing with mcpgov) rather than only bridging.
func IsGovernor(wrapper string) bool { return governors[wrapper] }

// analyzeLaunch peels wrappers off command+args (or looks at url) and works
// out what is really started. It never runs anything.
func Parse(command string, args []string, rawURL string) Analysis {
	l := Analysis{Command: command, Args: args, URL: rawURL}
	if command == "" {
		if w := toolhiveWorkload(rawURL); w != "" {
			l.WrappedBy = append(l.WrappedBy, "toolhive")
			l.Workload = w
		}
		return l
	}
	for depth := 0; depth < 8 && l.Command != ""; depth++ {
		if !l.peel() {
			break
		}
	}
	return l
}

// Base is a command's lower-case name without directory or Windows extension.
func Base(cmd string) string {
	cmd = strings.ReplaceAll(cmd, `\`, "/")
	b := strings.ToLower(path.Base(cmd))
	for _, ext := range []string{".exe", ".cmd", ".bat", ".ps1"} {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

// peel removes one wrapper layer; it reports false when nothing was peeled.
func (l *Analysis) peel() bool {
	b, args := Base(l.Command), l.Args
	switch {
	case b == "cmd":
		// Switches may precede /c: `cmd /d /s /c "…"` is how wrappers (the
		// Snyk shim on Windows among them) write it.
		i := 0
		for i < len(args) && isCmdSwitch(args[i]) {
			i++
		}
		if i+1 < len(args) && (strings.EqualFold(args[i], "/c") || strings.EqualFold(args[i], "/k")) {
			l.setCommandLine(args[i+1:])
			return true
		}
		return false
	case (b == "sh" || b == "bash" || b == "zsh" || b == "dash") && len(args) >= 2 && args[0] == "-c":
		if strings.Contains(args[1], "snyk_mcp_stdio_local_proxy") {
			l.WrappedBy = append(l.WrappedBy, "snyk-agent-scan")
			if len(args) > 3 {
				l.setCommandLine(args[3:])
				return true
			}
			return false
		}
		if len(args) == 2 {
			l.setCommandLine(SplitCommandLine(args[1]))
			return true
		}
		return false
	case strings.HasPrefix(b, "mcpgov") && len(args) > 0 && args[0] == "shim":
		l.Governed = true
		return l.peelShim(args[1:])
	case b == "npx" || b == "bunx" || b == "pnpx":
		return l.peelPackageRunner("npm", args)
	case (b == "pnpm" || b == "yarn") && len(args) > 0 && args[0] == "dlx",
		b == "npm" && len(args) > 0 && (args[0] == "exec" || args[0] == "x"),
		b == "bun" && len(args) > 0 && args[0] == "x":
		return l.peelPackageRunner("npm", args[1:])
	case b == "uvx":
		return l.peelPackageRunner("pypi", args)
	case b == "uv" && len(args) > 1 && args[0] == "tool" && args[1] == "run":
		return l.peelPackageRunner("pypi", args[2:])
	case b == "pipx" && len(args) > 0 && args[0] == "run":
		return l.peelPackageRunner("pypi", args[1:])
	case b == "docker" || b == "podman" || b == "nerdctl":
		return l.peelContainer(args)
	case b == "thv" && len(args) > 2 && args[0] == "proxy" && args[1] == "stdio":
		l.WrappedBy = append(l.WrappedBy, "toolhive")
		l.Workload = args[2]
		return false
	case b == "mcp-remote" || b == "supergateway" || b == "mcp-proxy" || b == "invariant-gateway":
		return l.peelBridge(b, args)
	}
	return false
}

// isCmdSwitch reports whether a is a cmd.exe switch other than /c and /k
// (/d, /s, /q, /e:on, /v:off, …).
func isCmdSwitch(a string) bool {
	return len(a) >= 2 && a[0] == '/' && !strings.EqualFold(a, "/c") && !strings.EqualFold(a, "/k") &&
		(len(a) == 2 || a[2] == ':')
}

func (l *Analysis) setCommandLine(argv []string) {
	if len(argv) == 1 && strings.ContainsAny(argv[0], " \t") {
		argv = SplitCommandLine(argv[0])
	}
	if len(argv) == 0 {
		l.Command, l.Args = "", nil
		return
	}
	l.Command, l.Args = argv[0], argv[1:]
}

// peelShim handles `mcpgov shim [flags] -- CMD ARGS`, `--url URL` and `ID`.
func (l *Analysis) peelShim(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			l.setCommandLine(args[i+1:])
			return true
		case a == "--url" && i+1 < len(args):
			l.URL, l.Command, l.Args = args[i+1], "", nil
			return false
		case strings.HasPrefix(a, "--url="):
			l.URL, l.Command, l.Args = strings.TrimPrefix(a, "--url="), "", nil
			return false
		case strings.HasPrefix(a, "-"):
			if !strings.Contains(a, "=") && i+1 < len(args) && shimValueFlags[a] {
				i++
			}
		default:
			l.CatalogID, l.Command, l.Args = a, "", nil
			return false
		}
	}
	return false
}

// shimValueFlags are `mcpgov shim` flags that take a separate value.
var shimValueFlags = map[string]bool{"--bundle": true, "--server": true, "--name": true, "--mode": true, "--client": true, "--url": true, "--header": true, "--timeout": true, "--secret-env": true, "--secret-arg": true, "--secret-header": true, "--secret-query": true, "--secret-userinfo": true, "--secret-origin": true}

// npm and Python runner flags that take a value.
var runnerValueFlags = map[string]bool{
	"-p": true, "--package": true, "--registry": true, "--cache": true, "-c": true, "--call": true,
	"--from": true, "--with": true, "--python": true, "--index-url": true, "--extra-index-url": true,
	"--spec": true, "--index": true, "--with-requirements": true, "--userconfig": true,
}

// peelPackageRunner handles npx/uvx-style runners: the first positional
// argument (or --package/--from) names the package.
func (l *Analysis) peelPackageRunner(eco string, args []string) bool {
	var spec string
	specFlagged := false
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
		if name == "-p" || name == "--package" || name == "--from" || name == "--spec" {
			if hasVal {
				spec = val
			} else if i+1 < len(args) {
				spec = args[i+1]
				i++
			}
			specFlagged = true
			continue
		}
		if !hasVal && runnerValueFlags[name] {
			i++
		}
	}
	if i >= len(args) && spec == "" {
		return false
	}
	if spec == "" {
		spec = args[i]
	}
	rest := []string{}
	if i < len(args) {
		rest = args[i+1:]
	}
	if specFlagged && i < len(args) {
		rest = args[i+1:]
	}
	ref := parsePackageSpec(eco, spec)
	switch ref.Name {
	case "mcp-remote", "supergateway", "mcp-proxy", "invariant-gateway":
		return l.peelBridge(ref.Name, rest)
	}
	l.Package = &ref
	l.Command, l.Args = "", rest
	return false
}

// parsePackageSpec reads "name@version" (npm, also scoped), "name==version"
// or "name@version" (Python).
func parsePackageSpec(eco, spec string) Package {
	ref := Package{Ecosystem: eco, Name: spec}
	switch eco {
	case "npm":
		at := strings.LastIndex(spec, "@")
		if at > 0 {
			ref.Name, ref.Version = spec[:at], spec[at+1:]
		}
		// npm resolves a partial version (pkg@1, pkg@1.2) as a range.
		ref.Pinned = isExactVersion(ref.Version) && isFullSemver(ref.Version)
	case "pypi":
		// A PEP 440 specifier (==, >=, ~=, !=, <) or "@" ends the name,
		// whichever comes first; only == keeps the bare version.
		op := strings.IndexAny(spec, "=<>!~")
		at := strings.IndexByte(spec, '@')
		switch {
		case at > 0 && (op < 0 || at < op):
			ref.Name, ref.Version = spec[:at], spec[at+1:]
		case op > 0:
			ref.Name, ref.Version = spec[:op], strings.TrimPrefix(spec[op:], "==")
		}
		ref.Name, ref.Version = strings.TrimSpace(ref.Name), strings.TrimSpace(ref.Version)
		if i := strings.IndexByte(ref.Name, '['); i > 0 { // extras: pkg[cli]
			ref.Name = ref.Name[:i]
		}
		ref.Name = strings.ToLower(ref.Name)
		ref.Pinned = isExactVersion(ref.Version)
	}
	return ref
}

// isExactVersion accepts a concrete version (1.2.3, 2025.1.14, v0.4.0) and
// rejects tags and ranges (latest, next, ^1.2, ~1, >=1, 1.x, *).
func isExactVersion(v string) bool {
	v = strings.TrimPrefix(v, "v")
	if v == "" || v[0] < '0' || v[0] > '9' {
		return false
	}
	if strings.ContainsAny(v, "^~<>=*| ") || strings.Contains(v, ".x") || strings.HasSuffix(v, ".X") {
		return false
	}
	return true
}

// isFullSemver reports whether v (after an optional "v") has the three
// numeric parts of a semver version, with optional pre-release and build.
func isFullSemver(v string) bool {
	core := strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// Container flags that take a value (docker run / podman run).
var containerValueFlags = map[string]bool{
	"-e": true, "--env": true, "--env-file": true, "-v": true, "--volume": true, "--mount": true,
	"--name": true, "--network": true, "--net": true, "-p": true, "--publish": true, "-w": true,
	"--workdir": true, "-u": true, "--user": true, "--entrypoint": true, "--platform": true,
	"--label": true, "-l": true, "--cpus": true, "-m": true, "--memory": true, "--pull": true,
	"--add-host": true, "--cap-add": true, "--cap-drop": true, "--security-opt": true, "-h": true,
	"--hostname": true, "--dns": true, "--device": true, "--tmpfs": true, "--ulimit": true,
	"--log-driver": true, "--restart": true, "--runtime": true, "--gpus": true, "--shm-size": true,
}

func (l *Analysis) peelContainer(args []string) bool {
	i := 0
	for i < len(args) && args[i] != "run" {
		if !strings.HasPrefix(args[i], "-") && args[i] != "container" {
			return false
		}
		i++
	}
	if i >= len(args) {
		return false
	}
	for i++; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			break
		}
		if !strings.Contains(a, "=") && containerValueFlags[a] {
			i++
		}
	}
	if i >= len(args) {
		return false
	}
	image := args[i]
	ref := Package{Ecosystem: "oci", Name: image}
	if n, digest, ok := strings.Cut(image, "@"); ok {
		// image:tag@sha256:… runs the digest; the tag is only a label.
		if colon := strings.LastIndex(n, ":"); colon > strings.LastIndex(n, "/") {
			n = n[:colon]
		}
		ref.Name, ref.Version, ref.Pinned = n, digest, true
	} else if slash := strings.LastIndex(image, "/"); strings.LastIndex(image, ":") > slash {
		colon := strings.LastIndex(image, ":")
		ref.Name, ref.Version = image[:colon], image[colon+1:]
		ref.Pinned = ref.Version != "latest"
	}
	ref.Name = strings.TrimPrefix(strings.TrimPrefix(ref.Name, "docker.io/"), "library/")
	l.Package = &ref
	l.Command, l.Args = "", args[i+1:]
	return false
}

// peelBridge handles stdio bridges to remote servers and wrapping gateways.
func (l *Analysis) peelBridge(name string, args []string) bool {
	l.WrappedBy = append(l.WrappedBy, name)
	switch name {
	case "invariant-gateway":
		for i, a := range args {
			if a == "--exec" && i+1 < len(args) {
				l.setCommandLine(args[i+1:])
				return true
			}
		}
	case "supergateway":
		for i := 0; i+1 < len(args); i++ {
			switch strings.TrimLeft(args[i], "-") {
			case "stdio":
				l.setCommandLine(SplitCommandLine(args[i+1]))
				return true
			case "sse":
				l.URL, l.Transport, l.Command, l.Args = args[i+1], transportSSE, "", nil
				return false
			case "streamableHttp":
				l.URL, l.Transport, l.Command, l.Args = args[i+1], transportHTTP, "", nil
				return false
			}
		}
	default: // mcp-remote, mcp-proxy
		for i, a := range args {
			if a == "--" && name == "mcp-proxy" {
				l.setCommandLine(args[i+1:])
				return true
			}
			if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
				l.URL, l.Command = a, ""
				l.Transport = transportHTTP
				if strings.Contains(strings.Join(args, " "), "sse-only") || strings.HasSuffix(strings.TrimRight(a, "/"), "/sse") {
					l.Transport = transportSSE
				}
				l.Args = args // kept: --header values are checked for secrets
				return false
			}
		}
	}
	l.Command, l.Args = "", args
	return false
}

// toolhiveWorkload recognises ToolHive's local proxy URLs
// (http://127.0.0.1:PORT/sse#WORKLOAD).
func toolhiveWorkload(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Fragment == "" || !IsLoopback(u.Hostname()) {
		return ""
	}
	if p := strings.TrimRight(u.Path, "/"); p == "/sse" || p == "/mcp" {
		return u.Fragment
	}
	return ""
}

// CanonicalURL lower-cases scheme and host, drops default ports, userinfo,
// query, fragment and a trailing slash, so one server has one identity.
func CanonicalURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		// The identity is written to reports: an unparseable URL (a password
		// with "{") must not carry its secret there.
		return secret.MaskURL(strings.TrimSpace(raw))
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	// Tokens in the path (personal server URLs such as …/mcp/sk-…/sse) are
	// masked: the identity is written to reports and SARIF.
	p := secret.MaskKnownTokens(strings.TrimRight(u.EscapedPath(), "/"))
	return scheme + "://" + host + p
}

// IsLoopback reports whether host is this machine (localhost, a loopback IP).
func IsLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SplitCommandLine splits a shell-like command string on whitespace,
// honouring single and double quotes and backslash escapes. It never
// expands anything.
func SplitCommandLine(s string) []string {
	var (
		out     []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	runes := []rune(s)
	for i, r := range runes {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'' && i+1 < len(runes) && strings.ContainsRune(`"'\ `, runes[i+1]):
			escaped = true
			inWord = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			inWord = true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// The transports a bridge turns an entry into; scan's Transport values.
const (
	transportHTTP = "http"
	transportSSE  = "sse"
)

// Identity is a stable fingerprint of what an entry launches: the package
// and version, the canonical URL, a Zed extension, or the command line with
// secret arguments masked and paths under home written ~/… — never its
// name. It is "" when the entry launches nothing it can name.
func (l Analysis) Identity(extension, home string) string {
	switch {
	case l.CatalogID != "":
		return "catalog:" + l.CatalogID
	case l.Workload != "":
		return "toolhive:" + l.Workload
	case l.Package != nil:
		sep := "@"
		switch l.Package.Ecosystem {
		case "pypi":
			sep = "=="
		case "oci":
			sep = ":"
			if strings.HasPrefix(l.Package.Version, "sha256:") {
				sep = "@"
			}
		}
		// An unpinned package is "whatever the registry serves": its
		// identity is the name alone, whatever tag or range was written.
		if l.Package.Version == "" || !l.Package.Pinned {
			return l.Package.Ecosystem + ":" + l.Package.Name
		}
		return l.Package.Ecosystem + ":" + l.Package.Name + sep + l.Package.Version
	case l.URL != "":
		return CanonicalURL(l.URL)
	case extension != "":
		return "zed-extension:" + extension
	case l.Command != "":
		flagged := secret.Args(l.Args)
		masked := secret.MaskArgs(append([]string{l.Command}, l.Args...))
		parts := make([]string, 0, len(masked))
		for i, a := range masked {
			if _, ok := flagged[i-1]; ok && i > 0 && a == l.Args[i-1] {
				a = secret.MaskArg(a)
			}
			parts = append(parts, tildePath(a, home))
		}
		return "exec:" + strings.Join(parts, " ")
	}
	return ""
}

// tildePath writes paths under the home directory as ~/… so one server has
// one identity across users.
func tildePath(p, home string) string {
	if home == "" || !strings.HasPrefix(p, home) {
		return p
	}
	rest := p[len(home):]
	if rest == "" || rest[0] == '/' || rest[0] == '\\' {
		return "~" + rest
	}
	return p
}

// Analyze reports what a command line (or URL) starts, the way a scan
// reads a client config entry: wrappers peeled, package and version found.
// The catalog uses it to match its own launch parameters.
func Analyze(command string, args []string, url string) Launch {
	return Parse(command, args, url).Launch()
}

// Identity is the identity scan gives a server with this launch
// ("npm:pkg@1.2.3", a canonical URL, "exec:cmd args" with secret arguments
// masked and paths under home written ~/…): safe to print and record.
func Identity(command string, args []string, url, home string) string {
	if id := Parse(command, args, url).Identity("", home); id != "" {
		return id
	}
	return "unknown:"
}
