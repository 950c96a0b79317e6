// Package audittest tampers with audit stores the way their owner could,
// for tests that must show what verification catches and what it cannot:
// removing the newest records with their checkpoints, and rewriting a
// history and signing it again with the store's own key. It re-implements
// the chain and checkpoint formats from their documentation (audit.Record's
// seq and prev, audit.Checkpoint's note text) rather than calling the
// store, so the tests also check that the formats are what they say.
package audittest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/mcpgov/mcpgov/audit"
)

const checkpointsName = "checkpoints.log"

type head struct {
	Seq  uint64 `json:"seq"`
	Prev string `json:"prev"`
}

type line struct {
	seg  string
	text []byte // without its newline
}

func readChain(dir string) ([]line, error) {
	segs, err := audit.ListSegments(dir)
	if err != nil {
		return nil, err
	}
	var out []line
	for _, s := range segs {
		b, err := os.ReadFile(s.Path)
		if err != nil {
			return nil, err
		}
		for l := range bytes.Lines(b) {
			out = append(out, line{seg: s.Path, text: bytes.TrimSuffix(l, []byte("\n"))})
		}
	}
	return out, nil
}

func writeChain(dir string, lines []line) error {
	segs, err := audit.ListSegments(dir)
	if err != nil {
		return err
	}
	bySeg := map[string][]byte{}
	for _, s := range segs {
		bySeg[s.Path] = nil
	}
	for _, l := range lines {
		bySeg[l.seg] = append(append(bySeg[l.seg], l.text...), '\n')
	}
	for path, b := range bySeg {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkpoint is one checkpoints.log line, parsed without verifying it.
type checkpoint struct {
	size uint64
	time string
}

func readCheckpoints(dir string) ([]checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointsName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []checkpoint
	for l := range bytes.Lines(b) {
		var stored struct {
			Note string `json:"note"`
		}
		if err := json.Unmarshal(l, &stored); err != nil {
			return nil, err
		}
		text, _, ok := strings.Cut(stored.Note, "\n\n")
		parts := strings.Split(text, "\n")
		if !ok || len(parts) != 4 {
			return nil, fmt.Errorf("checkpoint text %q", text)
		}
		size, err := strconv.ParseUint(parts[1], 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, checkpoint{size: size, time: parts[3]})
	}
	return out, nil
}

// writeCheckpoints signs one checkpoint per size with skey over the heads
// the chain has now, keeping each one's time.
func writeCheckpoints(dir, skey string, cps []checkpoint, heads map[uint64]string) error {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	var out []byte
	for _, cp := range cps {
		h, ok := heads[cp.size]
		if !ok {
			continue
		}
		raw, _ := hex.DecodeString(h)
		text := fmt.Sprintf("mcpgov-audit\n%d\n%s\n%s\n", cp.size, base64.StdEncoding.EncodeToString(raw), cp.time)
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			return err
		}
		l, _ := json.Marshal(struct {
			Note string `json:"note"`
		}{string(msg)})
		out = append(append(out, l...), '\n')
	}
	return os.WriteFile(filepath.Join(dir, checkpointsName), out, 0o600)
}

// Truncate removes the newest n records and every checkpoint that covers
// them: what the store's owner does to make the last n calls disappear.
// The store still verifies on its own afterwards.
func Truncate(dir string, n int) error {
	lines, err := readChain(dir)
	if err != nil {
		return err
	}
	if n > len(lines) {
		return fmt.Errorf("only %d records", len(lines))
	}
	lines = lines[:len(lines)-n]
	var last uint64
	if len(lines) > 0 {
		var h head
		if err := json.Unmarshal(lines[len(lines)-1].text, &h); err != nil {
			return err
		}
		last = h.Seq
	}
	b, err := os.ReadFile(filepath.Join(dir, checkpointsName))
	if err != nil {
		return err
	}
	cps, err := readCheckpoints(dir)
	if err != nil {
		return err
	}
	var kept []byte
	i := 0
	for l := range bytes.Lines(b) {
		if cps[i].size <= last {
			kept = append(kept, l...)
		}
		i++
	}
	if err := writeChain(dir, lines); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, checkpointsName), kept, 0o600)
}

// Resign rewrites the history: change may edit any record line (it gets
// the record's seq; return the line unchanged to keep it), every prev after
// the first change is recomputed, and every checkpoint is signed again with
// skey over the new heads, keeping its time. With the store's own key the
// result verifies on its own, also against a pinned verifier key.
func Resign(dir, skey string, change func(seq uint64, line []byte) []byte) error {
	lines, err := readChain(dir)
	if err != nil {
		return err
	}
	heads := map[uint64]string{}
	prev := ""
	for i := range lines {
		var h head
		if err := json.Unmarshal(lines[i].text, &h); err != nil {
			return err
		}
		text := lines[i].text
		if prev != "" && h.Prev != prev {
			old := []byte(`"prev":"` + h.Prev + `"`)
			if !bytes.Contains(text, old) {
				return fmt.Errorf("seq %d: no prev to rewrite", h.Seq)
			}
			text = bytes.Replace(text, old, []byte(`"prev":"`+prev+`"`), 1)
		}
		text = change(h.Seq, text)
		lines[i].text = text
		prev = hashOf(text)
		heads[h.Seq] = prev
	}
	cps, err := readCheckpoints(dir)
	if err != nil {
		return err
	}
	if err := writeChain(dir, lines); err != nil {
		return err
	}
	return writeCheckpoints(dir, skey, cps, heads)
}

// StoreKey returns the signer key of a store that keeps its own
// (DIR/signing.key).
func StoreKey(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, audit.KeyName))
	return strings.TrimSpace(string(b)), err
}

// Rekey replaces the store's key with a new one, and its signing.pub with
// only the new verifier key, and returns the new signer key: the owner
// covering a history they will sign again.
func Rekey(dir string) (string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "mcpgov-audit-rekeyed")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, audit.KeyName), []byte(skey+"\n"), 0o600); err != nil {
		return "", err
	}
	return skey, os.WriteFile(filepath.Join(dir, audit.PubName), []byte(vkey+"\n"), 0o644)
}
