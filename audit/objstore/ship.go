package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/mcpgov/mcpgov/audit"
)

// Shipper copies one local store to a Bucket, at least once, driven by a
// cursor kept in the store. Before each upload the cursor records the
// range it is about to send (the intent); after the bucket accepted it,
// the cursor moves past it. A crash in between re-sends exactly that range
// under the same key, which the bucket refuses as existing; the object is
// then recognised by its metadata (same range, same chain head) and the
// cursor moves on, so nothing is lost and nothing is stored twice.
type Shipper struct {
	Dir     string // the local store
	Replica string // names this store in object keys (one store per name)
	Bucket  *Bucket
	// Batch caps the records per object (default 50000); an object also
	// ends where the UTC day changes.
	Batch int
	// Retain, when set, writes each object under this Object Lock
	// retention from the time of upload; otherwise the bucket's default
	// retention applies.
	Retain      time.Duration
	RetainYears int    // added to Retain, as calendar years
	RetainMode  string // COMPLIANCE (default) or GOVERNANCE
	Version     string // written as the Parquet files' created_by
	Now         func() time.Time
}

// ShipReport says what one Ship pass did.
type ShipReport struct {
	Location    string `json:"location"`
	Replica     string `json:"replica"`
	Objects     int    `json:"objects"`     // records objects written
	Records     int    `json:"records"`     // records in them
	Recognised  int    `json:"recognised"`  // objects found already written by an interrupted pass
	Checkpoints int    `json:"checkpoints"` // checkpoints written
	Cursor      uint64 `json:"cursor"`      // last seq the bucket holds
	Lock        string `json:"objectLock"`  // the bucket's Object Lock, as read
	// Retained is true when every object written is under a retention:
	// the bucket's default one, or the Shipper's own.
	Retained bool `json:"retained"`
}

// cursor is the shipping state kept in the store.
type cursor struct {
	Target      string   `json:"target"`
	Replica     string   `json:"replica"`
	Seq         uint64   `json:"seq"`
	Pending     *pending `json:"pending,omitempty"`
	Checkpoints int64    `json:"checkpoints"` // offset in checkpoints.log read up to
	Keys        string   `json:"keys,omitempty"`
}

// pending is a range about to be uploaded.
type pending struct {
	Key   string `json:"key"`
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

func (s *Shipper) target() string { return s.Bucket.Location().String() + "#" + s.Replica }

func (s *Shipper) cursorPath() string {
	sum := sha256.Sum256([]byte(s.target()))
	return filepath.Join(s.Dir, "objstore-"+hex.EncodeToString(sum[:6])+".cursor")
}

// Cursor is the last seq the bucket holds for this store (0: none yet).
func (s *Shipper) Cursor() (uint64, error) {
	c, err := s.readCursor()
	return c.Seq, err
}

func (s *Shipper) readCursor() (cursor, error) {
	c := cursor{Target: s.target(), Replica: s.Replica}
	b, err := os.ReadFile(s.cursorPath())
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read ship cursor: %w", err)
	}
	if err := jsonv2.Unmarshal(b, &c, jsonv2.RejectUnknownMembers(true)); err != nil {
		return c, fmt.Errorf("ship cursor %s: %w", s.cursorPath(), err)
	}
	if c.Target != s.target() {
		return c, fmt.Errorf("ship cursor %s is for %s, not %s", s.cursorPath(), c.Target, s.target())
	}
	return c, nil
}

func (s *Shipper) saveCursor(c cursor) error {
	b, _ := json.Marshal(c)
	if err := audit.WriteFileAtomic(s.cursorPath(), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save ship cursor: %w", err)
	}
	return nil
}

func (s *Shipper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Ship uploads every record after the cursor, then the checkpoints those
// records cover and the store's verifier keys. It stops at the first
// failure with the cursor at the last range the bucket accepted.
func (s *Shipper) Ship(ctx context.Context) (*ShipReport, error) {
	if err := ValidReplica(s.Replica); err != nil {
		return nil, err
	}
	rep := &ShipReport{Location: s.Bucket.Location().String(), Replica: s.Replica}
	lock, err := s.Bucket.Lock(ctx)
	if err != nil {
		return rep, err
	}
	rep.Lock = lock.String()
	rep.Retained = lock.Enabled && (lock.Mode != "" || s.retention() != nil)
	c, err := s.readCursor()
	if err != nil {
		return rep, err
	}
	rep.Cursor = c.Seq
	store, err := audit.StoreID(s.Dir)
	if err != nil {
		return rep, err
	}
	if c.Pending != nil {
		if err := s.upload(ctx, &c, store, rep, nil); err != nil {
			return rep, err
		}
	}
	for {
		rows, day, err := s.collect(c.Seq, 0)
		if err != nil {
			return rep, err
		}
		if len(rows) == 0 {
			break
		}
		first, last := uint64(rows[0].Seq), uint64(rows[len(rows)-1].Seq)
		c.Pending = &pending{Key: recordsKey(day, s.Replica, first, last), First: first, Last: last}
		if err := s.saveCursor(c); err != nil {
			return rep, err
		}
		if err := s.upload(ctx, &c, store, rep, rows); err != nil {
			return rep, err
		}
	}
	if err := s.shipKeys(ctx, &c); err != nil {
		return rep, err
	}
	return rep, s.shipCheckpoints(ctx, &c, rep)
}

// collect reads the records after seq, up to Batch and within one UTC
// day; with last > 0, exactly the records up to last.
func (s *Shipper) collect(after, last uint64) ([]Row, time.Time, error) {
	limit := s.Batch
	if limit <= 0 {
		limit = 50_000
	}
	var rows []Row
	var day time.Time
	err := audit.Records(s.Dir, audit.Filter{AfterSeq: after}, func(r *audit.Record, line []byte) error {
		d := r.Time.UTC().Truncate(24 * time.Hour)
		if last == 0 {
			if len(rows) >= limit || (len(rows) > 0 && !d.Equal(day)) {
				return audit.ErrStop
			}
		} else if r.Seq > last {
			return audit.ErrStop
		}
		if len(rows) == 0 {
			if r.Seq != after+1 && after > 0 {
				return fmt.Errorf("record seq %d follows the ship cursor at seq %d: records %d-%d are gone from the store (pruned before they were shipped?)", r.Seq, after, after+1, r.Seq-1)
			}
			day = d
		}
		rows = append(rows, Row{ParquetRow: audit.NewParquetRow(r), Line: string(line)})
		return nil
	})
	if err != nil && !errors.Is(err, audit.ErrStop) {
		return nil, day, fmt.Errorf("read audit store %s: %w", s.Dir, err)
	}
	if last > 0 && (len(rows) == 0 || uint64(rows[len(rows)-1].Seq) != last) {
		return nil, day, fmt.Errorf("records %d-%d, about to be shipped, are no longer all in the store", after+1, last)
	}
	return rows, day, nil
}

// upload sends c.Pending (rows, or read again from the store when nil:
// an interrupted pass) and moves the cursor past it.
func (s *Shipper) upload(ctx context.Context, c *cursor, store string, rep *ShipReport, rows []Row) error {
	p := c.Pending
	if rows == nil {
		var err error
		if rows, _, err = s.collect(p.First-1, p.Last); err != nil {
			return err
		}
	}
	body, err := encodeRows(rows, s.Replica, store, s.Version)
	if err != nil {
		return err
	}
	head := audit.HashLine([]byte(rows[len(rows)-1].Line))
	meta := map[string]string{metaFirst: strconv.FormatUint(p.First, 10), metaLast: strconv.FormatUint(p.Last, 10), metaHead: head, metaStore: store}
	err = s.Bucket.Create(ctx, p.Key, body, meta, s.retention())
	switch {
	case errors.Is(err, ErrExists):
		got, herr := s.Bucket.Head(ctx, p.Key)
		if herr != nil {
			return herr
		}
		if got[metaHead] != head || got[metaLast] != meta[metaLast] {
			return fmt.Errorf("object %s already holds other records than seq %d-%d of this store: is replica name %q used by another store?", p.Key, p.First, p.Last, s.Replica)
		}
		rep.Recognised++
	case err != nil:
		return err
	default:
		rep.Objects++
		rep.Records += len(rows)
	}
	c.Seq, c.Pending = p.Last, nil
	rep.Cursor = c.Seq
	return s.saveCursor(*c)
}

func (s *Shipper) retention() *Retention {
	if s.Retain <= 0 && s.RetainYears <= 0 {
		return nil
	}
	mode := strings.ToUpper(s.RetainMode)
	if mode == "" {
		mode = "COMPLIANCE"
	}
	return &Retention{Mode: mode, Until: s.now().AddDate(s.RetainYears, 0, 0).Add(s.Retain).UTC()}
}

// shipKeys writes the store's verifier keys once each, so that the central
// copy can be checked without the machine that wrote it.
func (s *Shipper) shipKeys(ctx context.Context, c *cursor) error {
	b, err := os.ReadFile(filepath.Join(s.Dir, audit.PubName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read verifier keys: %w", err)
	}
	sum := sha256.Sum256(b)
	if c.Keys == hex.EncodeToString(sum[:]) {
		return nil
	}
	for _, k := range strings.Fields(string(b)) {
		if err := s.Bucket.Create(ctx, keyKey(s.Replica, k), []byte(k+"\n"), nil, s.retention()); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
	}
	c.Keys = hex.EncodeToString(sum[:])
	return s.saveCursor(*c)
}

// shipCheckpoints writes the newest of the store's new checkpoints whose
// records the bucket holds. One is enough: the objects chain every record
// to the one before, so a checkpoint vouches for all records up to its
// size, and as it goes only after them, a checkpoint in the bucket beyond
// the last object means objects were removed. (Every checkpoint, one per
// few seconds, would be millions of objects a year for nothing more.)
func (s *Shipper) shipCheckpoints(ctx context.Context, c *cursor, rep *ShipReport) error {
	cps, end, err := audit.StoreCheckpoints(s.Dir, c.Checkpoints)
	if err != nil {
		return err
	}
	var newest *audit.WitnessEntry
	var newestCP audit.Checkpoint
	next := end
	for _, sc := range cps {
		if sc.Checkpoint.Size > c.Seq {
			next = prevEnd(cps, sc, c.Checkpoints) // read it again next pass
			break
		}
		newest, newestCP = &sc.Entry, sc.Checkpoint
	}
	if newest == nil {
		c.Checkpoints = next
		return s.saveCursor(*c)
	}
	body, _ := jsonv2.Marshal(newest)
	body = append(body, '\n')
	key := checkpointKey(s.Replica, newestCP)
	switch err := s.Bucket.Create(ctx, key, body, nil, s.retention()); {
	case errors.Is(err, ErrExists):
		old, _, gerr := s.Bucket.Get(ctx, key)
		if gerr != nil {
			return gerr
		}
		if !bytes.Equal(old, body) {
			return fmt.Errorf("object %s already holds another checkpoint: is replica name %q used by another store?", key, s.Replica)
		}
	case err != nil:
		return err
	default:
		rep.Checkpoints++
	}
	c.Checkpoints = next
	return s.saveCursor(*c)
}

// prevEnd is where the line of sc starts: the end of the checkpoint read
// before it, or from.
func prevEnd(cps []audit.StoredCheckpoint, sc audit.StoredCheckpoint, from int64) int64 {
	start := from
	for _, o := range cps {
		if o.End >= sc.End {
			break
		}
		start = o.End
	}
	return start
}
