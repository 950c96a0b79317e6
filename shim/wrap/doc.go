// Package wrap rewrites MCP client configs so that every stdio server is
// launched through `mcpgov shim … -- <original command line>`, and restores
// them.
//
// Edits are lossless byte patches: only the bytes of the touched values
// (command and args, or opencode's command array) change, computed from the
// offsets of the original file. Comments, key order, indentation, line
// endings, byte order mark, trailing newline, file mode and symlinks are
// kept. Every write is atomic and optimistic: the file is re-read just before
// the rename and the patch is recomputed when a client changed it meanwhile.
// A backup of each original file and a manifest of every original entry are
// kept under the state directory, so Unwrap restores files byte for byte.
package wrap
