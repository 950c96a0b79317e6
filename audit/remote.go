package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// StoredCheckpoint is one verified line of a store's checkpoints.log.
type StoredCheckpoint struct {
	Entry      WitnessEntry // as a witness would hold it
	Checkpoint Checkpoint
	// End is the byte offset just past its line: where to read on from.
	End int64
}

// StoreCheckpoints returns the store's checkpoints written at or after
// byte offset from of checkpoints.log, in order, each with the verifier
// key (from the store's signing.pub) its signature verifies under, and
// the offset where the file's complete lines end. A reader that keeps
// that offset reads only what is new, however long the file grows. Lines
// that verify under none of the keys, or do not parse, are passed over:
// they vouch for nothing. An offset past the end (the file was replaced)
// reads from the start.
func StoreCheckpoints(dir string, from int64) ([]StoredCheckpoint, int64, error) {
	store, err := StoreID(dir)
	if err != nil {
		return nil, from, err
	}
	pub, err := os.ReadFile(filepath.Join(dir, PubName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, from, nil
	}
	if err != nil {
		return nil, from, fmt.Errorf("read verifier keys: %w", err)
	}
	keys := strings.Fields(string(pub))
	path := filepath.Join(dir, checkpointsName)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, from, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, from, err
	} else if fi.Size() < from {
		from = 0
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, from, err
	}
	var out []StoredCheckpoint
	r := bufio.NewReader(f)
	end := from
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break // a torn last line is read again next time
		}
		if err != nil {
			return out, end, fmt.Errorf("read %s: %w", path, err)
		}
		end += int64(len(line))
		var stored struct {
			Note string `json:"note"`
		}
		if json.Unmarshal(bytes.TrimSuffix(line, []byte("\n")), &stored) != nil {
			continue
		}
		for _, k := range keys {
			if cp, err := openCheckpointNote(stored.Note, k); err == nil {
				out = append(out, StoredCheckpoint{Entry: WitnessEntry{Store: store, Key: k, Note: cp.Note}, Checkpoint: cp, End: end})
				break
			}
		}
	}
	return out, end, nil
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
