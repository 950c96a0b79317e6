package scan

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mcpgov/mcpgov/scan/launch"
)

// MCP servers also run where no developer sits: CI jobs that hand an agent
// an MCP config (claude-code-action's mcp_config, `claude --mcp-config`)
// and containers built to run an MCP server. These are read from a
// repository like its other project files.

// Pseudo-clients for pipelines and containers.
const (
	ClientGitHubActions = "github-actions"
	ClientGitLabCI      = "gitlab-ci"
	ClientContainer     = "container"
	ClientCircleCI      = "circleci"
	ClientAzurePipeline = "azure-pipelines"
	ClientBitbucket     = "bitbucket-pipelines"
)

// pipelineProjectFiles are the CI and container files of a repository.
var pipelineProjectFiles = []projectFile{
	{ClientGitHubActions, []string{".github", "workflows", "*.yml"}, shapeWorkflow, true},
	{ClientGitHubActions, []string{".github", "workflows", "*.yaml"}, shapeWorkflow, true},
	{ClientGitLabCI, []string{".gitlab-ci.yml"}, shapeGitLabCI, false},
	{ClientCircleCI, []string{".circleci", "config.yml"}, shapeCIYAML, false},
	{ClientAzurePipeline, []string{"azure-pipelines.yml"}, shapeCIYAML, false},
	{ClientBitbucket, []string{"bitbucket-pipelines.yml"}, shapeCIYAML, false},
	// Dockerfile and its variants (Dockerfile.mcp, mcp.Dockerfile), in one
	// directory read; expand keeps the names isDockerfile accepts.
	{ClientContainer, []string{"*ockerfile*"}, shapeDockerfile, true},
	{ClientContainer, []string{"compose.yaml"}, shapeCompose, false},
	{ClientContainer, []string{"compose.yml"}, shapeCompose, false},
	{ClientContainer, []string{"docker-compose.yml"}, shapeCompose, false},
	{ClientContainer, []string{"docker-compose.yaml"}, shapeCompose, false},
	{ClientContainer, []string{".devcontainer", "devcontainer.json"}, shapeDevcontainerFeatures, false},
	// The dev container's own image and compose file.
	{ClientContainer, []string{".devcontainer", "Dockerfile"}, shapeDockerfile, false},
	{ClientContainer, []string{".devcontainer", "docker-compose.yml"}, shapeCompose, false},
	{ClientContainer, []string{".devcontainer", "compose.yaml"}, shapeCompose, false},
}

// mcpToken matches "mcp" as a word of a package or image name
// (mcp/github, github-mcp-server, mcp-server-fetch, @acme/mcp), and the
// reference servers' scope.
var mcpToken = regexp.MustCompile(`(^|[/@._:-])mcp([/._:-]|$)|^@modelcontextprotocol/`)

// isMCPName reports whether a package or image name names an MCP server.
func isMCPName(name string) bool { return mcpToken.MatchString(strings.ToLower(name)) }

// synthEntry builds an entry for a server found in a file that is not an
// MCP config (a Dockerfile line, a compose service).
func synthEntry(src source, name string, line int, command string, args []string) rawEntry {
	n := &node{kind: kObject, line: line}
	n.members = append(n.members, member{key: "command", line: line, val: scalar(kString, line, command)})
	arr := &node{kind: kArray, line: line}
	for _, a := range args {
		arr.items = append(arr.items, scalar(kString, line, a))
	}
	n.members = append(n.members, member{key: "args", line: line, val: arr})
	return rawEntry{name: name, line: line, node: n, scope: src.scope, project: src.project, dialect: dialectGeneric}
}

// shiftLines moves the lines of a tree parsed from an embedded document to
// where that document sits in its file.
func shiftLines(n *node, off int) {
	if n == nil {
		return
	}
	n.line += off
	for i := range n.members {
		n.members[i].line += off
		shiftLines(n.members[i].val, off)
	}
	for _, it := range n.items {
		shiftLines(it, off)
	}
}

// mcpConfigValue reads an MCP config handed to an agent in CI: inline JSON
// becomes entries (at the lines it sits on), a path becomes a file to read.
func (x *extraction) mcpConfigValue(src source, value string, line int) {
	x.mcpConfigValueAs(src, value, line, dialectGeneric)
}

// mcpConfigValueAs is mcpConfigValue for inline JSON spelled in dialect d
// (Gemini CLI settings: httpUrl).
func (x *extraction) mcpConfigValueAs(src source, value string, line int, d dialect) {
	v := strings.TrimSpace(value)
	if v == "" {
		return
	}
	if strings.HasPrefix(v, "{") {
		root, err := parseJSON([]byte(v))
		if err != nil || root == nil {
			return
		}
		shiftLines(root, line)
		servers := root.get("mcpServers")
		if servers == nil && !looksLikeServer(root) {
			servers = root.get("servers")
		}
		x.entries = append(x.entries, mapEntries(servers, src.scope, src.project, d)...)
		return
	}
	if strings.ContainsAny(v, "\n$") {
		return // an expression or several values: nothing static to read
	}
	p := filepath.FromSlash(v)
	if !filepath.IsAbs(p) {
		p = filepath.Join(src.project, p)
	}
	x.more = append(x.more, source{client: src.client, scope: src.scope, project: src.project, path: p, shape: shapeMCPServers})
}

// mcpConfigArgs finds `--mcp-config VALUE...` in a command line or script.
func (x *extraction) mcpConfigArgs(src source, script string, line int) {
	if !strings.Contains(script, "--mcp-config") {
		return
	}
	for i, l := range strings.Split(strings.ReplaceAll(script, "\\\n", " \n"), "\n") {
		if !strings.Contains(l, "--mcp-config") {
			continue
		}
		argv := launch.SplitCommandLine(strings.TrimSpace(l))
		for j := 0; j < len(argv); j++ {
			a := argv[j]
			if v, ok := strings.CutPrefix(a, "--mcp-config="); ok {
				x.mcpConfigValue(src, v, line+i)
				continue
			}
			if a != "--mcp-config" {
				continue
			}
			for j+1 < len(argv) && !strings.HasPrefix(argv[j+1], "-") {
				j++
				x.mcpConfigValue(src, argv[j], line+i)
			}
		}
	}
}

// extractPipeline handles the CI and container shapes.
func extractPipeline(src source, root *node, x *extraction) {
	switch src.shape {
	case shapeWorkflow:
		jobs := root.get("jobs")
		if jobs == nil || jobs.kind != kObject {
			return
		}
		for _, job := range jobs.members {
			// Service and job containers that run an MCP server image.
			x.imageEntry(src, job.key, job.val.get("container"))
			for _, svc := range job.val.get("services").membersOf() {
				x.namedImageEntry(src, job.key+"/"+svc.key, svc.val)
			}
			for _, step := range job.val.get("steps").itemsOf() {
				with := step.get("with")
				uses := step.get("uses").text()
				if strings.Contains(uses, "claude-code-action") || strings.Contains(uses, "claude-code-base-action") {
					if v := with.get("mcp_config"); v != nil {
						x.mcpConfigValue(src, v.text(), v.line)
					}
				}
				// run-gemini-cli writes its settings input, JSON, to
				// .gemini/settings.json (google-github-actions/run-gemini-cli
				// action.yml).
				if strings.Contains(uses, "run-gemini-cli") {
					if v := with.get("settings"); v != nil {
						x.mcpConfigValueAs(src, v.text(), v.line, dialectGemini)
					}
				}
				if img, ok := strings.CutPrefix(uses, "docker://"); ok && isMCPName(img) {
					x.entries = append(x.entries, synthEntry(src, job.key+"/"+imageName(img), step.get("uses").line, "docker", []string{"run", "-i", "--rm", img}))
				}
				for _, key := range []string{"claude_args", "args"} {
					if v := with.get(key); v != nil {
						x.mcpConfigArgs(src, v.text(), v.line)
					}
				}
				if v := step.get("run"); v != nil {
					x.mcpConfigArgs(src, v.text(), v.line)
					x.scriptRunners(src, v.text(), v.line)
				}
			}
		}
	case shapeGitLabCI:
		x.imageEntry(src, "image", root.get("image"))
		for _, job := range root.members {
			if job.val.kind != kObject {
				continue
			}
			x.imageEntry(src, job.key, job.val.get("image"))
			for _, key := range []string{"before_script", "script", "after_script"} {
				s := job.val.get(key)
				if s != nil && s.kind == kString {
					x.mcpConfigArgs(src, s.text(), s.line)
					x.scriptRunners(src, s.text(), s.line)
				}
				for _, it := range s.itemsOf() {
					x.mcpConfigArgs(src, it.text(), it.line)
					x.scriptRunners(src, it.text(), it.line)
				}
			}
			for _, svc := range job.val.get("services").itemsOf() {
				img := svc.text()
				if svc.kind == kObject {
					img = svc.get("name").text()
				}
				if isMCPName(img) {
					x.entries = append(x.entries, synthEntry(src, job.key+"/"+imageName(img), svc.line, "docker", []string{"run", "-i", "--rm", img}))
				}
			}
		}
	case shapeCompose:
		services := root.get("services")
		if services == nil || services.kind != kObject {
			return
		}
		for _, svc := range services.members {
			img := svc.val.get("image")
			if isMCPName(img.text()) {
				x.entries = append(x.entries, synthEntry(src, svc.key, img.line, "docker", []string{"run", "-i", "--rm", img.text()}))
				continue
			}
			cmd := svc.val.get("command")
			argv := cmd.strings()
			if cmd != nil && cmd.kind == kString {
				argv = launch.SplitCommandLine(cmd.text())
			}
			if e, ok := runnerEntry(src, svc.key, cmd.lineOr(svc.line), argv); ok {
				x.entries = append(x.entries, e)
			}
		}
	case shapeCIYAML:
		x.walkCI(src, root, 0)
	case shapeDevcontainerFeatures:
		for _, f := range root.get("features").membersOf() {
			if isMCPName(f.key) {
				x.entries = append(x.entries, synthEntry(src, imageName(f.key), f.line, "docker", []string{"run", "-i", "--rm", f.key}))
			}
		}
	case shapeDockerfile:
		for _, l := range root.get("lines").itemsOf() {
			fields := strings.Fields(l.text())
			if len(fields) < 2 {
				continue
			}
			switch strings.ToUpper(fields[0]) {
			case "FROM":
				img := fields[1]
				if strings.HasPrefix(img, "--") && len(fields) > 2 {
					img = fields[2]
				}
				if isMCPName(img) {
					x.entries = append(x.entries, synthEntry(src, imageName(img), l.line, "docker", []string{"run", "-i", "--rm", img}))
				}
			case "RUN", "CMD", "ENTRYPOINT":
				rest := strings.TrimSpace(l.text()[len(fields[0]):])
				var argv []string
				if strings.HasPrefix(rest, "[") {
					if n, err := parseJSON([]byte(rest)); err == nil {
						argv = n.strings()
					}
				} else {
					argv = launch.SplitCommandLine(rest)
				}
				if e, ok := runnerEntry(src, "", l.line, argv); ok {
					x.entries = append(x.entries, e)
				}
			}
		}
	}
}

// ciScriptKeys are the keys whose string (or list of strings) is a shell
// script in CircleCI (run, command), Azure Pipelines (script, bash, pwsh,
// powershell) and Bitbucket Pipelines (script, after-script).
var ciScriptKeys = map[string]bool{
	"run": true, "command": true, "script": true, "bash": true, "pwsh": true,
	"powershell": true, "after-script": true,
}

// ciWalkDepth bounds the walk of a CI file, which nests steps in jobs in
// stages in pipelines.
const ciWalkDepth = 16

// walkCI finds, anywhere in a CI file, the images that are MCP servers and
// the scripts that hand an agent an MCP config or start an MCP package.
func (x *extraction) walkCI(src source, n *node, depth int) {
	if n == nil || depth > ciWalkDepth {
		return
	}
	for _, it := range n.itemsOf() {
		x.walkCI(src, it, depth+1)
	}
	for _, m := range n.membersOf() {
		switch {
		case m.key == "image":
			x.namedImageEntry(src, imageName(imageOf(m.val)), m.val)
		case ciScriptKeys[m.key] && m.val.kind == kString:
			x.mcpConfigArgs(src, m.val.text(), m.val.line)
			x.scriptRunners(src, m.val.text(), m.val.line)
		case ciScriptKeys[m.key] && m.val.kind == kArray:
			for _, it := range m.val.items {
				if it.kind == kString {
					x.mcpConfigArgs(src, it.text(), it.line)
					x.scriptRunners(src, it.text(), it.line)
				}
			}
		}
		x.walkCI(src, m.val, depth+1)
	}
}

// imageOf is a container's image: a reference, or an object's image or
// name.
func imageOf(n *node) string {
	if n != nil && n.kind == kObject {
		if img := n.get("image").text(); img != "" {
			return img
		}
		return n.get("name").text()
	}
	return n.text()
}

// imageEntry reports a container that runs an MCP server image, named
// prefix/<image name>.
func (x *extraction) imageEntry(src source, prefix string, n *node) {
	x.namedImageEntry(src, prefix+"/"+imageName(imageOf(n)), n)
}

// namedImageEntry reports a container that runs an MCP server image under
// name (a service's own name).
func (x *extraction) namedImageEntry(src source, name string, n *node) {
	if img := imageOf(n); img != "" && isMCPName(img) {
		x.entries = append(x.entries, synthEntry(src, name, n.line, "docker", []string{"run", "-i", "--rm", img}))
	}
}

// scriptRunners finds the lines of a CI script that start a known MCP
// server package with a package runner (npx, uvx, …).
func (x *extraction) scriptRunners(src source, script string, line int) {
	for i, l := range strings.Split(strings.ReplaceAll(script, "\\\n", " \n"), "\n") {
		if e, ok := runnerEntry(src, "", line+i, launch.SplitCommandLine(strings.TrimSpace(l))); ok {
			x.entries = append(x.entries, e)
		}
	}
}

// runnerEntry finds a package runner (npx, uvx, …) starting a known MCP
// server package in argv.
func runnerEntry(src source, name string, line int, argv []string) (rawEntry, bool) {
	for i, a := range argv {
		switch launch.Base(a) {
		case "npx", "bunx", "pnpx", "uvx", "pipx":
		default:
			continue
		}
		l := launch.Parse(a, argv[i+1:], "")
		if l.Package == nil || !isMCPName(l.Package.Name) {
			return rawEntry{}, false
		}
		if name == "" {
			name = l.Package.Name
		}
		end := len(argv)
		for j := i + 1; j < len(argv); j++ {
			if argv[j] == "&&" || argv[j] == ";" || argv[j] == "||" {
				end = j
				break
			}
		}
		return synthEntry(src, name, line, a, argv[i+1:end]), true
	}
	return rawEntry{}, false
}

// imageName is an image or feature reference without registry and tag.
func imageName(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	if i := strings.IndexAny(ref, ":@"); i >= 0 {
		ref = ref[:i]
	}
	return ref
}

// parseDockerfile turns a Dockerfile into {"lines": [...]} with continuation
// lines joined, each item on the line its instruction starts.
func parseDockerfile(text []byte) *node {
	root := &node{kind: kObject, line: 1}
	lines := &node{kind: kArray, line: 1}
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(string(text), "\n") {
		t := strings.TrimSpace(l)
		if cur.Len() == 0 {
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			start = i + 1
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\") + " ")
			continue
		}
		cur.WriteString(t)
		lines.items = append(lines.items, scalar(kString, start, cur.String()))
		cur.Reset()
	}
	root.members = append(root.members, member{key: "lines", line: 1, val: lines})
	return root
}

// isDockerfile reports whether a file name is a Dockerfile.
func isDockerfile(path string) bool {
	b := filepath.Base(path)
	return b == "Dockerfile" || strings.HasPrefix(b, "Dockerfile.") || strings.HasSuffix(strings.ToLower(b), ".dockerfile")
}

func (n *node) itemsOf() []*node {
	if n == nil || n.kind != kArray {
		return nil
	}
	return n.items
}

func (n *node) membersOf() []member {
	if n == nil || n.kind != kObject {
		return nil
	}
	return n.members
}

func (n *node) lineOr(def int) int {
	if n == nil {
		return def
	}
	return n.line
}
