package wrap

import (
	"fmt"
	"path/filepath"
	"time"
)

// ManifestVersion is the version of the manifest's JSON format. 2: a
// span may carry refs (values --move-secrets took into the vault, marked
// in its original); version 1 files read as they are.
const ManifestVersion = 2

// Manifest lists every entry mcpgov wrapped and still governs, with what it
// was before, so Unwrap can restore it byte for byte.
type Manifest struct {
	SchemaVersion int      `json:"schemaVersion"`
	Entries       []Record `json:"entries"`
}

// Record is one wrapped entry.
type Record struct {
	File       string    `json:"file"`             // the file written (symlinks resolved)
	Config     string    `json:"config,omitempty"` // the path the client reads, when it differs
	Client     string    `json:"client"`
	Scope      string    `json:"scope"`
	Server     string    `json:"server"`
	Pointer    string    `json:"pointer"`       // JSON pointer of the entry (TOML: its key path)
	Format     string    `json:"format"`        // json or toml
	Command    string    `json:"command"`       // the original command
	Args       []string  `json:"args"`          // the original arguments
	URL        string    `json:"url,omitempty"` // the original URL of a remote entry
	Spans      []Span    `json:"spans"`
	HashBefore string    `json:"hashBefore"` // SHA-256 of the file before the wrap
	HashAfter  string    `json:"hashAfter"`  // and after it
	Backup     string    `json:"backup"`
	Time       time.Time `json:"time"`
	Version    string    `json:"mcpgovVersion"`
	MCPGovPath string    `json:"mcpgovPath"`
}

// Span is one changed stretch of an entry: the original bytes and the bytes
// wrap wrote in their place. Field names which part of the entry it covers.
type Span struct {
	Field    string `json:"field"`
	Original string `json:"original"`
	Wrapped  string `json:"wrapped"`
	// Secret is the vault reference of a value --move-secrets took out of
	// the config; Original is then empty (the manifest holds no secret)
	// and unwrap reads the value back from the vault.
	Secret string `json:"secret,omitempty"`
	// Refs are the vault references of the values --move-secrets took out
	// of this span's text: Original holds a NUL byte where each was, in
	// order, and unwrap puts the values back there.
	Refs []string `json:"refs,omitempty"`
}

func manifestPath(stateDir string) string { return filepath.Join(stateDir, "manifest.json") }

// LoadManifest reads the manifest under stateDir; a missing one is empty.
func LoadManifest(stateDir string) (*Manifest, error) {
	m := &Manifest{SchemaVersion: ManifestVersion, Entries: []Record{}}
	if err := readStateFile(manifestPath(stateDir), "wrap manifest", m); err != nil {
		return nil, err
	}
	if m.SchemaVersion > ManifestVersion {
		// Its spans may hold what this version would put back wrong.
		return nil, fmt.Errorf("the wrap manifest %s has format %d, written by a newer mcpgov (this one reads up to %d); run wrap and unwrap with that version",
			manifestPath(stateDir), m.SchemaVersion, ManifestVersion)
	}
	if m.Entries == nil {
		m.Entries = []Record{}
	}
	return m, nil
}

func (m *Manifest) save(stateDir string) error {
	m.SchemaVersion = ManifestVersion
	return writeStateFile(manifestPath(stateDir), "wrap manifest", m)
}

func (m *Manifest) find(file, pointer string) *Record {
	for i := range m.Entries {
		if m.Entries[i].File == file && m.Entries[i].Pointer == pointer {
			return &m.Entries[i]
		}
	}
	return nil
}

func (m *Manifest) put(r Record) {
	if old := m.find(r.File, r.Pointer); old != nil {
		*old = r
		return
	}
	m.Entries = append(m.Entries, r)
}

func (m *Manifest) remove(file, pointer string) {
	m.Entries = withoutEntry(m.Entries, func(r Record) (string, string) { return r.File, r.Pointer }, file, pointer)
}
