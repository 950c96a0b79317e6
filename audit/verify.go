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

	"golang.org/x/mod/sumdb/note"
)

// ChainError names the first place where a store's chain does not hold.
type ChainError struct {
	Segment string `json:"segment"`        // segment file name (or checkpoints.log, anchor.json)
	Line    int    `json:"line,omitempty"` // 1-based line in Segment; 0 when not about one line
	Seq     uint64 `json:"seq,omitempty"`  // the record's sequence number, when known
	Reason  string `json:"reason"`
}

func (e *ChainError) Error() string {
	var b strings.Builder
	b.WriteString(e.Segment)
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Seq > 0 {
		fmt.Fprintf(&b, " (record seq %d)", e.Seq)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Key is the verifier key ("name+hash+key") checkpoints must be signed
	// with; default: the store's signing.pub. Pin it to detect a re-signed
	// history.
	Key string
	// Witnessed are the checkpoints witnesses hold for this store (see
	// StoreID and Witness.Checkpoints). Verify compares the chain with
	// each and returns a *WitnessError when the chain holds on its own
	// but disagrees with one: truncated, forked, rolled back or re-keyed.
	Witnessed []WitnessSet
}

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Dir         string `json:"dir"`
	Segments    int    `json:"segments"`
	Records     uint64 `json:"records"`
	FirstSeq    uint64 `json:"firstSeq"`
	LastSeq     uint64 `json:"lastSeq"`
	Head        string `json:"head"`
	Checkpoints int    `json:"checkpoints"`
	// Unwitnessed counts the records after the last checkpoint: what a
	// checkpoint does not yet vouch for.
	Unwitnessed uint64 `json:"unwitnessed"`
	// TornTail names a last segment that ends in an incomplete line (a
	// writer was killed mid-write; that record was never acknowledged).
	TornTail string `json:"tornTail,omitempty"`
	Pruned   bool   `json:"pruned"`
	Key      string `json:"key,omitempty"`
	// Store is the store's identity at its witnesses.
	Store     string          `json:"store,omitempty"`
	Witnesses []WitnessResult `json:"witnesses,omitempty"`
}

// Verify checks a store: every segment present and in order, every line a
// record whose seq follows the previous one and whose prev is the SHA-256
// of the previous line, every checkpoint signed and matching the chain,
// and no checkpoint claiming more records than remain. The error is a
// *ChainError naming the first bad segment and record.
func Verify(dir string, opts VerifyOptions) (*VerifyReport, error) {
	rep := &VerifyReport{Dir: dir}
	segs, err := ListSegments(dir)
	if err != nil {
		return rep, err
	}
	if len(segs) == 0 {
		return rep, fmt.Errorf("no audit segments in %s", dir)
	}
	verifiers, key, err := loadVerifier(dir, opts.Key)
	if err != nil {
		return rep, err
	}
	rep.Key = key
	cps, err := readCheckpoints(dir, verifiers)
	if err != nil {
		return rep, err
	}
	rep.Checkpoints = len(cps)
	if len(opts.Witnessed) > 0 {
		if rep.Store, err = StoreID(dir); err != nil {
			return rep, err
		}
	}
	need := map[uint64]bool{}
	var checks []*witnessCheck
	for _, set := range opts.Witnessed {
		checks = append(checks, prepareWitness(set, rep.Store, verifiers, need))
	}
	hashes := map[uint64]localHash{}

	wantSeg, wantSeq, prev := 1, uint64(1), genesis
	anchor, err := readAnchor(dir)
	if err != nil {
		return rep, &ChainError{Segment: anchorName, Reason: err.Error()}
	}
	if anchor != nil {
		if err := checkAnchor(anchor, verifiers); err != nil {
			return rep, &ChainError{Segment: anchorName, Reason: err.Error()}
		}
		wantSeg, wantSeq, prev = anchor.Segment, anchor.Seq, anchor.Prev
		rep.Pruned = true
	}
	rep.FirstSeq = wantSeq
	start := prev
	var lastName string
	var lastLine int
	for i, seg := range segs {
		if anchor != nil && seg.Num < anchor.Segment {
			continue // left by a prune that crashed before deleting it
		}
		if seg.Num != wantSeg {
			return rep, &ChainError{Segment: SegmentName(wantSeg), Reason: "segment is missing (deleted)"}
		}
		wantSeg++
		rep.Segments++
		isLast := i == len(segs)-1
		err := scanLines(seg.Path, func(n int, line []byte, complete bool) error {
			if !complete {
				if isLast {
					rep.TornTail = seg.Name()
					return nil
				}
				return &ChainError{Segment: seg.Name(), Line: n, Seq: wantSeq, Reason: "segment ends in an incomplete line (truncated)"}
			}
			var h lineHead
			if err := json.Unmarshal(line, &h); err != nil {
				return &ChainError{Segment: seg.Name(), Line: n, Seq: wantSeq, Reason: "record is not valid JSON (edited): " + err.Error()}
			}
			switch {
			case h.Seq > wantSeq:
				return &ChainError{Segment: seg.Name(), Line: n, Seq: wantSeq, Reason: fmt.Sprintf("record missing: found seq %d where seq %d belongs (deleted or reordered)", h.Seq, wantSeq)}
			case h.Seq < wantSeq:
				return &ChainError{Segment: seg.Name(), Line: n, Seq: h.Seq, Reason: fmt.Sprintf("record out of order: seq %d found where seq %d belongs (reordered or duplicated)", h.Seq, wantSeq)}
			}
			if h.Prev != prev {
				if lastName == "" {
					return &ChainError{Segment: seg.Name(), Line: n, Seq: h.Seq, Reason: "prev hash does not match the start of the chain"}
				}
				return &ChainError{Segment: lastName, Line: lastLine, Seq: h.Seq - 1,
					Reason: fmt.Sprintf("record was changed: its hash no longer matches the prev of seq %d (%s line %d)", h.Seq, seg.Name(), n)}
			}
			prev = hashLine(line)
			if need[h.Seq] {
				hashes[h.Seq] = localHash{hash: prev, segment: seg.Name(), line: n}
			}
			if want, ok := cps[h.Seq]; ok && want.Head != prev {
				return &ChainError{Segment: seg.Name(), Line: n, Seq: h.Seq, Reason: "record does not match the signed checkpoint of " + want.Time.Format("2006-01-02T15:04:05Z07:00") + " (edited)"}
			}
			rep.Records++
			rep.LastSeq = h.Seq
			wantSeq++
			lastName, lastLine = seg.Name(), n
			return nil
		})
		if err != nil {
			var ce *ChainError
			if errors.As(err, &ce) {
				return rep, err
			}
			return rep, &ChainError{Segment: seg.Name(), Reason: err.Error()}
		}
	}
	rep.Head = prev
	var witnessed uint64
	for size, cp := range cps {
		if size > rep.LastSeq {
			return rep, &ChainError{Segment: orDefault(lastName, segs[len(segs)-1].Name()), Seq: rep.LastSeq + 1,
				Reason: fmt.Sprintf("checkpoint of %s vouches for seq %d but the chain ends at seq %d: records were removed (truncated)", cp.Time.Format("2006-01-02T15:04:05Z07:00"), size, rep.LastSeq)}
		}
		witnessed = max(witnessed, size)
	}
	if rep.LastSeq > witnessed {
		rep.Unwitnessed = rep.LastSeq - max(witnessed, rep.FirstSeq-1)
	}
	end := localHash{hash: prev, segment: orDefault(lastName, segs[len(segs)-1].Name()), line: lastLine}
	var findings []WitnessFinding
	for _, wc := range checks {
		wc.judge(rep, hashes, start, end)
		rep.Witnesses = append(rep.Witnesses, wc.res)
		findings = append(findings, wc.res.Findings...)
	}
	if len(findings) > 0 {
		return rep, &WitnessError{Findings: findings}
	}
	return rep, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// scanLines calls fn for each line of the file; complete is false for a
// last line without its newline.
func scanLines(path string, fn func(n int, line []byte, complete bool) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			complete := line[len(line)-1] == '\n'
			if ferr := fn(n, bytes.TrimSuffix(line, []byte{'\n'}), complete); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func loadVerifier(dir, key string) (note.Verifiers, string, error) {
	if key == "" {
		b, err := os.ReadFile(filepath.Join(dir, PubName))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("no verifier key: %s is missing; pass the store's key with --key", filepath.Join(dir, PubName))
		}
		if err != nil {
			return nil, "", fmt.Errorf("read verifier key: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	var vs []note.Verifier
	for k := range strings.FieldsSeq(key) {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, "", fmt.Errorf("verifier key %q: %w", k, err)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, "", errors.New("no verifier key given")
	}
	return note.VerifierList(vs...), strings.Join(strings.Fields(key), " "), nil
}

// readCheckpoints verifies every stored checkpoint and indexes them by size.
func readCheckpoints(dir string, verifiers note.Verifiers) (map[uint64]Checkpoint, error) {
	cps := map[uint64]Checkpoint{}
	path := filepath.Join(dir, checkpointsName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return cps, nil
	}
	err := scanLines(path, func(n int, line []byte, complete bool) error {
		if !complete {
			return nil // a checkpoint torn by a crash vouches for nothing
		}
		cp, err := openCheckpoint(line, verifiers)
		if err != nil {
			return &ChainError{Segment: checkpointsName, Line: n, Reason: "checkpoint does not verify: " + err.Error()}
		}
		if old, ok := cps[cp.Size]; ok && old.Head != cp.Head {
			return &ChainError{Segment: checkpointsName, Line: n, Seq: cp.Size, Reason: "two signed checkpoints disagree about the same record (history was rewritten)"}
		}
		cps[cp.Size] = cp
		return nil
	})
	return cps, err
}
