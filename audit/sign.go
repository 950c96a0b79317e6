package audit

import (
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

// loadOrCreateKey reads the ed25519 signer key at path, creating it (0600)
// with its verifier key next to the store on first use. Callers hold the
// store lock, so two processes never both create one.
func loadOrCreateKey(path, pubPath string) (note.Signer, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		host, _ := os.Hostname()
		name := "mcpgov-audit-" + sanitizeKeyName(host)
		skey, vkey, gerr := note.GenerateKey(rand.Reader, name)
		if gerr != nil {
			return nil, fmt.Errorf("generate audit signing key: %w", gerr)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create audit signing key %s: %w", path, err)
		}
		if err := writeFileSync(path, []byte(skey+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("create audit signing key %s: %w", path, err)
		}
		// A key replaced after a loss is added to signing.pub, not swapped
		// in: checkpoints signed by the old key must still verify.
		old, err := os.ReadFile(pubPath)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read audit verifier keys %s: %w", pubPath, err)
		}
		if err := writeFileSync(pubPath, append(old, vkey+"\n"...), 0o644); err != nil {
			return nil, fmt.Errorf("write audit verifier key %s: %w", pubPath, err)
		}
		text = []byte(skey)
	} else if err != nil {
		return nil, fmt.Errorf("read audit signing key %s: %w", path, err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(text)))
	if err != nil {
		return nil, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	return signer, nil
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

func signCheckpoint(signer note.Signer, size uint64, head string, now time.Time) ([]byte, error) {
	raw, err := hexDecode(head)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s\n%d\n%s\n%s\n", checkpointOrigin, size, base64.StdEncoding.EncodeToString(raw), now.UTC().Format(time.RFC3339Nano))
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	line, err := json.Marshal(struct {
		Note string `json:"note"`
	}{string(msg)})
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}

// openCheckpoint checks one stored checkpoint line against the verifier.
func openCheckpoint(line []byte, verifiers note.Verifiers) (Checkpoint, error) {
	var stored struct {
		Note string `json:"note"`
	}
	if err := json.Unmarshal(line, &stored); err != nil {
		return Checkpoint{}, fmt.Errorf("not a checkpoint line: %w", err)
	}
	n, err := note.Open([]byte(stored.Note), verifiers)
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
	return Checkpoint{Size: size, Head: fmt.Sprintf("%x", head), Time: t, Note: stored.Note}, nil
}

func hexDecode(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("hash %q is not 64 hex digits", s)
	}
	return b, nil
}
