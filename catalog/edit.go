package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/mcpgov/mcpgov/scan/tomldoc"
)

// Change is one edit to a server's entry in catalog.toml text.
type Change func(doc *tomldoc.Doc, id string) string

// SetStatus sets servers.ID.status.
func SetStatus(s Status) Change {
	return func(doc *tomldoc.Doc, id string) string {
		return doc.Set(tomldoc.String(string(s)), "servers", id, "status")
	}
}

// SetReview writes the review evidence table (reviewer, date, digest, notes).
func SetReview(r Review) []Change {
	changes := []Change{
		setKey(tomldoc.String(r.Reviewer), "review", "reviewer"),
		setKey(tomldoc.Date(r.Date), "review", "date"),
	}
	if r.FindingsDigest != "" {
		changes = append(changes, setKey(tomldoc.String(r.FindingsDigest), "review", "findings_digest"))
	}
	if r.Notes != "" {
		changes = append(changes, setKey(tomldoc.String(r.Notes), "review", "notes"))
	}
	return changes
}

// SetPins makes servers.ID.pins exactly pins: changed and new tools are
// written, tools no longer present are removed.
func SetPins(pins map[string]string) []Change {
	var changes []Change
	names := make([]string, 0, len(pins))
	for n := range pins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		changes = append(changes, setKey(tomldoc.String(pins[n]), "pins", n))
	}
	// Remove stale pins one at a time, re-indexing after each.
	changes = append(changes, func(doc *tomldoc.Doc, id string) string {
		text := doc.Text
		for {
			d := tomldoc.Parse(text)
			t := d.Table("servers", id, "pins")
			if t == nil {
				return text
			}
			stale := ""
			for _, name := range d.KeysIn(t) {
				if _, keep := pins[name]; !keep {
					stale = name
					break
				}
			}
			if stale == "" {
				return text
			}
			text = d.Delete("servers", id, "pins", stale)
		}
	})
	return changes
}

func setKey(value string, keys ...string) Change {
	return func(doc *tomldoc.Doc, id string) string {
		return doc.Set(value, append([]string{"servers", id}, keys...)...)
	}
}

// EditServer applies changes to server id in the catalog file at path as a
// minimal edit — only the touched keys' bytes change; comments, order and
// layout stay — then validates the result and replaces the file atomically.
// Nothing is written when the server is missing or the result is invalid.
func EditServer(path, id string, changes ...Change) error {
	return Rewrite(path, "edit", func(c *Catalog, text string) (string, error) {
		if c.Server(id) == nil {
			return "", fmt.Errorf("no server %q in %s", id, path)
		}
		for _, ch := range changes {
			text = ch(tomldoc.Parse(text), id)
		}
		return text, nil
	})
}

// Rewrite is the safe path for every change to a catalog file: the file
// must be valid before, edit computes the new text, the result must be
// valid, and it replaces the file (the symlink's target, mode kept)
// atomically. what names the change in errors ("edit", "import").
func Rewrite(path, what string, edit func(c *Catalog, text string) (string, error)) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	info, err := os.Stat(target)
	if err != nil {
		return err
	}
	orig, err := os.ReadFile(target)
	if err != nil {
		return err
	}
	c, err := Parse(path, orig)
	if err != nil {
		return fmt.Errorf("catalog is invalid before the %s; fix it first: %w", what, err)
	}
	text, err := edit(c, string(orig))
	if err != nil {
		return err
	}
	if _, err := Parse(path, []byte(text)); err != nil {
		return fmt.Errorf("%s would make the catalog invalid, nothing written: %w", what, err)
	}
	return writeAtomic(target, []byte(text), info.Mode().Perm())
}
