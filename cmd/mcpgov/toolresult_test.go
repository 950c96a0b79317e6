package main

import (
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// textOf is the text content of a tool's result, joined.
func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
