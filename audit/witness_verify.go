package audit

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// WitnessSet is what one witness holds for a store, for Verify.
type WitnessSet struct {
	Witness string         // its name (path or URL), for messages
	Entries []WitnessEntry // from Witness.Checkpoints
}

// Kinds of WitnessFinding.
const (
	// FindingTruncated: the witness holds a checkpoint beyond the end of
	// the local chain; the newest records were removed.
	FindingTruncated = "truncated"
	// FindingForked: the local record at a witnessed seq hashes to
	// something else; the history was rewritten (and re-signed).
	FindingForked = "forked"
	// FindingRollback: the witness saw the chain shrink: a checkpoint
	// signed later than another covers fewer records. The trail was put
	// back to an earlier state and written on from there.
	FindingRollback = "rollback"
	// FindingRekeyed: the witness holds checkpoints of this store signed
	// by a key this verification does not trust.
	FindingRekeyed = "rekeyed"
)

// WitnessFinding is one way the local trail disagrees with a witness.
type WitnessFinding struct {
	Witness string `json:"witness"`
	Kind    string `json:"kind"`
	// Seq is the witnessed record the finding is about.
	Seq           uint64    `json:"seq,omitempty"`
	WitnessedHead string    `json:"witnessedHead,omitempty"`
	WitnessedTime time.Time `json:"witnessedTime,omitzero"`
	LocalHead     string    `json:"localHead,omitempty"`
	// Segment and Line locate the local record (or the chain's end).
	Segment string `json:"segment,omitempty"`
	Line    int    `json:"line,omitempty"`
	Reason  string `json:"reason"`
	Action  string `json:"action"`
}

// WitnessResult is how the local trail compares with one witness.
type WitnessResult struct {
	Witness string `json:"witness"`
	// Checkpoints counts the witnessed checkpoints signed by a trusted key.
	Checkpoints int `json:"checkpoints"`
	// Rejected counts entries that are not valid checkpoints of this store
	// at all (unsigned, malformed): they vouch for nothing.
	Rejected int `json:"rejected,omitempty"`
	// BeforeStart counts witnessed checkpoints older than a pruned chain's
	// first record, which cannot be compared.
	BeforeStart int `json:"beforeStart,omitempty"`
	// Matched is the highest witnessed seq the local chain agrees with
	// (0: none).
	Matched     uint64    `json:"matched"`
	MatchedTime time.Time `json:"matchedTime,omitzero"`
	// Unwitnessed counts the local records after Matched: what the owner
	// of this machine could still change or remove undetected.
	Unwitnessed uint64           `json:"unwitnessed"`
	Findings    []WitnessFinding `json:"findings,omitempty"`
}

// WitnessError reports that the local trail, although its own chain and
// checkpoints hold, disagrees with what a witness holds.
type WitnessError struct {
	Findings []WitnessFinding
}

func (e *WitnessError) Error() string {
	f := e.Findings[0]
	msg := fmt.Sprintf("witness %s: %s: %s", f.Witness, f.Kind, f.Reason)
	if n := len(e.Findings) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// localHash is a record's hash and place, for comparing with a witness.
type localHash struct {
	hash    string
	segment string
	line    int
}

// witnessCheck is one WitnessSet sorted out before the chain is scanned.
type witnessCheck struct {
	res     WitnessResult
	trusted []Checkpoint
	rekeyed []string // untrusted keys that signed entries, in order seen
	nRekey  int
}

func prepareWitness(set WitnessSet, store string, verifiers note.Verifiers, need map[uint64]bool) *witnessCheck {
	wc := &witnessCheck{res: WitnessResult{Witness: set.Witness}}
	for _, e := range set.Entries {
		if e.Store != store {
			wc.res.Rejected++
			continue
		}
		cp, err := parseCheckpoint(e.Note, verifiers)
		if err != nil {
			// Signed, but by a key we do not trust? Then the store was
			// re-keyed after the witness saw it; otherwise it is junk.
			if _, oerr := openCheckpointNote(e.Note, e.Key); oerr == nil {
				wc.nRekey++
				if !slices.Contains(wc.rekeyed, e.Key) {
					wc.rekeyed = append(wc.rekeyed, e.Key)
				}
			} else {
				wc.res.Rejected++
			}
			continue
		}
		wc.trusted = append(wc.trusted, cp)
		need[cp.Size] = true
	}
	wc.res.Checkpoints = len(wc.trusted)
	return wc
}

// judge compares the witnessed checkpoints with the local chain: hashes
// holds the local record hashes at the witnessed seqs, start the hash
// before the first record (genesis or a pruned chain's anchor), end the
// place of the last record.
func (wc *witnessCheck) judge(rep *VerifyReport, hashes map[uint64]localHash, start string, end localHash) {
	r := &wc.res
	add := func(f WitnessFinding) {
		f.Witness = r.Witness
		r.Findings = append(r.Findings, f)
	}
	var forks, beyond []Checkpoint
	for _, cp := range wc.trusted {
		var local string
		switch {
		case cp.Size+1 < rep.FirstSeq:
			r.BeforeStart++
			continue
		case cp.Size > rep.LastSeq:
			beyond = append(beyond, cp)
			continue
		case cp.Size+1 == rep.FirstSeq:
			local = start
		default:
			local = hashes[cp.Size].hash
		}
		if local != cp.Head {
			forks = append(forks, cp)
		} else if cp.Size >= r.Matched {
			r.Matched, r.MatchedTime = cp.Size, cp.Time
		}
	}
	if rep.LastSeq > r.Matched {
		r.Unwitnessed = rep.LastSeq - max(r.Matched, rep.FirstSeq-1)
	}
	if len(forks) > 0 {
		f := slices.MinFunc(forks, func(a, b Checkpoint) int { return cmpUint(a.Size, b.Size) })
		var agreed uint64
		for _, cp := range wc.trusted {
			if cp.Size < f.Size && cp.Size <= rep.LastSeq && cp.Size+1 >= rep.FirstSeq && !slices.ContainsFunc(forks, func(x Checkpoint) bool { return x.Size == cp.Size }) {
				agreed = max(agreed, cp.Size)
			}
		}
		at := hashes[f.Size]
		since := "no witnessed checkpoint agrees with this chain"
		if agreed > 0 {
			since = fmt.Sprintf("the chain still agrees with the witness at seq %d, so the change lies in %s", agreed, seqRange(agreed+1, f.Size, "", ""))
		}
		add(WitnessFinding{Kind: FindingForked, Seq: f.Size, WitnessedHead: f.Head, WitnessedTime: f.Time, LocalHead: at.hash,
			Segment: at.segment, Line: at.line,
			Reason: fmt.Sprintf("the witness holds a checkpoint of seq %d (head %s, signed %s) but the record at seq %d here (%s) hashes to %s: the history here is not the one the witness saw (rewritten and signed again, or an older copy put back and written on); %s",
				f.Size, shortHash(f.Head), stamp(f.Time), f.Size, place(at), shortHash(at.hash), since),
			Action: "treat this trail as rewritten: the witnessed head is the original; compare these records with a backup or the central copy, and keep the witness's entry as evidence"})
	}
	if len(beyond) > 0 {
		b := slices.MaxFunc(beyond, func(a, b Checkpoint) int { return cmpUint(a.Size, b.Size) })
		add(WitnessFinding{Kind: FindingTruncated, Seq: b.Size, WitnessedHead: b.Head, WitnessedTime: b.Time,
			Segment: end.segment, Line: end.line,
			Reason: fmt.Sprintf("the witness holds a checkpoint of seq %d (head %s, signed %s) but the chain here ends at seq %d (%s): %s removed (local checkpoints included), or the trail was put back to an older copy",
				b.Size, shortHash(b.Head), stamp(b.Time), rep.LastSeq, place(end), seqRange(rep.LastSeq+1, b.Size, "was", "were")),
			Action: fmt.Sprintf("recover %s from a backup or the central copy; the witnessed head shows which copy is genuine", seqRange(rep.LastSeq+1, b.Size, "", ""))})
	}
	byTime := slices.Clone(wc.trusted)
	slices.SortStableFunc(byTime, func(a, b Checkpoint) int { return a.Time.Compare(b.Time) })
	var high *Checkpoint
	for i := range byTime {
		cp := &byTime[i]
		if high != nil && cp.Size < high.Size && cp.Time.After(high.Time) {
			add(WitnessFinding{Kind: FindingRollback, Seq: high.Size, WitnessedHead: high.Head, WitnessedTime: high.Time,
				Reason: fmt.Sprintf("the witness holds a checkpoint of seq %d signed %s and one of seq %d signed later, %s: the trail was put back to an earlier state and written on from there",
					high.Size, stamp(high.Time), cp.Size, stamp(cp.Time)),
				Action: fmt.Sprintf("find out who restored the trail between %s and %s; the records up to seq %d that the witness saw are the original", stamp(high.Time), stamp(cp.Time), high.Size)})
			break
		}
		if high == nil || cp.Size > high.Size {
			high = cp
		}
	}
	if wc.nRekey > 0 {
		add(WitnessFinding{Kind: FindingRekeyed,
			Reason: fmt.Sprintf("the witness holds %s of this store signed by %s, a key this verification does not trust: the store's signing key was replaced after the witness saw them (was the history signed again with a new key?)",
				count(wc.nRekey, "checkpoint", "checkpoints"), strings.Join(wc.rekeyed, ", ")),
			Action: "if that is this store's earlier key, trust it too with --key \"OLD NEW\"; otherwise treat the trail as re-signed"})
	}
}

// seqRange names records a to b: "record seq 4 was", "records seq 4-9 were".
func seqRange(a, b uint64, one, many string) string {
	s := fmt.Sprintf("record seq %d %s", a, one)
	if a != b {
		s = fmt.Sprintf("records seq %d-%d %s", a, b, many)
	}
	return strings.TrimSpace(s)
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func place(h localHash) string {
	if h.line > 0 {
		return fmt.Sprintf("%s line %d", h.segment, h.line)
	}
	return h.segment
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
