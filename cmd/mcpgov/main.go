// Command mcpgov governs the MCP servers that AI clients on a machine use.
package main

import (
	"os"

	"github.com/mcpgov/mcpgov/cmd/mcpgov/cli"
)

func main() {
	os.Exit(cli.Main())
}
