package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Files of a store besides its segments.
const (
	lockName        = ".lock"
	checkpointsName = "checkpoints.log"
	anchorName      = "anchor.json"
	// KeyName is the default signing key file in the store; PubName holds
	// its verifier keys ("name+hash+key", one a line, newest last), for
	// auditors to pin.
	KeyName = "signing.key"
	PubName = "signing.pub"
)

// genesis is the prev hash of the first record of a new store.
var genesis = strings.Repeat("0", 64)

// loadOrCreateKey reads the ed25519 signer key at path and returns it with
// its verifier key, which it adds to the store's signing.pub when missing
// (a key kept outside the store, or one replaced after a loss: checkpoints
// signed by an older key must still verify). With create, a missing key is
// made (0600); a configured key (a managed one) must exist instead: the
// administrator makes it with mcpgov audit keygen. Callers hold the store
// lock, so two processes never both create one.
func loadOrCreateKey(path, pubPath string, create bool) (note.Signer, string, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		host, _ := os.Hostname()
		if _, err := NewKeyFile(path, "mcpgov-audit-"+sanitizeKeyName(host)); err != nil {
			return nil, "", err
		}
		text, err = os.ReadFile(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("audit signing key %s does not exist; create it with mcpgov audit keygen --out %s", path, path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read audit signing key %s: %w", path, err)
	}
	skey := strings.TrimSpace(string(text))
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("audit signing key %s: %w", path, err)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return nil, "", fmt.Errorf("audit signing key %s: %w", path, err)
	}
	old, err := os.ReadFile(pubPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("read audit verifier keys %s: %w", pubPath, err)
	}
	if !slices.Contains(strings.Fields(string(old)), vkey) {
		if len(old) > 0 && old[len(old)-1] != '\n' {
			old = append(old, '\n')
		}
		if err := writeFileSync(pubPath, append(old, vkey+"\n"...), 0o644); err != nil {
			return nil, "", fmt.Errorf("write audit verifier key %s: %w", pubPath, err)
		}
	}
	return signer, vkey, nil
}

// NewKeyFile creates an ed25519 signer key for checkpoints at path (mode
// 0600, refusing to replace a file) and returns its verifier key
// ("name+hash+key"), which auditors pin with audit verify --key.
func NewKeyFile(path, name string) (string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, sanitizeKeyName(name))
	if err != nil {
		return "", fmt.Errorf("generate audit signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create audit signing key %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create audit signing key: %w", err)
	}
	_, err = f.Write([]byte(skey + "\n"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("create audit signing key %s: %w", path, err)
	}
	return vkey, nil
}

// VerifierKeyFile returns the verifier key of the signer key at path: what
// audit verify trusts when the signing key is kept outside the store.
func VerifierKeyFile(path string) (string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read audit signing key: %w", err)
	}
	vkey, err := verifierKey(strings.TrimSpace(string(text)))
	if err != nil {
		return "", fmt.Errorf("audit signing key %s: %w", path, err)
	}
	return vkey, nil
}

// verifierKey derives "name+hash+key" from a note signer key
// "PRIVATE+KEY+name+hash+key" (the key being the ed25519 seed).
func verifierKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5) // names never hold a '+'; base64 may
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a signer key (PRIVATE+KEY+name+hash+key)")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("not an ed25519 signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(vkey, parts[2]+"+"+parts[3]+"+") {
		return "", errors.New("signer key hash does not match its key")
	}
	return vkey, nil
}

func sanitizeKeyName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r == '+' || r > '~' {
			return '-'
		}
		return r
	}, s)
	if s == "" {
		return "local"
	}
	return s
}

// writeFileSync writes a new file and fsyncs it and its directory.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be fsynced there; NTFS journals the metadata
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// Checkpoint is a signed statement that the chain had Size records ending
// in Head at Time. It is stored as one JSON line {"note": …} holding a
// signed note (golang.org/x/mod/sumdb/note) whose text is
//
//	mcpgov-audit
//	SIZE
//	base64(HEAD)
//	TIME (RFC 3339)
type Checkpoint struct {
	Size uint64
	Head string // hex SHA-256 of the record line with Seq == Size
	Time time.Time
	Note string // the signed note as stored
}

const checkpointOrigin = "mcpgov-audit"

// signCheckpoint returns the checkpoints.log line and the signed note in it.
func signCheckpoint(signer note.Signer, size uint64, head string, now time.Time) ([]byte, string, error) {
	raw, err := hexDecode(head)
	if err != nil {
		return nil, "", err
	}
	text := fmt.Sprintf("%s\n%d\n%s\n%s\n", checkpointOrigin, size, base64.StdEncoding.EncodeToString(raw), now.UTC().Format(time.RFC3339Nano))
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, "", fmt.Errorf("sign checkpoint: %w", err)
	}
	line, err := json.Marshal(struct {
		Note string `json:"note"`
	}{string(msg)})
	if err != nil {
		return nil, "", err
	}
	return append(line, '\n'), string(msg), nil
}

// openCheckpoint checks one stored checkpoint line against the verifier.
func openCheckpoint(line []byte, verifiers note.Verifiers) (Checkpoint, error) {
	var stored struct {
		Note string `json:"note"`
	}
	if err := json.Unmarshal(line, &stored); err != nil {
		return Checkpoint{}, fmt.Errorf("not a checkpoint line: %w", err)
	}
	return parseCheckpoint(stored.Note, verifiers)
}

// openCheckpointNote checks a signed checkpoint note against one verifier
// key ("name+hash+key").
func openCheckpointNote(msg, vkey string) (Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("verifier key: %w", err)
	}
	return parseCheckpoint(msg, note.VerifierList(v))
}

func parseCheckpoint(msg string, verifiers note.Verifiers) (Checkpoint, error) {
	n, err := note.Open([]byte(msg), verifiers)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("signature: %w", err)
	}
	parts := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(parts) != 4 || parts[0] != checkpointOrigin {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint text")
	}
	size, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint size: %w", err)
	}
	head, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(head) != 32 {
		return Checkpoint{}, fmt.Errorf("checkpoint head hash is not 32 bytes of base64")
	}
	t, err := time.Parse(time.RFC3339Nano, parts[3])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint time: %w", err)
	}
	return Checkpoint{Size: size, Head: fmt.Sprintf("%x", head), Time: t, Note: msg}, nil
}

func hexDecode(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("hash %q is not 64 hex digits", s)
	}
	return b, nil
}
