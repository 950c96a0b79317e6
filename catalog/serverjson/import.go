package serverjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/serverjson/schema"
	"github.com/mcpgov/mcpgov/scan/launch"
)

// GovernanceMetaKey is the server.json _meta key holding mcpgov's
// governance data.
const GovernanceMetaKey = "io.mcpgov/governance"

// CatalogNamespace is the reverse-DNS namespace of server.json names made
// for catalog entries that were never imported: "io.mcpgov.catalog/<id>".
const CatalogNamespace = "io.mcpgov.catalog"

// ImportedServer is one server.json document turned into a catalog entry.
type ImportedServer struct {
	Server   *catalog.Server
	Registry *catalog.RegistryRecord
	Name     string // server.json name, e.g. "io.github.github/github-mcp-server"
	Version  string // server.json version
	Source   string // where in the input: "server.json", "[2]", "servers[3].server"
	// RegistryStatus is the official registry's lifecycle status from a
	// listing's _meta (active, deprecated, deleted), when given.
	RegistryStatus string
	// Warnings say what the import could not express in the catalog
	// (packages it cannot match, arguments the user must supply, …).
	Warnings []string
}

// server.json as mcpgov reads it: only what it derives catalog fields from.
// The document itself is kept as text; these types never re-encode it.
type sjServer struct {
	Schema      string                     `json:"$schema,omitempty"`
	Name        string                     `json:"name"`
	Title       string                     `json:"title,omitempty"`
	Description string                     `json:"description"`
	Version     string                     `json:"version"`
	Packages    []sjPackage                `json:"packages,omitempty"`
	Remotes     []sjTransport              `json:"remotes,omitempty"`
	Meta        map[string]json.RawMessage `json:"_meta,omitempty"`
}

type sjPackage struct {
	RegistryType         string       `json:"registryType"`
	Identifier           string       `json:"identifier"`
	Version              string       `json:"version,omitempty"`
	RuntimeHint          string       `json:"runtimeHint,omitempty"`
	Transport            sjTransport  `json:"transport"`
	RuntimeArguments     []sjArgument `json:"runtimeArguments,omitempty"`
	PackageArguments     []sjArgument `json:"packageArguments,omitempty"`
	EnvironmentVariables []sjKeyValue `json:"environmentVariables,omitempty"`
}

type sjTransport struct {
	Type    string       `json:"type"`
	URL     string       `json:"url,omitempty"`
	Headers []sjKeyValue `json:"headers,omitempty"`
}

type sjArgument struct {
	Type      string `json:"type"`
	Name      string `json:"name,omitempty"`
	Value     string `json:"value,omitempty"`
	ValueHint string `json:"valueHint,omitempty"`
}

type sjKeyValue struct {
	Name string `json:"name"`
}

// Import reads one server.json document, a JSON array of them, or
// a registry listing ({"servers": [{"server": {…}, "_meta": {…}}, …]}, also
// wrapped as {"data": {"servers": …}}), and turns each document into a
// pending catalog entry. Ids come from the name's last segment, made unique
// within the input; a governance block in _meta restores status, owner and
// the rest. Every invalid document is reported, each as a *ServerJSONError.
func Import(data []byte) ([]ImportedServer, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("server.json input is not valid UTF-8")
	}
	docs, err := sjSplitInput(data)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no server.json documents in the input")
	}
	var (
		out  []ImportedServer
		errs []error
		used = map[string]bool{}
	)
	for _, d := range docs {
		imp, err := sjImportDoc(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		base := imp.Server.ID
		imp.Server.ID = sjUniqueID(base, imp.Version, used)
		if imp.Server.ID != base {
			imp.Warnings = append(imp.Warnings, fmt.Sprintf("id %q is taken by another document in this input; using %q", base, imp.Server.ID))
		}
		used[imp.Server.ID] = true
		out = append(out, imp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// sjDoc is one document found in the input.
type sjDoc struct {
	source         string
	raw            json.RawMessage
	registryStatus string
}

// sjSplitInput finds the documents in a single document, an array or a
// registry listing.
func sjSplitInput(data []byte) ([]sjDoc, error) {
	if _, err := schema.Decode(data); err != nil {
		return nil, fmt.Errorf("server.json input: %w", err)
	}
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, fmt.Errorf("server.json input: %w", err)
		}
		var docs []sjDoc
		for i, it := range items {
			docs = append(docs, sjListingItem(fmt.Sprintf("[%d]", i), it))
		}
		return docs, nil
	case len(trimmed) > 0 && trimmed[0] == '{':
		var top map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &top); err != nil {
			return nil, fmt.Errorf("server.json input: %w", err)
		}
		prefix := ""
		if d, ok := top["data"]; ok && top["name"] == nil {
			var inner map[string]json.RawMessage
			if err := json.Unmarshal(d, &inner); err != nil || inner == nil || inner["servers"] == nil {
				return nil, fmt.Errorf(`server.json input: "data" must be an object holding "servers"`)
			}
			top, prefix = inner, "data."
		}
		if s, ok := top["servers"]; ok && top["name"] == nil {
			var items []json.RawMessage
			if err := json.Unmarshal(s, &items); err != nil {
				return nil, fmt.Errorf(`server.json input: %sservers must be an array of registry entries`, prefix)
			}
			var docs []sjDoc
			for i, it := range items {
				docs = append(docs, sjListingItem(fmt.Sprintf("%sservers[%d]", prefix, i), it))
			}
			return docs, nil
		}
		return []sjDoc{{source: "server.json", raw: trimmed}}, nil
	}
	return nil, fmt.Errorf("server.json input must be a JSON object or array")
}

// sjListingItem unwraps a registry entry {"server": {…}, "_meta": {…}}; a
// bare server.json passes through.
func sjListingItem(source string, raw json.RawMessage) sjDoc {
	var entry struct {
		Server json.RawMessage `json:"server"`
		Meta   struct {
			Official struct {
				Status string `json:"status"`
			} `json:"io.modelcontextprotocol.registry/official"`
		} `json:"_meta"`
		Name json.RawMessage `json:"name"`
	}
	if err := json.Unmarshal(raw, &entry); err != nil || entry.Server == nil || entry.Name != nil {
		return sjDoc{source: source, raw: raw}
	}
	return sjDoc{source: source + ".server", raw: entry.Server, registryStatus: entry.Meta.Official.Status}
}

// sjImportDoc validates one document and derives its catalog entry.
func sjImportDoc(d sjDoc) (ImportedServer, error) {
	fail := func(name string, probs ...schema.Problem) error {
		return &schema.Error{Doc: d.source, Name: name, Problems: probs}
	}
	v, err := schema.Decode(d.raw)
	if err != nil {
		return ImportedServer{}, fail("", schema.Problem{Message: err.Error()})
	}
	name := ""
	if m, ok := v.(map[string]any); ok {
		name, _ = m["name"].(string)
	}
	if probs := schema.Check(v); len(probs) > 0 {
		return ImportedServer{}, fail(name, probs...)
	}
	// Export edits the top level and _meta by key: both must be unambiguous.
	members, err := sjParseObject(d.raw)
	if err != nil {
		return ImportedServer{}, fail(name, schema.Problem{Message: err.Error()})
	}
	for _, m := range members {
		if m.Key == "_meta" {
			if _, err := sjParseObject(m.Value); err != nil {
				return ImportedServer{}, fail(name, schema.Problem{Path: "_meta", Message: err.Error()})
			}
		}
	}
	var doc sjServer
	if err := json.Unmarshal(d.raw, &doc); err != nil {
		return ImportedServer{}, fail(name, schema.Problem{Message: err.Error()})
	}
	gov, prob := sjReadGovernance(doc.Meta)
	if prob != nil {
		return ImportedServer{}, fail(name, *prob)
	}
	s, warnings := sjDerive(&doc)
	if err := gov.apply(s); err != nil {
		return ImportedServer{}, fail(name, schema.Problem{Path: "_meta." + GovernanceMetaKey, Message: err.Error()})
	}
	text, err := sjIndent(d.raw)
	if err != nil {
		return ImportedServer{}, fail(name, schema.Problem{Message: err.Error()})
	}
	imp := ImportedServer{
		Server:         s,
		Registry:       &catalog.RegistryRecord{ServerJSON: text},
		Name:           doc.Name,
		Version:        doc.Version,
		Source:         d.source,
		RegistryStatus: d.registryStatus,
		Warnings:       warnings,
	}
	if d.registryStatus != "" && d.registryStatus != "active" {
		imp.Warnings = append(imp.Warnings, fmt.Sprintf("the registry marks this version %s", d.registryStatus))
	}
	// The entry must be one catalog.toml accepts: render it and load it.
	if err := sjCheckLoads(imp); err != nil {
		return ImportedServer{}, fail(name, schema.Problem{Path: "_meta." + GovernanceMetaKey, Message: err.Error()})
	}
	return imp, nil
}

// sjIndent is the document with whitespace normalised (two-space indent,
// trailing newline); keys, order, strings and numbers stay as written.
func sjIndent(raw []byte) (string, error) {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
		return "", err
	}
	b.WriteByte('\n')
	return b.String(), nil
}

var sjIDInvalid = lazyRegexp(`[^a-z0-9._-]+`)

// sjIDFromName makes a catalog id from a server.json name's last segment.
func sjIDFromName(name string) string {
	seg := strings.ToLower(name[strings.LastIndex(name, "/")+1:])
	return sjSanitiseID(seg)
}

func sjSanitiseID(s string) string {
	s = sjIDInvalid().ReplaceAllString(strings.ToLower(s), "-")
	s = strings.TrimLeft(s, "._-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "._-")
	}
	if s == "" {
		return "server"
	}
	return s
}

// sjUniqueID is base, or base-VERSION, or base-N, whichever is free first.
func sjUniqueID(base, version string, used map[string]bool) string {
	if !used[base] {
		return base
	}
	if version != "" {
		if id := sjSanitiseID(base + "-" + version); !used[id] {
			return id
		}
	}
	for n := 2; ; n++ {
		suffix := fmt.Sprintf("-%d", n)
		b := base
		if len(b)+len(suffix) > 63 {
			b = b[:63-len(suffix)]
		}
		if id := b + suffix; !used[id] {
			return id
		}
	}
}

// sjDerive computes the catalog entry a document implies on its own: id,
// title, description, launch (first stdio package, else first remote),
// env, match packages and URLs; status pending.
func sjDerive(doc *sjServer) (*catalog.Server, []string) {
	s := &catalog.Server{
		ID:          sjIDFromName(doc.Name),
		Title:       doc.Title,
		Description: doc.Description,
		Status:      catalog.StatusPending,
	}
	var warnings []string
	launched := false
	for i, p := range doc.Packages {
		if p.Transport.Type != "stdio" || launched {
			continue
		}
		l, w, ok := sjPackageLaunch(p)
		warnings = append(warnings, sjPrefix(fmt.Sprintf("packages[%d]", i), w)...)
		if ok {
			s.Launch, launched = l, true
		}
	}
	if !launched && len(doc.Remotes) > 0 {
		r := doc.Remotes[0]
		s.Launch = catalog.Launch{Transport: sjCatalogTransport(r.Type), URL: r.URL}
		for _, h := range r.Headers {
			s.Launch.Headers = append(s.Launch.Headers, h.Name)
		}
		if strings.Contains(r.URL, "{") {
			warnings = append(warnings, fmt.Sprintf("remotes[0]: url %s is a template; users fill in its variables", r.URL))
		}
		launched = true
	}
	if !launched {
		warnings = append(warnings, "no stdio package or remote to launch; launch left empty")
	}
	for i, p := range doc.Packages {
		pat, ok := sjMatchPackage(p)
		if !ok {
			if p.RegistryType != "nuget" || !launched || s.Launch.Command != "dnx" {
				warnings = append(warnings, fmt.Sprintf("packages[%d]: %s package %s is not matched in scans (the catalog matches npm, pypi and oci packages)", i, p.RegistryType, p.Identifier))
			}
			continue
		}
		if _, _, _, err := catalog.ParsePackagePattern(pat); err != nil {
			warnings = append(warnings, fmt.Sprintf("packages[%d]: %s cannot be a match rule: %v", i, pat, err))
			continue
		}
		s.Match.Packages = sjAppendNew(s.Match.Packages, pat)
	}
	for i, r := range doc.Remotes {
		pat := sjURLPattern(r.URL)
		if err := catalog.CheckURLPattern(pat); err != nil {
			warnings = append(warnings, fmt.Sprintf("remotes[%d]: url %s cannot be a match rule: %v", i, r.URL, err))
			continue
		}
		s.Match.URLs = sjAppendNew(s.Match.URLs, pat)
	}
	return s, warnings
}

var sjURLTemplateVar = lazyRegexp(`\{[^{}]*\}`)

// sjURLPattern is the match rule for a remote URL: canonical the way scans
// report URLs (lower-case host, no default port, no trailing slash), with
// each {variable} a * glob.
func sjURLPattern(raw string) string {
	const hole = "mcpgovurlvariable"
	canon := launch.Analyze("", nil, sjURLTemplateVar().ReplaceAllString(raw, hole)).URL
	return strings.ReplaceAll(canon, hole, "*")
}

// sjCatalogTransport maps a remote's type to the catalog's transport; a URL
// launch is HTTP unless it says otherwise, so streamable-http is left empty.
func sjCatalogTransport(t string) string {
	if t == "sse" {
		return "sse"
	}
	return ""
}

func sjPrefix(p string, list []string) []string {
	for i := range list {
		list[i] = p + ": " + list[i]
	}
	return list
}

func sjAppendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// sjOCIImage is an OCI package's image reference: the identifier when it
// carries a tag or digest, else identifier:version.
func sjOCIImage(p sjPackage) string {
	id := p.Identifier
	if strings.Contains(id, "@") || strings.LastIndex(id, ":") > strings.LastIndex(id, "/") || p.Version == "" {
		return id
	}
	return id + ":" + p.Version
}

// sjMatchPackage is a package's match rule, for the ecosystems the catalog
// matches.
func sjMatchPackage(p sjPackage) (string, bool) {
	switch p.RegistryType {
	case "npm":
		if p.Version == "" {
			return "npm:" + p.Identifier, true
		}
		return "npm:" + p.Identifier + "@" + p.Version, true
	case "pypi":
		if p.Version == "" {
			return "pypi:" + p.Identifier, true
		}
		return "pypi:" + p.Identifier + "==" + p.Version, true
	case "oci":
		return "oci:" + sjOCIImage(p), true
	}
	return "", false
}

// sjPackageLaunch is the command line that starts a stdio package, the way
// clients write it: npx -y, uvx, docker run -i --rm, dnx. Arguments with a
// fixed value are included; those the user supplies are reported.
func sjPackageLaunch(p sjPackage) (catalog.Launch, []string, bool) {
	runtime, rw := sjFixedArgs("runtimeArguments", p.RuntimeArguments)
	pkgArgs, pw := sjFixedArgs("packageArguments", p.PackageArguments)
	warnings := append(rw, pw...)
	l, ok := sjLaunchWith(p, runtime, pkgArgs)
	if !ok {
		return catalog.Launch{}, []string{fmt.Sprintf("%s package %s has no standard launch command; not used for launch", p.RegistryType, p.Identifier)}, false
	}
	return l, warnings, true
}

// sjLaunchWith is the command line that starts package p with the given
// runtime and package arguments (install passes the user's values too).
func sjLaunchWith(p sjPackage, runtime, pkgArgs []string) (catalog.Launch, bool) {
	var env []string
	for _, e := range p.EnvironmentVariables {
		env = append(env, e.Name)
	}
	l := catalog.Launch{Env: env}
	switch p.RegistryType {
	case "npm":
		spec := p.Identifier
		if p.Version != "" {
			spec += "@" + p.Version
		}
		l.Command = "npx"
		l.Args = append(append(append([]string{"-y"}, runtime...), spec), pkgArgs...)
	case "pypi":
		spec := p.Identifier
		if p.Version != "" {
			spec += "==" + p.Version
		}
		l.Command = "uvx"
		l.Args = append(append(runtime, spec), pkgArgs...)
	case "oci":
		l.Command = "docker"
		l.Args = append([]string{"run", "-i", "--rm"}, runtime...)
		// docker passes no environment through unless asked to.
		for _, e := range env {
			if !sjHasEnvFlag(runtime, e) {
				l.Args = append(l.Args, "-e", e)
			}
		}
		l.Args = append(append(l.Args, sjOCIImage(p)), pkgArgs...)
	case "nuget":
		spec := p.Identifier
		if p.Version != "" {
			spec += "@" + p.Version
		}
		l.Command = "dnx"
		l.Args = append(runtime, spec, "--yes")
		if len(pkgArgs) > 0 {
			l.Args = append(append(l.Args, "--"), pkgArgs...)
		}
	default:
		return catalog.Launch{}, false
	}
	return l, true
}

func sjHasEnvFlag(args []string, name string) bool {
	for i, a := range args {
		if (a == "-e" || a == "--env") && i+1 < len(args) && (args[i+1] == name || strings.HasPrefix(args[i+1], name+"=")) {
			return true
		}
	}
	return false
}

// sjFixedArgs renders arguments whose value is fixed; arguments the user
// supplies (no value, or a {template} in it) are left out and reported.
func sjFixedArgs(field string, args []sjArgument) ([]string, []string) {
	var out, warnings []string
	for i, a := range args {
		fixed := a.Value != "" && !strings.Contains(a.Value, "{")
		switch {
		case a.Type == "named" && fixed:
			out = append(out, a.Name, a.Value)
		case a.Type == "positional" && fixed:
			out = append(out, a.Value)
		default:
			what := a.Name
			if what == "" {
				what = a.ValueHint
			}
			warnings = append(warnings, fmt.Sprintf("%s[%d] %s has no fixed value; left out of launch.args (users supply it)", field, i, what))
		}
	}
	return out, warnings
}
