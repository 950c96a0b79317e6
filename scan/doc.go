// Package scan builds a static inventory of the MCP servers configured on a
// machine: which AI client launches what, from which file and line, and what
// is risky about it.
//
// Scanning never runs a configured command and never contacts a configured
// URL; it only reads files. A file that cannot be read or parsed becomes an
// entry in Report.Errors and the scan goes on, so one broken config never
// hides the rest of the inventory.
//
// The client table (clients.go) knows where each supported client keeps its
// configuration on Linux, macOS and Windows and in which shape; readers
// (tree*.go) turn JSON, JSONC, TOML and YAML into one position-aware tree;
// shapes.go pulls server entries out of that tree; package scan/launch works
// out what an entry really launches (through npx, uvx, docker, cmd /c and
// other governors or bridges) and derives its identity; findings.go applies
// the rules, in the vocabulary of package scan/finding, with the secret
// detector of package policy/guard/secret.
package scan
