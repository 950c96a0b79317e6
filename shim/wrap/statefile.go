package wrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// readStateFile decodes the JSON state file at path (the wrap or install
// manifest, named what in errors) into v; a missing file leaves v as it is.
func readStateFile(path, what string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s %s: %w", what, path, err)
	}
	return nil
}

// writeStateFile replaces the state file at path with v, indented, atomically.
func writeStateFile(path, what string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

// withoutEntry returns entries less the one at file and pointer.
func withoutEntry[T any](entries []T, key func(T) (string, string), file, pointer string) []T {
	out := entries[:0]
	for _, e := range entries {
		if f, p := key(e); f != file || p != pointer {
			out = append(out, e)
		}
	}
	return out
}
