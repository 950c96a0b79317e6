package cli

import (
	"bytes"
	"io"

	"github.com/mcpgov/mcpgov/policy"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func bytesTrim(b []byte) []byte { return bytes.TrimSpace(b) }

func policyInputSchema() string { return policy.InputSchema }
