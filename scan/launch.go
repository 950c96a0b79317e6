package scan

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

// launch is the analysis of one entry's command line.
type launch struct {
	command   string
	args      []string
	url       string
	transport Transport // set when a bridge turns the entry into a remote one
	governed  bool
	wrappedBy []string
	pkg       *pkgRef
	catalogID string
	workload  string // ToolHive workload name
}

type pkgRef struct {
	ecosystem, name, version string
	pinned                   bool
}

func (l launch) public() Launch {
	p := Launch{Command: l.command, Args: l.args, URL: canonicalURL(l.url), CatalogID: l.catalogID}
	if l.pkg != nil {
		p.Ecosystem, p.Package = l.pkg.ecosystem, l.pkg.name
		if l.pkg.pinned {
			p.Version = l.pkg.version
		}
	}
	return p
}

// bridges and governors recognised inside a command line. A governor
// enforces policy (it competes with mcpgov); a bridge only changes transport.
var governors = map[string]bool{"invariant-gateway": true, "snyk-agent-scan": true, "toolhive": true}

// analyzeLaunch peels wrappers off command+args (or looks at url) and works
// out what is really started. It never runs anything.
func analyzeLaunch(command string, args []string, rawURL string) launch {
	l := launch{command: command, args: args, url: rawURL}
	if command == "" {
		if w := toolhiveWorkload(rawURL); w != "" {
			l.wrappedBy = append(l.wrappedBy, "toolhive")
			l.workload = w
		}
		return l
	}
	for depth := 0; depth < 8 && l.command != ""; depth++ {
		if !l.peel() {
			break
		}
	}
	return l
}

// base is a command's lower-case name without directory or Windows extension.
func base(cmd string) string {
	cmd = strings.ReplaceAll(cmd, `\`, "/")
	b := strings.ToLower(path.Base(cmd))
	for _, ext := range []string{".exe", ".cmd", ".bat", ".ps1"} {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

// peel removes one wrapper layer; it reports false when nothing was peeled.
func (l *launch) peel() bool {
	b, args := base(l.command), l.args
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
			l.wrappedBy = append(l.wrappedBy, "snyk-agent-scan")
			if len(args) > 3 {
				l.setCommandLine(args[3:])
				return true
			}
			return false
		}
		if len(args) == 2 {
			l.setCommandLine(splitCommandLine(args[1]))
			return true
		}
		return false
	case strings.HasPrefix(b, "mcpgov") && len(args) > 0 && args[0] == "shim":
		l.governed = true
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
		l.wrappedBy = append(l.wrappedBy, "toolhive")
		l.workload = args[2]
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

func (l *launch) setCommandLine(argv []string) {
	if len(argv) == 1 && strings.ContainsAny(argv[0], " \t") {
		argv = splitCommandLine(argv[0])
	}
	if len(argv) == 0 {
		l.command, l.args = "", nil
		return
	}
	l.command, l.args = argv[0], argv[1:]
}

// peelShim handles `mcpgov shim [flags] -- CMD ARGS`, `--url URL` and `ID`.
func (l *launch) peelShim(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			l.setCommandLine(args[i+1:])
			return true
		case a == "--url" && i+1 < len(args):
			l.url, l.command, l.args = args[i+1], "", nil
			return false
		case strings.HasPrefix(a, "--url="):
			l.url, l.command, l.args = strings.TrimPrefix(a, "--url="), "", nil
			return false
		case strings.HasPrefix(a, "-"):
			if !strings.Contains(a, "=") && i+1 < len(args) && shimValueFlags[a] {
				i++
			}
		default:
			l.catalogID, l.command, l.args = a, "", nil
			return false
		}
	}
	return false
}

// shimValueFlags are `mcpgov shim` flags that take a separate value.
var shimValueFlags = map[string]bool{"--bundle": true, "--server": true, "--name": true, "--mode": true, "--client": true, "--url": true, "--header": true, "--timeout": true}

// npm and Python runner flags that take a value.
var runnerValueFlags = map[string]bool{
	"-p": true, "--package": true, "--registry": true, "--cache": true, "-c": true, "--call": true,
	"--from": true, "--with": true, "--python": true, "--index-url": true, "--extra-index-url": true,
	"--spec": true, "--index": true, "--with-requirements": true, "--userconfig": true,
}

// peelPackageRunner handles npx/uvx-style runners: the first positional
// argument (or --package/--from) names the package.
func (l *launch) peelPackageRunner(eco string, args []string) bool {
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
	switch ref.name {
	case "mcp-remote", "supergateway", "mcp-proxy", "invariant-gateway":
		return l.peelBridge(ref.name, rest)
	}
	l.pkg = &ref
	l.command, l.args = "", rest
	return false
}

// parsePackageSpec reads "name@version" (npm, also scoped), "name==version"
// or "name@version" (Python).
func parsePackageSpec(eco, spec string) pkgRef {
	ref := pkgRef{ecosystem: eco, name: spec}
	switch eco {
	case "npm":
		at := strings.LastIndex(spec, "@")
		if at > 0 {
			ref.name, ref.version = spec[:at], spec[at+1:]
		}
		// npm resolves a partial version (pkg@1, pkg@1.2) as a range.
		ref.pinned = isExactVersion(ref.version) && isFullSemver(ref.version)
	case "pypi":
		// A PEP 440 specifier (==, >=, ~=, !=, <) or "@" ends the name,
		// whichever comes first; only == keeps the bare version.
		op := strings.IndexAny(spec, "=<>!~")
		at := strings.IndexByte(spec, '@')
		switch {
		case at > 0 && (op < 0 || at < op):
			ref.name, ref.version = spec[:at], spec[at+1:]
		case op > 0:
			ref.name, ref.version = spec[:op], strings.TrimPrefix(spec[op:], "==")
		}
		ref.name, ref.version = strings.TrimSpace(ref.name), strings.TrimSpace(ref.version)
		if i := strings.IndexByte(ref.name, '['); i > 0 { // extras: pkg[cli]
			ref.name = ref.name[:i]
		}
		ref.name = strings.ToLower(ref.name)
		ref.pinned = isExactVersion(ref.version)
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

func (l *launch) peelContainer(args []string) bool {
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
	ref := pkgRef{ecosystem: "oci", name: image}
	if n, digest, ok := strings.Cut(image, "@"); ok {
		// image:tag@sha256:… runs the digest; the tag is only a label.
		if colon := strings.LastIndex(n, ":"); colon > strings.LastIndex(n, "/") {
			n = n[:colon]
		}
		ref.name, ref.version, ref.pinned = n, digest, true
	} else if slash := strings.LastIndex(image, "/"); strings.LastIndex(image, ":") > slash {
		colon := strings.LastIndex(image, ":")
		ref.name, ref.version = image[:colon], image[colon+1:]
		ref.pinned = ref.version != "latest"
	}
	ref.name = strings.TrimPrefix(strings.TrimPrefix(ref.name, "docker.io/"), "library/")
	l.pkg = &ref
	l.command, l.args = "", args[i+1:]
	return false
}

// peelBridge handles stdio bridges to remote servers and wrapping gateways.
func (l *launch) peelBridge(name string, args []string) bool {
	l.wrappedBy = append(l.wrappedBy, name)
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
				l.setCommandLine(splitCommandLine(args[i+1]))
				return true
			case "sse":
				l.url, l.transport, l.command, l.args = args[i+1], TransportSSE, "", nil
				return false
			case "streamableHttp":
				l.url, l.transport, l.command, l.args = args[i+1], TransportHTTP, "", nil
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
				l.url, l.command = a, ""
				l.transport = TransportHTTP
				if strings.Contains(strings.Join(args, " "), "sse-only") || strings.HasSuffix(strings.TrimRight(a, "/"), "/sse") {
					l.transport = TransportSSE
				}
				l.args = args // kept: --header values are checked for secrets
				return false
			}
		}
	}
	l.command, l.args = "", args
	return false
}

// toolhiveWorkload recognises ToolHive's local proxy URLs
// (http://127.0.0.1:PORT/sse#WORKLOAD).
func toolhiveWorkload(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Fragment == "" || !isLoopback(u.Hostname()) {
		return ""
	}
	if p := strings.TrimRight(u.Path, "/"); p == "/sse" || p == "/mcp" {
		return u.Fragment
	}
	return ""
}

// canonicalURL lower-cases scheme and host, drops default ports, userinfo,
// query, fragment and a trailing slash, so one server has one identity.
func canonicalURL(raw string) string {
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

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// splitCommandLine splits a shell-like command string on whitespace,
// honouring single and double quotes and backslash escapes. It never
// expands anything.
func splitCommandLine(s string) []string {
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
