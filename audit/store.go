package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Options configure a Store. The zero value logs every call, rotates
// segments at 64 MiB or 24 hours and signs a checkpoint every 1,000 records
// with the key in the store.
type Options struct {
	// Logging is always, header_controlled or never (see ApplyLogging).
	Logging string
	// MaxSegmentBytes starts a new segment once the current one is this
	// large (default 64 MiB).
	MaxSegmentBytes int64
	// MaxSegmentAge starts a new segment once the current one's first
	// record is this old (default 24h; negative: never by age).
	MaxSegmentAge time.Duration
	// KeyPath is the ed25519 signing key (default DIR/signing.key, created
	// with mode 0600 on first use). A key named here must exist: a managed
	// key lives where the store's owner cannot replace it.
	KeyPath string
	// CheckpointEvery signs a checkpoint whenever the chain crosses a
	// multiple of this many records (default 1,000), and on Close.
	CheckpointEvery uint64
	// CheckpointInterval also signs one when records have waited this long
	// without a checkpoint, after a batch or while the writer is idle
	// (default 0: only by count and on Close). It bounds how long a record
	// stays unwitnessed.
	CheckpointInterval time.Duration
	// Witnesses receive every checkpoint the store signs, in the
	// background (see Witness).
	Witnesses []Witness
	// WitnessWait bounds how long Close waits for the witnesses to accept
	// the last checkpoint (default 5 s).
	WitnessWait time.Duration
	// WitnessRetry is the pause before retry attempt n of a failed
	// delivery (default 1 s doubling to a minute).
	WitnessRetry func(attempt int) time.Duration
	// Warn reports problems that do not stop the store, such as a witness
	// that cannot be reached (default: dropped).
	Warn func(msg string)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxBatch bounds how many appends share one write and fsync
	// (default 1,024).
	MaxBatch int
	// Durability says when Append returns: DurabilityFsync (the default)
	// after the batch is fsynced; DurabilityWrite after it is written to
	// the OS — it survives a crash of mcpgov and kill -9, and is fsynced
	// within SyncWindow, so a power loss can lose only what that fsync had
	// not covered yet. Every record names the mode it was appended under.
	Durability string
	// SyncWindow bounds, in write durability, how long a written record
	// waits for its fsync (DefaultSyncWindow when 0): the records written
	// within one window share one fsync, which then costs the machine
	// once per window instead of once per call.
	SyncWindow time.Duration

	createKey bool // KeyPath is the default one in the store
}

func (o *Options) fill(dir string) error {
	if err := validLogging(o.Logging); err != nil {
		return err
	}
	if o.Logging == "" {
		o.Logging = LoggingAlways
	}
	if o.MaxSegmentBytes <= 0 {
		o.MaxSegmentBytes = 64 << 20
	}
	if o.MaxSegmentAge == 0 {
		o.MaxSegmentAge = 24 * time.Hour
	}
	if o.KeyPath == "" {
		o.KeyPath = filepath.Join(dir, KeyName)
		o.createKey = true
	}
	if o.WitnessWait <= 0 {
		o.WitnessWait = 5 * time.Second
	}
	if o.WitnessRetry == nil {
		o.WitnessRetry = defaultRetry
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.SyncWindow <= 0 {
		o.SyncWindow = DefaultSyncWindow
	}
	switch o.Durability {
	case "":
		o.Durability = DurabilityFsync
	case DurabilityFsync, DurabilityWrite:
	default:
		return fmt.Errorf("audit durability %q: want fsync or write", o.Durability)
	}
	return nil
}

// segmentFile is what the store needs of a segment; tests substitute one
// that fails like a full disk.
type segmentFile interface {
	Write([]byte) (int, error)
	Sync() error
	Stat() (os.FileInfo, error)
	Truncate(int64) error
	Close() error
}

// Store is a local audit store: a directory of append-only JSONL segments
// chained by SHA-256 and sealed by signed checkpoints. One goroutine writes;
// concurrent Appends share one write and one fsync (group commit). Several
// processes may open the same directory: each batch is written under an
// exclusive file lock after catching up with what the others appended, so
// they all extend one chain.
type Store struct {
	dir  string
	opts Options

	// The append queue: the first caller to find no leader becomes the
	// leader and commits batches on its own goroutine until the queue is
	// empty (leader-based group commit: a lone call wakes no writer
	// thread); the others wait for their batch's result.
	qmu     sync.Mutex
	qcond   *sync.Cond // signalled when leading ends
	queue   []*pending
	leading bool
	closed  bool

	// commitMu is held by whoever writes: the leader, the background
	// goroutine (timed checkpoints, write-mode fsync), Close.
	commitMu sync.Mutex
	bgKick   chan struct{} // records wait for an fsync or a timed checkpoint
	bgStop   chan struct{}
	bgDone   chan struct{}
	dirty    bool // write durability: written since the last fsync

	// Owned by the holder of commitMu (and by Open before it returns).
	lock    *os.File
	seg     segmentFile
	segNum  int
	segSize int64
	// reservedTo is the offset of the current segment up to which space
	// is allocated (reserve); zero when a segment is opened or truncated.
	reservedTo int64
	// The current and next segment's paths, for catchUp's stats (segPath
	// of pathNum and pathNum+1).
	pathNum           int
	pathCur, pathNext string
	segStart          time.Time // time of the segment's first record; zero when empty
	seq               uint64
	prev              string // hex hash of the last line
	signer            note.Signer
	vkey              string // the signer's verifier key
	id                string // the store's identity for witnesses
	senders           []*sender
	signedAt          uint64    // last seq this process checkpointed
	signedT           time.Time // when this process last checkpointed
	wrote             bool
	failed            error                 // sticky: a failed fsync leaves the file's state unknown
	health            atomic.Pointer[error] // the last batch's store error, for Healthy
	buf               []byte
	open              func(path string, flag int) (segmentFile, error)
}

type pending struct {
	rec  *Record
	done chan error
}

// Durability modes (Options.Durability).
const (
	DurabilityFsync = "fsync"
	DurabilityWrite = "write"
)

// DefaultSyncWindow is the write-durability fsync window: at most what a
// power loss may take of the records written (DESIGN §5: at most 10 ms).
const DefaultSyncWindow = 5 * time.Millisecond

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit store is closed")

// Open opens (creating it 0700 if needed) the store in dir and starts its
// writer. It fails when dir cannot be created or written, so the shim can
// refuse to run calls unrecorded.
func Open(dir string, opts Options) (*Store, error) {
	return openStore(dir, opts, func(path string, flag int) (segmentFile, error) {
		return os.OpenFile(path, flag, 0o600)
	})
}

func openStore(dir string, opts Options, open func(string, int) (segmentFile, error)) (*Store, error) {
	if err := opts.fill(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create audit dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit dir %s is not writable: %w", dir, err)
	}
	s := &Store{dir: dir, opts: opts, lock: lock, open: open,
		bgKick: make(chan struct{}, 1), bgStop: make(chan struct{}), bgDone: make(chan struct{})}
	s.qcond = sync.NewCond(&s.qmu)
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock audit dir %s: %w", dir, err)
	}
	err = s.catchUp()
	if err == nil {
		s.signer, s.vkey, err = loadOrCreateKey(opts.KeyPath, filepath.Join(dir, PubName), opts.createKey)
	}
	if err == nil && len(opts.Witnesses) > 0 {
		s.id, err = loadOrCreateStoreID(dir)
	}
	if err == nil {
		for _, w := range opts.Witnesses {
			snd := newSender(dir, w, opts.Warn, opts.WitnessRetry)
			if it := snd.undelivered(dir, s.id, s.vkey); it != nil {
				snd.offer(*it)
			}
			s.senders = append(s.senders, snd)
		}
	}
	if err == nil && s.seg != nil {
		s.reserve()
	}
	_ = unlockFile(lock)
	if err != nil {
		if s.seg != nil {
			s.seg.Close()
		}
		lock.Close()
		return nil, err
	}
	go s.background()
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// ID is the store's identity at its witnesses ("" without witnesses).
func (s *Store) ID() string { return s.id }

// Append stores rec durably: it fills Version, ID, Time (when zero), Seq
// and Prev, applies the logging mode, and returns once the record's batch
// is written and fsynced, or with the error that prevented it (a full disk,
// an unwritable directory). A caller must not release a reply before
// Append returns nil.
func (s *Store) Append(ctx context.Context, rec *Record) error {
	if rec == nil {
		return errors.New("append: nil record")
	}
	ApplyLogging(rec, s.opts.Logging)
	rec.Version = SchemaVersion
	if rec.ID == "" {
		rec.ID = newID()
	}
	if rec.Time.IsZero() {
		rec.Time = s.opts.Now().UTC()
	}
	rec.Durability = s.opts.Durability
	p := &pending{rec: rec, done: make(chan error, 1)}
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return ErrClosed
	}
	s.queue = append(s.queue, p)
	if s.leading {
		s.qmu.Unlock()
		select {
		case err := <-p.done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.leading = true
	s.lead()
	return <-p.done
}

// lead commits batches from the queue until it is empty; s.qmu is held on
// entry and released on return. Results go to each pending's done.
func (s *Store) lead() {
	for len(s.queue) > 0 {
		n := min(len(s.queue), s.opts.MaxBatch)
		batch := s.queue[:n:n]
		s.queue = s.queue[n:]
		s.qmu.Unlock()
		s.commitMu.Lock()
		errs := s.commit(batch)
		checkpointNow, kick := s.afterBatch()
		s.commitMu.Unlock()
		for i, p := range batch {
			p.done <- errs[i]
		}
		if checkpointNow {
			// Records have waited CheckpointInterval: sign them now, after
			// the batch's callers are released.
			s.commitMu.Lock()
			s.timedCheckpoint()
			s.commitMu.Unlock()
		}
		if kick {
			s.kickBackground()
		}
		s.qmu.Lock()
	}
	s.queue = nil
	s.leading = false
	s.qcond.Broadcast()
	s.qmu.Unlock()
}

// Close flushes pending appends, signs a checkpoint of the chain head and
// closes the store.
func (s *Store) Close() error {
	s.qmu.Lock()
	if s.closed {
		for s.leading {
			s.qcond.Wait()
		}
		s.qmu.Unlock()
		<-s.bgDone
		return nil
	}
	s.closed = true
	for s.leading { // the appends queued before Close are committed
		s.qcond.Wait()
	}
	s.qmu.Unlock()
	close(s.bgStop)
	<-s.bgDone
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	var err error
	if s.wrote && s.failed == nil {
		err = s.withLock(func() error {
			if err := s.catchUp(); err != nil {
				return err
			}
			if s.seq > 0 && s.seq != s.signedAt {
				return s.checkpoint()
			}
			return nil
		})
	}
	if s.seg != nil {
		err = errors.Join(err, s.seg.Close())
	}
	err = errors.Join(err, s.lock.Close())
	// The witnesses get the final checkpoint in parallel, each within
	// WitnessWait; one that does not is warned about, not failed: the
	// trail itself is complete, and the next writer sends it.
	var wg sync.WaitGroup
	for _, snd := range s.senders {
		wg.Go(func() {
			if werr := snd.close(s.opts.WitnessWait); werr != nil && s.opts.Warn != nil {
				s.opts.Warn(werr.Error())
			}
		})
	}
	wg.Wait()
	return err
}

// afterBatch says what the batch just committed still needs (commitMu
// is held): a timed checkpoint now (its records, or earlier ones, have
// waited CheckpointInterval), and whether to wake the background
// goroutine (an fsync in write durability, or a timer for a checkpoint
// due later).
func (s *Store) afterBatch() (checkpointNow, kick bool) {
	if s.failed != nil {
		return false, false
	}
	if iv := s.opts.CheckpointInterval; iv > 0 && s.seq > s.signedAt {
		if iv-s.opts.Now().Sub(s.signedT) <= 0 {
			checkpointNow = true
		} else {
			kick = true
		}
	}
	return checkpointNow, kick || s.dirty
}

func (s *Store) kickBackground() {
	select {
	case s.bgKick <- struct{}{}:
	default: // already woken
	}
}

// background fsyncs what write durability left unsynced, within
// SyncWindow of the first such write, and signs a checkpoint when records
// have waited CheckpointInterval, also while no call comes.
func (s *Store) background() {
	defer close(s.bgDone)
	var timer *time.Timer
	var timerC <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-s.bgStop:
			s.syncDirty()
			return
		case <-timerC:
			timerC = nil
			s.commitMu.Lock()
			s.timedCheckpoint()
			s.commitMu.Unlock()
			continue
		case <-s.bgKick:
		}
		s.awaitSyncWindow()
		s.syncDirty()
		if iv := s.opts.CheckpointInterval; iv > 0 && timerC == nil {
			s.commitMu.Lock()
			pending := s.failed == nil && s.seq > s.signedAt
			wait := iv - s.opts.Now().Sub(s.signedT)
			if pending && wait <= 0 {
				s.timedCheckpoint()
			}
			s.commitMu.Unlock()
			if pending && wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				timerC = timer.C
			}
		}
	}
}

// awaitSyncWindow lets the writes of one window gather before their
// fsync; Close ends the wait.
func (s *Store) awaitSyncWindow() {
	s.commitMu.Lock()
	dirty := s.dirty
	s.commitMu.Unlock()
	if !dirty {
		return
	}
	t := time.NewTimer(s.opts.SyncWindow)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.bgStop:
	}
}

// syncDirty fsyncs the segment written in write durability. The fsync
// runs outside commitMu, so the next batch's write does not wait for it;
// a segment rotated meanwhile was fsynced before it was closed.
func (s *Store) syncDirty() {
	s.commitMu.Lock()
	seg, dirty := s.seg, s.dirty
	s.dirty = false
	s.commitMu.Unlock()
	if !dirty || seg == nil {
		return
	}
	if err := seg.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		s.commitMu.Lock()
		if s.failed == nil {
			s.failed = fmt.Errorf("fsync audit trail: %w", err)
			s.health.Store(&s.failed)
		}
		s.commitMu.Unlock()
	}
}

// timedCheckpoint signs the records that waited CheckpointInterval, if any
// remain unsigned. A failure shows in Healthy like a failed batch.
func (s *Store) timedCheckpoint() {
	if s.failed != nil {
		return
	}
	err := s.withLock(func() error {
		if err := s.catchUp(); err != nil {
			return err
		}
		if s.seq > s.signedAt {
			return s.checkpoint()
		}
		return nil
	})
	if err != nil {
		s.health.Store(&err)
	}
}

func (s *Store) withLock(fn func() error) error {
	if err := lockFile(s.lock); err != nil {
		return fmt.Errorf("lock audit dir %s: %w", s.dir, err)
	}
	err := fn()
	if uerr := unlockFile(s.lock); err == nil && uerr != nil {
		err = fmt.Errorf("unlock audit dir %s: %w", s.dir, uerr)
	}
	return err
}

// commit writes one batch under the lock and returns each record's error.
func (s *Store) commit(batch []*pending) []error {
	errs := make([]error, len(batch))
	fail := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	if s.failed != nil {
		return fail(s.failed)
	}
	err := s.withLock(func() error {
		if err := s.catchUp(); err != nil {
			return err
		}
		now := s.opts.Now()
		if s.segSize >= s.opts.MaxSegmentBytes ||
			(s.opts.MaxSegmentAge > 0 && s.segSize > 0 && !s.segStart.IsZero() && now.Sub(s.segStart) >= s.opts.MaxSegmentAge) {
			if err := s.rotate(); err != nil {
				return err
			}
		}
		seq0, prev0, size0 := s.seq, s.prev, s.segSize
		buf := s.buf[:0]
		first := time.Time{}
		for i, p := range batch {
			p.rec.Seq, p.rec.Prev = s.seq+1, s.prev
			start := len(buf)
			var err error
			if buf, err = appendRecord(buf, p.rec); err != nil {
				errs[i] = fmt.Errorf("encode audit record: %w", err)
				p.rec.Seq, p.rec.Prev = 0, ""
				continue
			}
			s.seq++
			sum := sha256.Sum256(buf[start:])
			s.prev = hex.EncodeToString(sum[:])
			if first.IsZero() {
				first = p.rec.Time
			}
			buf = append(buf, '\n')
		}
		s.buf = buf
		if len(buf) == 0 {
			return nil
		}
		n, err := s.seg.Write(buf)
		s.segSize += int64(n)
		if err != nil {
			// Take back the partial batch so the chain stays whole; the
			// next batch may succeed once space is freed.
			s.seq, s.prev = seq0, prev0
			s.reservedTo = 0 // a truncate may free what was reserved past the end
			if terr := s.seg.Truncate(size0); terr != nil {
				s.failed = fmt.Errorf("audit segment %s: write failed (%v) and could not be undone: %w", s.segPath(s.segNum), err, terr)
				return s.failed
			}
			s.segSize = size0
			return fmt.Errorf("append to audit trail: %w", err) // err names the segment
		}
		if s.opts.Durability == DurabilityWrite {
			// Released after the write: it survives a crash of mcpgov;
			// the background goroutine fsyncs at once.
			s.dirty = true
		} else if err := s.seg.Sync(); err != nil {
			s.failed = fmt.Errorf("append to audit trail: %w", err) // err names the segment
			return s.failed
		}
		s.wrote = true
		if s.segStart.IsZero() {
			s.segStart = first
		}
		if s.seq/s.opts.CheckpointEvery > seq0/s.opts.CheckpointEvery {
			return s.checkpoint()
		}
		return nil
	})
	if err != nil {
		s.health.Store(&err)
		return fail(err)
	}
	s.health.Store(nil)
	s.reserve()
	return errs
}

// MayBlock reports whether Append waits for the disk (durability fsync):
// the engine then records while another goroutine reads. In write
// durability an Append is a write to the OS.
func (s *Store) MayBlock() bool { return s.opts.Durability == DurabilityFsync }

// Healthy reports the error of the last batch the store could not write
// (a full disk, a failed fsync), or that the space for the next records
// could not be reserved (see reserveBytes), or nil once a batch succeeded
// and the space is reserved again. The
// enforcement core asks before running a call, so in enforce mode a call
// is refused rather than run when its record could not be kept.
func (s *Store) Healthy() error {
	if p := s.health.Load(); p != nil {
		return *p
	}
	return nil
}

// checkpoint appends a signed checkpoint of the current head and hands it
// to the witnesses.
func (s *Store) checkpoint() error {
	// A checkpoint vouches for the records before it: they are on disk
	// first, whatever the durability mode.
	if err := s.syncSegment(); err != nil {
		return err
	}
	now := s.opts.Now()
	line, msg, err := signCheckpoint(s.signer, s.seq, s.prev, now)
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, checkpointsName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	s.signedAt, s.signedT = s.seq, now
	for _, snd := range s.senders {
		snd.offer(sendItem{entry: WitnessEntry{Store: s.id, Key: s.vkey, Note: msg}, seq: s.seq, head: s.prev})
	}
	return nil
}

// syncSegment fsyncs what write durability left unsynced in the current
// segment; commitMu is held.
func (s *Store) syncSegment() error {
	if !s.dirty || s.seg == nil {
		return nil
	}
	if err := s.seg.Sync(); err != nil {
		s.failed = fmt.Errorf("fsync audit trail: %w", err)
		return s.failed
	}
	s.dirty = false
	return nil
}

// rotate seals the current segment and starts the next one.
func (s *Store) rotate() error {
	next := s.segNum + 1
	f, err := s.open(s.segPath(next), os.O_CREATE|os.O_EXCL|os.O_RDWR|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("create audit segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return fmt.Errorf("fsync audit dir %s: %w", s.dir, err)
	}
	if err := s.syncSegment(); err != nil {
		f.Close()
		return err
	}
	if s.seg != nil {
		s.seg.Close()
	}
	s.seg, s.segNum, s.segSize, s.segStart, s.reservedTo = f, next, 0, time.Time{}, 0
	return nil
}

func (s *Store) segPath(n int) string { return filepath.Join(s.dir, SegmentName(n)) }

// newID returns a random 128-bit record ID in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
