package launch

import (
	"reflect"
	"strings"
	"testing"
)

// pkgWant is the package a launch should resolve to: "eco:name@version"
// with a trailing "!" when the version counts as pinned.
type launchWant struct {
	pkg       string // "npm:name@version!" ("!" = pinned); "" = no package
	command   string
	args      []string // nil = not checked; use []string{} for "no args"
	url       string
	transport string
	governed  bool
	wrappedBy []string
	catalogID string
	workload  string
}

func pkgString(p *Package) string {
	if p == nil {
		return ""
	}
	s := p.Ecosystem + ":" + p.Name
	if p.Version != "" {
		s += "@" + p.Version
	}
	if p.Pinned {
		s += "!"
	}
	return s
}

func checkLaunch(t *testing.T, l Analysis, w launchWant) {
	t.Helper()
	if got := pkgString(l.Package); got != w.pkg {
		t.Errorf("pkg = %q, want %q", got, w.pkg)
	}
	if l.Command != w.command {
		t.Errorf("command = %q, want %q", l.Command, w.command)
	}
	if w.args != nil && !(len(w.args) == 0 && len(l.Args) == 0) && !reflect.DeepEqual(l.Args, w.args) {
		t.Errorf("args = %q, want %q", l.Args, w.args)
	}
	if l.URL != w.url {
		t.Errorf("url = %q, want %q", l.URL, w.url)
	}
	if l.Transport != w.transport {
		t.Errorf("transport = %q, want %q", l.Transport, w.transport)
	}
	if l.Governed != w.governed {
		t.Errorf("governed = %v, want %v", l.Governed, w.governed)
	}
	if !(len(l.WrappedBy) == 0 && len(w.wrappedBy) == 0) && !reflect.DeepEqual(l.WrappedBy, w.wrappedBy) {
		t.Errorf("wrappedBy = %q, want %q", l.WrappedBy, w.wrappedBy)
	}
	if l.CatalogID != w.catalogID {
		t.Errorf("catalogID = %q, want %q", l.CatalogID, w.catalogID)
	}
	if l.Workload != w.workload {
		t.Errorf("workload = %q, want %q", l.Workload, w.workload)
	}
}

const snykScript = `P=/tmp/snyk_mcp_stdio_local_proxy.0123456789ab.sh; if [ -x "$P" ]; then exec "$P" "$@"; else exec "$@"; fi`

func TestAnalyzeLaunch(t *testing.T) {
	cases := []struct {
		name    string
		command string
		args    []string
		url     string
		want    launchWant
	}{
		// npm runners.
		{"npx -y unversioned", "npx", []string{"-y", "@modelcontextprotocol/server-filesystem", "/tmp"}, "",
			launchWant{pkg: "npm:@modelcontextprotocol/server-filesystem", args: []string{"/tmp"}}},
		{"npx scoped pinned", "npx", []string{"-y", "@modelcontextprotocol/server-filesystem@2025.1.14", "/tmp"}, "",
			launchWant{pkg: "npm:@modelcontextprotocol/server-filesystem@2025.1.14!", args: []string{"/tmp"}}},
		{"npx scoped prerelease", "npx", []string{"@scope/pkg@1.2.3-beta.1"}, "",
			launchWant{pkg: "npm:@scope/pkg@1.2.3-beta.1!", args: []string{}}},
		{"npx unscoped pinned", "npx", []string{"--yes", "mcp-server-kubernetes@2.4.0"}, "",
			launchWant{pkg: "npm:mcp-server-kubernetes@2.4.0!", args: []string{}}},
		{"npx v-prefixed", "npx", []string{"pkg@v0.4.0"}, "", launchWant{pkg: "npm:pkg@v0.4.0!", args: []string{}}},
		{"npx @latest", "npx", []string{"-y", "@playwright/mcp@latest"}, "", launchWant{pkg: "npm:@playwright/mcp@latest", args: []string{}}},
		{"npx @next", "npx", []string{"-y", "pkg@next"}, "", launchWant{pkg: "npm:pkg@next", args: []string{}}},
		{"npx caret range", "npx", []string{"pkg@^1.2.3"}, "", launchWant{pkg: "npm:pkg@^1.2.3", args: []string{}}},
		{"npx tilde range", "npx", []string{"pkg@~1.2.3"}, "", launchWant{pkg: "npm:pkg@~1.2.3", args: []string{}}},
		{"npx x-range", "npx", []string{"pkg@1.x"}, "", launchWant{pkg: "npm:pkg@1.x", args: []string{}}},
		{"npx star", "npx", []string{"pkg@*"}, "", launchWant{pkg: "npm:pkg@*", args: []string{}}},
		{"npx comparator", "npx", []string{"pkg@>=1.0.0"}, "", launchWant{pkg: "npm:pkg@>=1.0.0", args: []string{}}},
		{"npx or-range", "npx", []string{"pkg@1.0.0 || 2.0.0"}, "", launchWant{pkg: "npm:pkg@1.0.0 || 2.0.0", args: []string{}}},
		// Bug: a partial npm version (pkg@1, pkg@1.2) is a range (any 1.x.x),
		// not a pin, but was reported pinned.
		{"npx partial major is a range", "npx", []string{"pkg@1"}, "", launchWant{pkg: "npm:pkg@1", args: []string{}}},
		{"npx partial minor is a range", "npx", []string{"-y", "@scope/pkg@1.2"}, "", launchWant{pkg: "npm:@scope/pkg@1.2", args: []string{}}},
		{"npx scoped no version", "npx", []string{"@scope/pkg"}, "", launchWant{pkg: "npm:@scope/pkg", args: []string{}}},
		{"npx --package= names the package", "npx", []string{"--package=@scope/pkg@1.2.3", "pkg-bin", "--port", "3000"}, "",
			launchWant{pkg: "npm:@scope/pkg@1.2.3!", args: []string{"--port", "3000"}}},
		{"npx -p X names the package", "npx", []string{"-y", "-p", "@scope/pkg@1.2.3", "pkg-bin", "serve"}, "",
			launchWant{pkg: "npm:@scope/pkg@1.2.3!", args: []string{"serve"}}},
		{"npx --package X without a command", "npx", []string{"--package", "pkg@2.0.0"}, "",
			launchWant{pkg: "npm:pkg@2.0.0!", args: []string{}}},
		{"npx value flags are skipped", "npx", []string{"--registry", "https://npm.example.com", "--cache", "/tmp/c", "pkg@1.0.0", "a"}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{"a"}}},
		{"npx -- separator", "npx", []string{"-y", "--", "pkg@1.0.0", "--flag"}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{"--flag"}}},
		{"npx.cmd with windows path", `C:\Program Files\nodejs\npx.cmd`, []string{"-y", "pkg@1.0.0"}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{}}},
		{"npx with only flags", "npx", []string{"-y"}, "", launchWant{command: "npx", args: []string{"-y"}}},
		{"bunx", "bunx", []string{"pkg@1.0.0", "x"}, "", launchWant{pkg: "npm:pkg@1.0.0!", args: []string{"x"}}},
		{"bun x", "bun", []string{"x", "pkg"}, "", launchWant{pkg: "npm:pkg", args: []string{}}},
		{"pnpx", "pnpx", []string{"pkg@1.0.0"}, "", launchWant{pkg: "npm:pkg@1.0.0!", args: []string{}}},
		{"pnpm dlx", "pnpm", []string{"dlx", "@scope/pkg@3.1.0", "--stdio"}, "",
			launchWant{pkg: "npm:@scope/pkg@3.1.0!", args: []string{"--stdio"}}},
		{"yarn dlx", "yarn", []string{"dlx", "-p", "pkg@1.0.0", "bin"}, "", launchWant{pkg: "npm:pkg@1.0.0!", args: []string{}}},
		{"npm exec --", "npm", []string{"exec", "--yes", "--", "@scope/pkg@1.0.0", "arg"}, "",
			launchWant{pkg: "npm:@scope/pkg@1.0.0!", args: []string{"arg"}}},
		{"npm exec --package=", "npm", []string{"exec", "--package=pkg@1.0.0", "--", "bin", "a"}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{"a"}}},
		{"npm x", "npm", []string{"x", "pkg"}, "", launchWant{pkg: "npm:pkg", args: []string{}}},
		{"npm run is not a runner", "npm", []string{"run", "mcp"}, "", launchWant{command: "npm", args: []string{"run", "mcp"}}},
		{"pnpm without dlx", "pnpm", []string{"start"}, "", launchWant{command: "pnpm", args: []string{"start"}}},

		// Python runners.
		{"uvx unpinned", "uvx", []string{"mcp-server-fetch"}, "", launchWant{pkg: "pypi:mcp-server-fetch", args: []string{}}},
		{"uvx ==", "uvx", []string{"mcp-server-fetch==2025.4.7", "--ignore-robots-txt"}, "",
			launchWant{pkg: "pypi:mcp-server-fetch@2025.4.7!", args: []string{"--ignore-robots-txt"}}},
		{"uvx @version", "uvx", []string{"mcp-server-git@0.6.2"}, "", launchWant{pkg: "pypi:mcp-server-git@0.6.2!", args: []string{}}},
		{"uvx @latest", "uvx", []string{"mcp-server-git@latest"}, "", launchWant{pkg: "pypi:mcp-server-git@latest", args: []string{}}},
		{"uvx --from", "uvx", []string{"--from", "mcp-server-git==0.6.2", "mcp-server-git", "--repository", "."}, "",
			launchWant{pkg: "pypi:mcp-server-git@0.6.2!", args: []string{"--repository", "."}}},
		{"uvx --from=", "uvx", []string{"--from=awslabs.core-mcp-server@1.0.5", "awslabs.core-mcp-server"}, "",
			launchWant{pkg: "pypi:awslabs.core-mcp-server@1.0.5!", args: []string{}}},
		{"uvx extras", "uvx", []string{"pkg[cli]"}, "", launchWant{pkg: "pypi:pkg", args: []string{}}},
		{"uvx extras pinned", "uvx", []string{"--from", "pkg[cli,server]==1.4.0", "pkg-cli"}, "",
			launchWant{pkg: "pypi:pkg@1.4.0!", args: []string{}}},
		{"uvx lower-cases names", "uvx", []string{"Mcp-Server-Time==0.6.2"}, "", launchWant{pkg: "pypi:mcp-server-time@0.6.2!", args: []string{}}},
		{"uvx --python value flag", "uvx", []string{"--python", "3.12", "mcp-server-time", "--local-timezone=UTC"}, "",
			launchWant{pkg: "pypi:mcp-server-time", args: []string{"--local-timezone=UTC"}}},
		// Bug: a PEP 440 range (pkg>=1.0) was taken whole as the package name.
		{"uvx >= range", "uvx", []string{"mcp-server-fetch>=2025.1"}, "", launchWant{pkg: "pypi:mcp-server-fetch@>=2025.1", args: []string{}}},
		{"uvx ~= range with extras", "uvx", []string{"pkg[cli]~=1.4"}, "", launchWant{pkg: "pypi:pkg@~=1.4", args: []string{}}},
		{"uv tool run", "uv", []string{"tool", "run", "mcp-server-time==0.6.2"}, "", launchWant{pkg: "pypi:mcp-server-time@0.6.2!", args: []string{}}},
		{"uv tool run --from", "uv", []string{"tool", "run", "--from", "pkg==1.0.0", "pkg-bin", "x"}, "",
			launchWant{pkg: "pypi:pkg@1.0.0!", args: []string{"x"}}},
		{"uv run is not a runner", "uv", []string{"run", "server.py"}, "", launchWant{command: "uv", args: []string{"run", "server.py"}}},
		{"pipx run", "pipx", []string{"run", "mcp-server-fetch==2025.4.7"}, "", launchWant{pkg: "pypi:mcp-server-fetch@2025.4.7!", args: []string{}}},
		{"pipx run --spec", "pipx", []string{"run", "--spec", "pkg==2.0", "pkg-bin"}, "", launchWant{pkg: "pypi:pkg@2.0!", args: []string{}}},

		// Containers.
		{"docker run with value flags", "docker", []string{"run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"}, "",
			launchWant{pkg: "oci:ghcr.io/github/github-mcp-server", args: []string{}}},
		{"docker run tag", "docker", []string{"run", "-i", "--rm", "mcp/fetch:1.2.0", "--flag"}, "",
			launchWant{pkg: "oci:mcp/fetch@1.2.0!", args: []string{"--flag"}}},
		{"docker run latest is unpinned", "docker", []string{"run", "-i", "mcp/fetch:latest"}, "", launchWant{pkg: "oci:mcp/fetch@latest", args: []string{}}},
		{"docker run digest", "docker", []string{"run", "-i", "mcp/fetch@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}, "",
			launchWant{pkg: "oci:mcp/fetch@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef!", args: []string{}}},
		// Bug: image:tag@digest kept the tag in the image name.
		{"docker run tag and digest", "docker", []string{"run", "ghcr.io/x/y:1.0@sha256:abcd"}, "", launchWant{pkg: "oci:ghcr.io/x/y@sha256:abcd!", args: []string{}}},
		{"docker registry port is not a tag", "docker", []string{"run", "localhost:5000/mcp/server"}, "", launchWant{pkg: "oci:localhost:5000/mcp/server", args: []string{}}},
		{"docker registry port and tag", "docker", []string{"run", "localhost:5000/mcp/server:2.1"}, "", launchWant{pkg: "oci:localhost:5000/mcp/server@2.1!", args: []string{}}},
		{"docker.io/library prefix dropped", "docker", []string{"run", "docker.io/library/postgres:16"}, "", launchWant{pkg: "oci:postgres@16!", args: []string{}}},
		{"docker many value flags", "docker", []string{"run", "--rm", "-i", "--init", "--name", "srv", "--network", "host",
			"-v", "/data:/data:ro", "--mount", "type=bind,src=/a,dst=/b", "-p", "8080:80", "-w", "/work", "-u", "1000",
			"--env=A=B", "--env-file", ".env", "--platform", "linux/amd64", "--pull", "always", "mcp/server:0.3.1", "serve"}, "",
			launchWant{pkg: "oci:mcp/server@0.3.1!", args: []string{"serve"}}},
		{"docker container run", "docker", []string{"container", "run", "-i", "img:1"}, "", launchWant{pkg: "oci:img@1!", args: []string{}}},
		{"podman run", "podman", []string{"run", "-i", "--rm", "quay.io/x/y:v2"}, "", launchWant{pkg: "oci:quay.io/x/y@v2!", args: []string{}}},
		{"docker exec is not run", "docker", []string{"exec", "-i", "ctr", "srv"}, "", launchWant{command: "docker", args: []string{"exec", "-i", "ctr", "srv"}}},
		{"docker run without image", "docker", []string{"run", "-i"}, "", launchWant{command: "docker", args: []string{"run", "-i"}}},

		// Shells.
		{"cmd /c", "cmd", []string{"/c", "npx", "-y", "pkg@1.0.0"}, "", launchWant{pkg: "npm:pkg@1.0.0!", args: []string{}}},
		{"cmd.exe /C", `C:\Windows\System32\cmd.exe`, []string{"/C", "npx", "-y", "pkg@1.0.0"}, "", launchWant{pkg: "npm:pkg@1.0.0!", args: []string{}}},
		{"cmd /c one quoted string", "cmd", []string{"/c", "npx -y @scope/pkg@1.0.0 --root C:\\data"}, "",
			launchWant{pkg: "npm:@scope/pkg@1.0.0!", args: []string{"--root", `C:\data`}}},
		{"cmd /k", "cmd", []string{"/k", "uvx", "pkg==1.0"}, "", launchWant{pkg: "pypi:pkg@1.0!", args: []string{}}},
		// Bug: switches before /c (cmd /d /s /c, as the Snyk Windows wrapper
		// writes) stopped the peeling.
		{"cmd /d /s /c", "cmd", []string{"/d", "/s", "/c", "npx -y pkg@1.0.0"}, "", launchWant{pkg: "npm:pkg@1.0.0!", args: []string{}}},
		{"cmd without /c", "cmd", []string{"/q"}, "", launchWant{command: "cmd", args: []string{"/q"}}},
		{"sh -c", "sh", []string{"-c", "npx -y 'pkg@1.0.0' --dir \"/a b\""}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{"--dir", "/a b"}}},
		{"/bin/bash -c", "/bin/bash", []string{"-c", "uvx mcp-server-time==0.6.2"}, "", launchWant{pkg: "pypi:mcp-server-time@0.6.2!", args: []string{}}},
		{"sh -c with $0 args is left alone", "sh", []string{"-c", "exec \"$@\"", "sh", "node", "x.js"}, "",
			launchWant{command: "sh", args: []string{"-c", "exec \"$@\"", "sh", "node", "x.js"}}},
		{"sh script file", "sh", []string{"run.sh"}, "", launchWant{command: "sh", args: []string{"run.sh"}}},

		// mcpgov shim.
		{"mcpgov shim --", "mcpgov", []string{"shim", "--", "npx", "-y", "pkg@1.0.0"}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{}, governed: true}},
		{"mcpgov shim flags --", "/usr/local/bin/mcpgov", []string{"shim", "--server", "fs", "--mode=enforce", "--", "uvx", "pkg==1.0"}, "",
			launchWant{pkg: "pypi:pkg@1.0!", args: []string{}, governed: true}},
		{"mcpgov.exe shim -- cmd /c", `C:\tools\mcpgov.exe`, []string{"shim", "--", "cmd", "/c", "npx -y pkg@1.0.0"}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{}, governed: true}},
		{"mcpgov shim --url", "mcpgov", []string{"shim", "--url", "https://mcp.example.com/mcp"}, "",
			launchWant{url: "https://mcp.example.com/mcp", governed: true}},
		{"mcpgov shim --url=", "mcpgov", []string{"shim", "--client", "cursor", "--url=https://mcp.example.com/mcp"}, "",
			launchWant{url: "https://mcp.example.com/mcp", governed: true}},
		{"mcpgov shim ID", "mcpgov", []string{"shim", "github"}, "", launchWant{catalogID: "github", governed: true}},
		{"mcpgov shim --bundle B ID", "mcpgov", []string{"shim", "--bundle", "/etc/mcpgov", "github"}, "", launchWant{catalogID: "github", governed: true}},
		{"mcpgov other subcommand", "mcpgov", []string{"scan"}, "", launchWant{command: "mcpgov", args: []string{"scan"}}},

		// Bridges to remote servers.
		{"npx mcp-remote", "npx", []string{"-y", "mcp-remote", "https://mcp.example.com/sse"}, "",
			launchWant{url: "https://mcp.example.com/sse", transport: transportSSE, wrappedBy: []string{"mcp-remote"}, args: []string{"https://mcp.example.com/sse"}}},
		{"npx mcp-remote@version with header", "npx", []string{"mcp-remote@0.1.38", "https://mcp.example.com/mcp", "--header", "Authorization: Bearer ${TOKEN}"}, "",
			launchWant{url: "https://mcp.example.com/mcp", transport: transportHTTP, wrappedBy: []string{"mcp-remote"},
				args: []string{"https://mcp.example.com/mcp", "--header", "Authorization: Bearer ${TOKEN}"}}},
		{"mcp-remote direct sse-only", "mcp-remote", []string{"http://example.com/mcp", "--transport", "sse-only"}, "",
			launchWant{url: "http://example.com/mcp", transport: transportSSE, wrappedBy: []string{"mcp-remote"}}},
		{"mcp-remote without URL", "mcp-remote", []string{"--help"}, "", launchWant{wrappedBy: []string{"mcp-remote"}, args: []string{"--help"}}},
		{"supergateway --stdio", "npx", []string{"-y", "supergateway", "--stdio", "npx -y @modelcontextprotocol/server-filesystem@2025.1.14 /tmp", "--port", "8000"}, "",
			launchWant{pkg: "npm:@modelcontextprotocol/server-filesystem@2025.1.14!", args: []string{"/tmp"}, wrappedBy: []string{"supergateway"}}},
		{"supergateway --sse", "supergateway", []string{"--sse", "https://mcp.example.com/sse"}, "",
			launchWant{url: "https://mcp.example.com/sse", transport: transportSSE, wrappedBy: []string{"supergateway"}}},
		{"supergateway --streamableHttp", "npx", []string{"-y", "supergateway@3.4.0", "--streamableHttp", "https://mcp.example.com/mcp"}, "",
			launchWant{url: "https://mcp.example.com/mcp", transport: transportHTTP, wrappedBy: []string{"supergateway"}}},
		{"mcp-proxy URL", "mcp-proxy", []string{"http://localhost:8080/sse"}, "",
			launchWant{url: "http://localhost:8080/sse", transport: transportSSE, wrappedBy: []string{"mcp-proxy"}, args: []string{"http://localhost:8080/sse"}}},
		{"uvx mcp-proxy -- cmd", "uvx", []string{"mcp-proxy", "--port", "8096", "--", "uvx", "mcp-server-fetch==2025.4.7"}, "",
			launchWant{pkg: "pypi:mcp-server-fetch@2025.4.7!", args: []string{}, wrappedBy: []string{"mcp-proxy"}}},
		{"invariant-gateway --exec", "uvx", []string{"invariant-gateway@latest", "mcp", "--project-name", "p", "--push-explorer", "--exec", "npx", "-y", "pkg@1.0.0", "/x"}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{"/x"}, wrappedBy: []string{"invariant-gateway"}}},
		{"Snyk shim", "/bin/sh", []string{"-c", snykScript, "snyk_mcp_stdio_local_proxy_wrapper", "npx", "-y", "pkg@1.0.0", "/data"}, "",
			launchWant{pkg: "npm:pkg@1.0.0!", args: []string{"/data"}, wrappedBy: []string{"snyk-agent-scan"}}},
		{"Snyk shim around cmd /c", "sh", []string{"-c", snykScript, "snyk_mcp_stdio_local_proxy_wrapper", "uvx", "pkg==2.0.0"}, "",
			launchWant{pkg: "pypi:pkg@2.0.0!", args: []string{}, wrappedBy: []string{"snyk-agent-scan"}}},
		{"Snyk shim without a command", "sh", []string{"-c", snykScript, "snyk_mcp_stdio_local_proxy_wrapper"}, "",
			launchWant{command: "sh", wrappedBy: []string{"snyk-agent-scan"}}},
		{"mcpgov shim around mcp-remote", "mcpgov", []string{"shim", "--", "npx", "-y", "mcp-remote", "https://x.example.com/mcp"}, "",
			launchWant{url: "https://x.example.com/mcp", transport: transportHTTP, governed: true, wrappedBy: []string{"mcp-remote"}}},

		// ToolHive.
		{"thv proxy stdio", "thv", []string{"proxy", "stdio", "fetch"}, "",
			launchWant{command: "thv", args: []string{"proxy", "stdio", "fetch"}, wrappedBy: []string{"toolhive"}, workload: "fetch"}},
		{"ToolHive sse URL", "", nil, "http://127.0.0.1:43210/sse#fetch",
			launchWant{url: "http://127.0.0.1:43210/sse#fetch", wrappedBy: []string{"toolhive"}, workload: "fetch"}},
		{"ToolHive mcp URL", "", nil, "http://localhost:8080/mcp/#github",
			launchWant{url: "http://localhost:8080/mcp/#github", wrappedBy: []string{"toolhive"}, workload: "github"}},
		{"remote URL with fragment is not ToolHive", "", nil, "https://mcp.example.com/sse#x", launchWant{url: "https://mcp.example.com/sse#x"}},
		{"loopback URL without fragment", "", nil, "http://127.0.0.1:8080/sse", launchWant{url: "http://127.0.0.1:8080/sse"}},

		// Plain commands.
		{"node script", "node", []string{"/srv/mcp/index.js"}, "", launchWant{command: "node", args: []string{"/srv/mcp/index.js"}}},
		{"empty", "", nil, "", launchWant{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkLaunch(t, Parse(c.command, c.args, c.url), c.want)
		})
	}
}

// TestAnalyzeLaunchTerminates feeds a wrapper that wraps itself: peeling
// must stop at its depth bound.
func TestAnalyzeLaunchTerminates(t *testing.T) {
	args := []string{"/c"}
	for i := 0; i < 50; i++ {
		args = append(args, "cmd", "/c")
	}
	args = append(args, "node", "x.js")
	l := Parse("cmd", args, "")
	if l.Command != "cmd" {
		t.Fatalf("command = %q, want the 9th cmd layer to remain", l.Command)
	}
	l = Parse("sh", []string{"-c", "sh -c 'sh -c \"node x.js\"'"}, "")
	if l.Command != "node" || !reflect.DeepEqual(l.Args, []string{"x.js"}) {
		t.Fatalf("nested sh -c = %q %q", l.Command, l.Args)
	}
}

func TestLaunchPublic(t *testing.T) {
	l := Parse("npx", []string{"-y", "pkg@latest"}, "")
	p := l.Launch()
	if p.Ecosystem != "npm" || p.Package != "pkg" || p.Version != "" {
		t.Errorf("unpinned public launch = %+v, want npm pkg with no version", p)
	}
	p = Parse("uvx", []string{"pkg==1.2.3"}, "").Launch()
	if p.Ecosystem != "pypi" || p.Package != "pkg" || p.Version != "1.2.3" {
		t.Errorf("pinned public launch = %+v", p)
	}
	p = Parse("", nil, "HTTPS://User:pw@Example.com:443/mcp/?token=x").Launch()
	if p.URL != "https://example.com/mcp" {
		t.Errorf("public URL = %q", p.URL)
	}
}

func TestBase(t *testing.T) {
	cases := map[string]string{
		"npx":                             "npx",
		"/usr/local/bin/npx":              "npx",
		`C:\Program Files\nodejs\npx.cmd`: "npx",
		`C:\Windows\System32\CMD.EXE`:     "cmd",
		"uvx.exe":                         "uvx",
		"run.bat":                         "run",
		`C:\tools\script.ps1`:             "script",
		"/opt/homebrew/bin/docker":        "docker",
		"":                                ".",
	}
	for in, want := range cases {
		if got := Base(in); got != want {
			t.Errorf("Base(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsExactVersion(t *testing.T) {
	exact := []string{"1.2.3", "v0.4.0", "2025.1.14", "1.2.3-beta.1", "1.0.0+build.5", "0.0.1", "1", "1.2"}
	loose := []string{"", "latest", "next", "^1.2.3", "~1.2", ">=1.0.0", "<2", "1.x", "1.2.X", "*", "1.0.0 || 2.0.0", "=1.0.0", "beta"}
	for _, v := range exact {
		if !isExactVersion(v) {
			t.Errorf("isExactVersion(%q) = false, want true", v)
		}
	}
	for _, v := range loose {
		if isExactVersion(v) {
			t.Errorf("isExactVersion(%q) = true, want false", v)
		}
	}
}

func TestCanonicalURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp"},
		{"HTTPS://MCP.Example.COM/MCP", "https://mcp.example.com/MCP"},
		{"https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp"},
		{"http://mcp.example.com:80/mcp", "http://mcp.example.com/mcp"},
		{"http://mcp.example.com:443/mcp", "http://mcp.example.com:443/mcp"},
		{"https://mcp.example.com:8443/mcp", "https://mcp.example.com:8443/mcp"},
		{"https://mcp.example.com/mcp/", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com/", "https://mcp.example.com"},
		{"https://mcp.example.com", "https://mcp.example.com"},
		{"https://user:secret@mcp.example.com/mcp", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com/mcp?api_key=abc123def456&x=1", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com/sse#frag", "https://mcp.example.com/sse"},
		{"http://[::1]:8080/mcp", "http://[::1]:8080/mcp"},
		{"https://[2001:DB8::1]/mcp", "https://[2001:db8::1]/mcp"},
		{"https://[2001:db8::1]:443/mcp/", "https://[2001:db8::1]/mcp"},
		{"http://127.0.0.1:3000/sse", "http://127.0.0.1:3000/sse"},
		{"  https://mcp.example.com/mcp  ", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com/a%20b", "https://mcp.example.com/a%20b"},
		{"not a url", "not a url"},
		{"unix:///run/mcp.sock", "unix:///run/mcp.sock"},
	}
	for _, c := range cases {
		if got := CanonicalURL(c.in); got != c.want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestToolhiveWorkload(t *testing.T) {
	cases := map[string]string{
		"http://127.0.0.1:43210/sse#fetch":   "fetch",
		"http://localhost:1234/mcp#github":   "github",
		"http://[::1]:1234/sse#w":            "w",
		"http://app.localhost:1234/sse#w":    "w",
		"https://mcp.example.com/sse#fetch":  "",
		"http://127.0.0.1:43210/other#fetch": "",
		"http://127.0.0.1:43210/sse":         "",
		"%%%":                                "",
	}
	for in, want := range cases {
		if got := toolhiveWorkload(in); got != want {
			t.Errorf("toolhiveWorkload(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitCommandLine(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"npx -y pkg", []string{"npx", "-y", "pkg"}},
		{"  npx\t-y\n pkg  ", []string{"npx", "-y", "pkg"}},
		{`npx -y "@scope/pkg" 'a b'`, []string{"npx", "-y", "@scope/pkg", "a b"}},
		{`node "C:\Program Files\mcp\server.js" --root C:\Users\ann\data`, []string{"node", `C:\Program Files\mcp\server.js`, "--root", `C:\Users\ann\data`}},
		{`"C:\Program Files\nodejs\npx.cmd" -y pkg`, []string{`C:\Program Files\nodejs\npx.cmd`, "-y", "pkg"}},
		{`C:\tools\server.exe --config C:\tools\cfg.json`, []string{`C:\tools\server.exe`, "--config", `C:\tools\cfg.json`}},
		{`\\server\share\bin\mcp.exe`, []string{`\server\share\bin\mcp.exe`}},
		{`a\ b c`, []string{"a b", "c"}},
		{`say "it's" 'a "b"'`, []string{"say", "it's", `a "b"`}},
		{`x "a \"quoted\" word"`, []string{"x", `a "quoted" word`}},
		{`x 'no \escape'`, []string{"x", `no \escape`}},
		{`x "" ''`, []string{"x", "", ""}},
		{`x "unterminated`, []string{"x", "unterminated"}},
		{`x trailing\`, []string{"x", `trailing\`}},
		{`--header "Authorization: Bearer ${TOKEN}"`, []string{"--header", "Authorization: Bearer ${TOKEN}"}},
		{"ünïcode 'ça va'", []string{"ünïcode", "ça va"}},
	}
	for _, c := range cases {
		got := SplitCommandLine(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitCommandLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSplitCommandLineNeverExpands: variables, globs and substitutions are
// data, never interpreted.
func TestSplitCommandLineNeverExpands(t *testing.T) {
	in := `echo $HOME ${X} %APPDATA% $(id) ~ *.json`
	got := SplitCommandLine(in)
	if strings.Join(got, " ") != in {
		t.Fatalf("splitCommandLine changed its input: %q", got)
	}
}

// Bug: `mcpgov shim --header "Authorization: Bearer x" --url U` read the
// header as a catalog id and lost the URL; a versioned binary name
// (mcpgov-1.2) was not recognised as the shim.
func TestShimFlagsAndVersionedBinary(t *testing.T) {
	l := Parse("mcpgov", []string{"shim", "--header", "Authorization: Bearer ${TOKEN}", "--url", "https://mcp.example.com/mcp"}, "")
	if !l.Governed || l.CatalogID != "" || l.URL != "https://mcp.example.com/mcp" {
		t.Errorf("shim with --header: %+v", l)
	}
	l = Parse("/opt/mcpgov-1.2/mcpgov-1.2", []string{"shim", "--", "npx", "-y", "pkg@1.0.0"}, "")
	if !l.Governed || l.Package == nil || l.Package.Name != "pkg" {
		t.Errorf("versioned binary: %+v", l)
	}
}
