package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/google/renameio/v2/maybe"

	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// configRegistration is what registerBundle did to the user's config.
type configRegistration struct {
	File     string // the config file (as configured; a symlink is written through)
	Previous string // the bundle it named before ("" for none)
	Changed  bool
	Created  bool
	Backup   string // copy of the file before the edit ("" when it was created)
}

// newConfigHeader starts a config file registerBundle creates.
const newConfigHeader = "# mcpgov configuration; every key is described by `mcpgov help config`.\n"

// registerBundle makes dir the governance bundle of the config file at
// path. Only the top-level bundle key changes: its value is replaced in
// place, or a bundle line is added before the first table; comments,
// order, layout, line endings and the other keys stay byte for byte. The
// file is replaced atomically with its mode kept (through a symlink, the
// link's target), after a copy of the original is kept under backupDir,
// so the edit can be undone. A file that does not load strictly is not
// touched.
func registerBundle(path, dir, backupDir string, now time.Time) (configRegistration, error) {
	reg := configRegistration{File: path}
	target := path
	if r, err := filepath.EvalSymlinks(path); err == nil {
		target = r
	}
	before, err := os.ReadFile(target)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return reg, fmt.Errorf("create config directory: %w", err)
		}
		text := newConfigHeader + "bundle = " + tomldoc.String(dir) + "\n"
		if err := verifyRegistration(target, emptyConfig(target), text, dir); err != nil {
			return reg, err
		}
		if err := maybe.WriteFile(target, []byte(text), 0o644); err != nil {
			return reg, fmt.Errorf("write config %s: %w", path, err)
		}
		reg.Changed, reg.Created = true, true
		return reg, nil
	}
	if err != nil {
		return reg, fmt.Errorf("read config %s: %w", path, err)
	}
	old, err := govern.ReadConfig(target)
	if err != nil {
		return reg, withHint(fmt.Errorf("config %s cannot be edited: %w", path, err), "fix it first; `mcpgov help config` lists every key")
	}
	reg.Previous = old.Bundle
	if old.Bundle == dir {
		return reg, nil
	}
	text := setTopLevelKey(string(before), "bundle", tomldoc.String(dir))
	if err := verifyRegistration(target, old, text, dir); err != nil {
		return reg, err
	}
	info, err := os.Stat(target)
	if err != nil {
		return reg, err
	}
	reg.Backup = filepath.Join(backupDir, now.UTC().Format("20060102T150405.000000000Z")+"-"+filepath.Base(target))
	if err := os.MkdirAll(backupDir, 0o700); err != nil {
		return reg, fmt.Errorf("back up config: %w", err)
	}
	if err := maybe.WriteFile(reg.Backup, before, 0o600); err != nil {
		return reg, fmt.Errorf("back up config: %w", err)
	}
	// Another writer between the read and now loses nothing: the edit is
	// made on what is there, or not at all.
	if again, err := os.ReadFile(target); err != nil || !bytes.Equal(again, before) {
		return reg, fmt.Errorf("config %s changed while mcpgov was editing it; nothing was written", path)
	}
	if err := maybe.WriteFile(target, []byte(text), info.Mode().Perm()); err != nil {
		return reg, fmt.Errorf("write config %s: %w", path, err)
	}
	reg.Changed = true
	return reg, nil
}

// emptyConfig is the config of a file at path that holds nothing yet.
func emptyConfig(path string) Config {
	c, _ := govern.ParseConfig(path, nil)
	return c
}

// verifyRegistration checks that text loads strictly and differs from old
// in the bundle only.
func verifyRegistration(path string, old Config, text, dir string) error {
	got, err := govern.ParseConfig(path, []byte(text))
	if err != nil {
		return fmt.Errorf("edit config %s: the result would not load (%v); nothing was written", path, err)
	}
	want := old
	want.Bundle = dir
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("edit config %s: the result would change more than the bundle; nothing was written", path)
	}
	return nil
}

// setTopLevelKey sets key = value outside any table: in place when the key
// is there, else on a new line before the first table (and the comments
// directly above it), or at the end when there is no table.
func setTopLevelKey(text, key, value string) string {
	d := tomldoc.Parse(text)
	if k := d.Key(key); k != nil {
		return text[:k.ValueStart] + value + text[k.ValueEnd:]
	}
	nl := "\n"
	if strings.Contains(text, "\r\n") {
		nl = "\r\n"
	}
	line := tomldoc.FormatKey(key) + " = " + value + nl
	if len(d.Tables) == 0 {
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += nl
		}
		return text + line
	}
	// Before the first table and the comments that introduce it, after
	// the top-level lines (without a blank line between them and it).
	at := d.Tables[0].Start
	for at > 0 {
		prev := strings.LastIndexByte(text[:at-1], '\n') + 1
		if !strings.HasPrefix(strings.TrimSpace(text[prev:at]), "#") {
			break
		}
		at = prev
	}
	for at > 0 {
		prev := strings.LastIndexByte(text[:at-1], '\n') + 1
		if strings.TrimSpace(text[prev:at]) != "" {
			break
		}
		at = prev
	}
	if at == 0 {
		return line + nl + text
	}
	return text[:at] + line + text[at:]
}
