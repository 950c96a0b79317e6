package objstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/mcpgov/mcpgov/audit"
)

// Kinds of Finding.
const (
	// FindingMissing: a range of records is absent between or before the
	// objects of a replica: an object was deleted.
	FindingMissing = "missing"
	// FindingTruncated: a checkpoint in the bucket vouches for records
	// beyond the last object: the newest objects were deleted.
	FindingTruncated = "truncated"
	// FindingEdited: a record's line does not hash to what the next record
	// or a checkpoint says, or its columns disagree with its line.
	FindingEdited = "edited"
	// FindingUnreadable: an object is not a records object of this layout.
	FindingUnreadable = "unreadable"
	// FindingUnsigned: a checkpoint object does not verify under the keys.
	FindingUnsigned = "unsigned"
	// FindingReplaced: a key of the layout has more than one version in a
	// versioned bucket. mcpgov writes each key once, so someone hid the
	// object shipped there (a delete marker) and wrote another.
	FindingReplaced = "replaced"
)

// Finding is one way the central copy does not hold.
type Finding struct {
	Replica  string `json:"replica"`
	Kind     string `json:"kind"`
	Object   string `json:"object,omitempty"`
	FirstSeq uint64 `json:"firstSeq,omitempty"`
	LastSeq  uint64 `json:"lastSeq,omitempty"`
	Reason   string `json:"reason"`
	Action   string `json:"action"`
}

// ReplicaReport is what Verify found for one replica.
type ReplicaReport struct {
	Replica     string `json:"replica"`
	Objects     int    `json:"objects"`
	Records     uint64 `json:"records"`
	FirstSeq    uint64 `json:"firstSeq"`
	LastSeq     uint64 `json:"lastSeq"`
	Checkpoints int    `json:"checkpoints"`
	// Matched is the highest checkpoint the central copy agrees with.
	Matched uint64 `json:"matched"`
	// Unwitnessed counts the records after Matched.
	Unwitnessed uint64 `json:"unwitnessed"`
}

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Location string          `json:"location"`
	Replicas []ReplicaReport `json:"replicas"`
	Findings []Finding       `json:"findings,omitempty"`
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Keys are the verifier keys checkpoints must be signed with
	// ("name+hash+key", space separated). Empty: the keys each replica
	// shipped beside its objects; pin them to detect a re-signed history.
	Keys string
	// Replicas limits the check to these replicas (empty: all).
	Replicas []string
}

// Verify checks the central copy: for each replica, its objects cover a
// contiguous run of seqs from 1, each record's line chains to the one
// before it across objects, each row's columns are those of its line, and
// every checkpoint in the bucket verifies and matches the record it
// vouches for, none beyond the last object. The error is for a bucket that
// cannot be read; what does not hold is in VerifyReport.Findings.
func Verify(ctx context.Context, b *Bucket, opts VerifyOptions) (*VerifyReport, error) {
	rep := &VerifyReport{Location: b.Location().String()}
	keys, err := b.List(ctx, "")
	if err != nil {
		return rep, err
	}
	objs := map[string][]recordsObject{}
	cps := map[string][]string{}
	pubs := map[string][]string{}
	for _, k := range keys {
		switch r := replicaOf(k); {
		case strings.HasPrefix(k, recordsDir):
			o, ok := parseRecordsKey(k)
			if !ok {
				if strings.HasSuffix(k, ".parquet") {
					rep.Findings = append(rep.Findings, Finding{Replica: r, Kind: FindingUnreadable, Object: k,
						Reason: "object name is not records/dt=DAY/replica=NAME/part-FIRST-LAST.parquet", Action: "find out who wrote it; mcpgov never does"})
				}
				continue
			}
			objs[o.Replica] = append(objs[o.Replica], o)
		case strings.HasPrefix(k, checkpointsDir) && r != "":
			cps[r] = append(cps[r], k)
		case strings.HasPrefix(k, keysDir) && r != "":
			pubs[r] = append(pubs[r], k)
		}
	}
	hist, err := b.Histories(ctx, "")
	if err != nil {
		return rep, err
	}
	for _, k := range slices.Sorted(maps.Keys(hist)) {
		h := hist[k]
		if h.Versions < 2 || !(strings.HasPrefix(k, recordsDir) || strings.HasPrefix(k, checkpointsDir) || strings.HasPrefix(k, keysDir)) {
			continue // a delete alone leaves a gap, reported below
		}
		rep.Findings = append(rep.Findings, Finding{Replica: replicaOf(k), Kind: FindingReplaced, Object: k,
			Reason: fmt.Sprintf("object has %d versions and %d delete markers: mcpgov writes each key once, so what it shipped there was hidden and replaced", h.Versions, h.DeleteMarkers),
			Action: "compare the versions (the oldest is what was shipped), restore it, and find out who wrote the other"})
	}
	var names []string
	for n := range objs {
		names = append(names, n)
	}
	for n := range cps {
		names = append(names, n)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	sp, err := newSpool()
	if err != nil {
		return rep, err
	}
	defer sp.close()
	for _, name := range names {
		if len(opts.Replicas) > 0 && !slices.Contains(opts.Replicas, name) {
			continue
		}
		rr, findings, err := verifyReplica(ctx, b, sp, name, objs[name], cps[name], pubs[name], opts.Keys)
		if err != nil {
			return rep, err
		}
		rep.Replicas = append(rep.Replicas, rr)
		rep.Findings = append(rep.Findings, findings...)
	}
	return rep, nil
}

// chainState is what verifyReplica knows after a run of records.
type chainState struct {
	next  uint64 // the seq expected next
	prev  string // hash of the last line read ("" after a gap)
	heads map[uint64]string
}

func verifyReplica(ctx context.Context, b *Bucket, sp *spool, name string, objs []recordsObject, cpKeys, pubKeys []string, pinned string) (ReplicaReport, []Finding, error) {
	rr := ReplicaReport{Replica: name, Objects: len(objs)}
	var fs []Finding
	add := func(f Finding) { f.Replica = name; fs = append(fs, f) }
	slices.SortFunc(objs, func(a, c recordsObject) int { return cmp.Compare(a.First, c.First) })

	// The checkpoints first: which heads to remember.
	keys := pinned
	if keys == "" {
		var ks []string
		for _, k := range pubKeys {
			body, _, err := b.Get(ctx, k)
			if err != nil {
				return rr, nil, err
			}
			ks = append(ks, strings.Fields(string(body))...)
		}
		keys = strings.Join(ks, " ")
	}
	var checkpoints []audit.Checkpoint
	for _, k := range cpKeys {
		body, _, err := b.Get(ctx, k)
		if err != nil {
			return rr, nil, err
		}
		var e audit.WitnessEntry
		err = jsonv2.Unmarshal(body, &e, jsonv2.RejectUnknownMembers(true))
		var cp audit.Checkpoint
		if err == nil {
			cp, err = audit.OpenCheckpoint(e.Note, keys)
		}
		if err != nil {
			add(Finding{Kind: FindingUnsigned, Object: k, Reason: "checkpoint does not verify under the trusted keys: " + err.Error(),
				Action: "if the store was re-keyed, pin its new verifier key with --key; otherwise find out who wrote this object"})
			continue
		}
		checkpoints = append(checkpoints, cp)
	}
	rr.Checkpoints = len(checkpoints)
	st := chainState{next: 1, heads: map[uint64]string{}}
	want := map[uint64]bool{}
	for _, cp := range checkpoints {
		want[cp.Size] = true
	}
	if len(objs) > 0 {
		rr.FirstSeq = objs[0].First
	}
	for _, o := range objs {
		if o.First > st.next {
			add(Finding{Kind: FindingMissing, FirstSeq: st.next, LastSeq: o.First - 1,
				Reason: fmt.Sprintf("records seq %d-%d are not in the bucket: the object holding them was deleted", st.next, o.First-1),
				Action: "restore the object from a previous version or a backup (a bucket under Object Lock keeps it), and find out who deleted it"})
			st.prev = ""
		} else if o.First < st.next {
			add(Finding{Kind: FindingUnreadable, Object: o.Key, FirstSeq: o.First, LastSeq: o.Last,
				Reason: fmt.Sprintf("object overlaps records already read up to seq %d", st.next-1), Action: "find out who wrote it; mcpgov writes each seq once"})
			continue
		}
		f := verifyObject(ctx, b, sp, o, &st, want)
		if f != nil {
			add(*f)
			if f.Kind != FindingEdited {
				continue
			}
		}
		rr.Records += o.Last - o.First + 1
		rr.LastSeq = o.Last
	}
	var beyond *audit.Checkpoint
	for i, cp := range checkpoints {
		head, ok := st.heads[cp.Size]
		switch {
		case cp.Size > rr.LastSeq:
			if beyond == nil || cp.Size > beyond.Size {
				beyond = &checkpoints[i]
			}
		case !ok:
			// In a missing range: already reported.
		case head != cp.Head:
			add(Finding{Kind: FindingEdited, FirstSeq: cp.Size, LastSeq: cp.Size,
				Reason: fmt.Sprintf("record seq %d does not match its signed checkpoint of %s", cp.Size, cp.Time.UTC().Format("2006-01-02T15:04:05Z")),
				Action: "compare with the replica's local store (mcpgov audit verify there) and find out who rewrote the object"})
		default:
			rr.Matched = max(rr.Matched, cp.Size)
		}
	}
	if beyond != nil {
		// Checkpoints are shipped only after the records they cover.
		add(Finding{Kind: FindingTruncated, FirstSeq: rr.LastSeq + 1, LastSeq: beyond.Size,
			Reason: fmt.Sprintf("a checkpoint signed %s vouches for seq %d but the bucket's records end at seq %d: the newest objects were deleted", beyond.Time.UTC().Format("2006-01-02T15:04:05Z"), beyond.Size, rr.LastSeq),
			Action: "restore the deleted objects from previous versions or a backup, and find out who deleted them"})
	}
	if rr.LastSeq > rr.Matched {
		rr.Unwitnessed = rr.LastSeq - rr.Matched
	}
	return rr, fs, nil
}

// spool is where verification puts the object it reads: a Parquet file
// needs random access (its footer), and an object of any size is read
// from disk a batch of rows at a time rather than held in memory.
type spool struct{ f *os.File }

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "mcpgov-verify-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("spool file for the objects read: %w", err)
	}
	return &spool{f: f}, nil
}

func (s *spool) close() {
	_ = s.f.Close()
	_ = os.Remove(s.f.Name())
}

// fetch downloads the object at key into the spool, replacing the last.
func (s *spool) fetch(ctx context.Context, b *Bucket, key string) (int64, error) {
	if err := s.f.Truncate(0); err != nil {
		return 0, err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return b.Download(ctx, key, s.f)
}

// errEdited stops the row loop of verifyObject at a finding.
type errEdited struct{ f *Finding }

func (e errEdited) Error() string { return e.f.Reason }

// verifyObject reads one records object, streamed through sp, and checks
// its chain from st.
func verifyObject(ctx context.Context, b *Bucket, sp *spool, o recordsObject, st *chainState, want map[uint64]bool) *Finding {
	size, err := sp.fetch(ctx, b, o.Key)
	if err != nil {
		return &Finding{Kind: FindingUnreadable, Object: o.Key, FirstSeq: o.First, LastSeq: o.Last, Reason: err.Error(), Action: "check the bucket's permissions and run again"}
	}
	edited := func(seq uint64, why string) error {
		st.next, st.prev = o.Last+1, ""
		return errEdited{&Finding{Kind: FindingEdited, Object: o.Key, FirstSeq: seq, LastSeq: seq, Reason: fmt.Sprintf("record seq %d: %s", seq, why),
			Action: "compare with the replica's local store (mcpgov audit verify there) and find out who rewrote the object"}}
	}
	count := func(n int64) error {
		if uint64(n) != o.Last-o.First+1 {
			return edited(o.First, fmt.Sprintf("the object holds %d rows for seq %d-%d", n, o.First, o.Last))
		}
		return nil
	}
	seq := o.First
	check := func(row Row) error {
		defer func() { seq++ }()
		var r audit.Record
		if err := json.Unmarshal([]byte(row.Line), &r); err != nil {
			return edited(seq, "its line is not a record: "+err.Error())
		}
		if r.Seq != seq || uint64(row.Seq) != seq {
			return edited(seq, fmt.Sprintf("found seq %d (column %d) where seq %d belongs", r.Seq, row.Seq, seq))
		}
		if seq == 1 && r.Prev != strings.Repeat("0", 64) {
			return edited(seq, "the first record does not start a chain")
		}
		if st.prev != "" && r.Prev != st.prev {
			return edited(seq-1, fmt.Sprintf("its line no longer hashes to the prev of seq %d", seq))
		}
		if !sameRow(audit.NewParquetRow(&r), row.ParquetRow) {
			return edited(seq, "its columns differ from its line")
		}
		st.prev = audit.HashLine([]byte(row.Line))
		if want[seq] {
			st.heads[seq] = st.prev
		}
		return nil
	}
	if _, err := eachRow(sp.f, size, count, check); err != nil {
		var ee errEdited
		if errors.As(err, &ee) {
			return ee.f
		}
		return &Finding{Kind: FindingUnreadable, Object: o.Key, FirstSeq: o.First, LastSeq: o.Last, Reason: "not a Parquet records object: " + err.Error(),
			Action: "restore the object from a previous version or a backup"}
	}
	st.next = o.Last + 1
	return nil
}

// sameRow compares rows as Parquet stores them (empty lists read back as
// nil, times in microseconds).
func sameRow(a, b audit.ParquetRow) bool {
	norm := func(r audit.ParquetRow) audit.ParquetRow {
		r.Time = r.Time.UTC().Truncate(1000)
		for _, l := range []*[]string{&r.IdentityGroups, &r.Reasons, &r.RuleIDs} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		if len(r.Guardrails) == 0 {
			r.Guardrails = nil
		}
		return r
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
