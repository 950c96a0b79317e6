package creds

import (
	"fmt"
	"strconv"
	"strings"
)

// AppendArgs puts back the secrets `mcpgov wrap --move-secrets` took out
// of a command's arguments: each resolved "N=value" (shim --secret-arg)
// is appended to argument N of args (0 is the first after the command),
// which the config left holding what came before the value (--api-key=,
// or nothing). args is not changed; an index past its end is an error
// that names the flag, never the value.
func AppendArgs(args []string, resolved []string) ([]string, error) {
	if len(resolved) == 0 {
		return args, nil
	}
	out := append([]string(nil), args...)
	for _, r := range resolved {
		n, v, _ := strings.Cut(r, "=")
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 || i >= len(out) {
			return nil, fmt.Errorf("--secret-arg %s: the server's command line has no argument %s (it has %d)", n, n, len(out))
		}
		out[i] += v
	}
	return out, nil
}
