package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// What a copy of the trail kept elsewhere (an object store) needs to be
// written and checked against the store's checkpoints without this
// package's internals.

// NewParquetRow is r as the Parquet row audit export writes.
func NewParquetRow(r *Record) ParquetRow { return toParquetRow(r) }

// HashLine is the hex SHA-256 of a stored record line: the next record's
// prev, and the head a checkpoint of this record signs.
func HashLine(line []byte) string { return hashLine(line) }

// OpenCheckpoint verifies a signed checkpoint note against verifier keys
// ("name+hash+key", separated by spaces or newlines) and returns it.
func OpenCheckpoint(msg, keys string) (Checkpoint, error) {
	verifiers, _, err := loadVerifier("", keys)
	if err != nil {
		return Checkpoint{}, err
	}
	return parseCheckpoint(msg, verifiers)
}

// StoreCheckpoints returns the store's checkpoints as a witness would hold
// them, in the order they were written: each with the verifier key (from
// the store's signing.pub) that its signature verifies under. Lines that
// verify under none of those keys, or are torn, are left out: they vouch
// for nothing.
func StoreCheckpoints(dir string) ([]WitnessEntry, error) {
	store, err := StoreID(dir)
	if err != nil {
		return nil, err
	}
	pub, err := os.ReadFile(filepath.Join(dir, PubName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read verifier keys: %w", err)
	}
	keys := strings.Fields(string(pub))
	path := filepath.Join(dir, checkpointsName)
	var out []WitnessEntry
	err = scanLines(path, func(_ int, line []byte, complete bool) error {
		if !complete {
			return nil
		}
		var stored struct {
			Note string `json:"note"`
		}
		if json.Unmarshal(line, &stored) != nil {
			return nil
		}
		for _, k := range keys {
			if cp, err := openCheckpointNote(stored.Note, k); err == nil {
				out = append(out, WitnessEntry{Store: store, Key: k, Note: cp.Note})
				break
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// ErrStop, returned by a Records callback, ends the walk without error.
var ErrStop = errors.New("stop")

// ValidStoreID reports whether id is a store identity as StoreID returns
// it, safe to use in a file or object name.
func ValidStoreID(id string) error { return validStoreID(id) }

// WriteFileAtomic replaces path with data through a synced temporary file
// and a rename, so a crash leaves the old content or the new, never a mix:
// what a cursor kept beside the store needs.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(path, data, perm)
}
