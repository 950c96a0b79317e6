package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

// A sender delivers a store's newest checkpoint to one witness, off the
// call path: the writer hands it over without waiting, and the sender
// retries until the witness accepts it. Only the newest undelivered
// checkpoint matters: each record carries the hash of the one before, so a
// witnessed head at seq N vouches for every record up to N. What the
// witness accepted is kept in a cursor file, and a store opened later sends
// a checkpoint the last process could not deliver (at least once).
type sender struct {
	w      Witness
	cursor string
	warn   func(string)
	retry  func(attempt int) time.Duration

	mu        sync.Mutex
	pending   *sendItem     // newest checkpoint not yet accepted
	changed   chan struct{} // closed and replaced whenever pending is delivered
	lastErr   error
	kick      chan struct{} // cap 1: a new pending checkpoint
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	attemptTO time.Duration
}

type sendItem struct {
	entry WitnessEntry
	seq   uint64
	head  string
}

// witnessCursor is what a witness last accepted from this store.
type witnessCursor struct {
	Witness string `json:"witness"`
	Seq     uint64 `json:"seq"`
	Head    string `json:"head"`
}

func newSender(dir string, w Witness, warn func(string), retry func(int) time.Duration) *sender {
	sum := sha256.Sum256([]byte(w.String()))
	ctx, cancel := context.WithCancel(context.Background())
	s := &sender{
		w:         w,
		cursor:    filepath.Join(dir, "witness-"+hex.EncodeToString(sum[:6])+".cursor"),
		warn:      warn,
		retry:     retry,
		changed:   make(chan struct{}),
		kick:      make(chan struct{}, 1),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		attemptTO: 10 * time.Second,
	}
	go s.loop()
	return s
}

// readCursor returns what the witness last accepted (zero: nothing).
func (s *sender) readCursor() witnessCursor {
	b, err := os.ReadFile(s.cursor)
	if err != nil {
		return witnessCursor{}
	}
	var c witnessCursor
	if decodeExact(b, &c) != nil || c.Witness != s.w.String() {
		return witnessCursor{} // unreadable: sending again is harmless
	}
	return c
}

// offer makes it the checkpoint to deliver next, unless a newer one waits.
// It never blocks.
func (s *sender) offer(it sendItem) {
	s.mu.Lock()
	if s.pending == nil || it.seq >= s.pending.seq {
		s.pending = &it
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *sender) loop() {
	defer close(s.done)
	attempt := 0
	for {
		s.mu.Lock()
		it := s.pending
		s.mu.Unlock()
		if it == nil {
			select {
			case <-s.kick:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.attemptTO)
		err := s.w.Submit(ctx, it.entry)
		cancel()
		if err == nil {
			s.delivered(it)
			attempt = 0
			continue
		}
		if s.ctx.Err() != nil {
			s.setErr(err)
			return
		}
		if attempt == 0 && s.warn != nil {
			s.warn(fmt.Sprintf("witness %s did not take the checkpoint of seq %d: %v; retrying in the background", s.w, it.seq, err))
		}
		s.setErr(err)
		t := time.NewTimer(s.retry(attempt))
		attempt++
		select {
		case <-t.C:
		case <-s.kick: // a newer checkpoint: try it now
			t.Stop()
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
}

func (s *sender) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

func (s *sender) delivered(it *sendItem) {
	b, _ := jsonv2.Marshal(witnessCursor{Witness: s.w.String(), Seq: it.seq, Head: it.head})
	if err := writeFileAtomic(s.cursor, append(b, '\n'), 0o600); err != nil && s.warn != nil {
		// The witness has it; the next start merely sends it again.
		s.warn(fmt.Sprintf("save witness cursor %s: %v", s.cursor, err))
	}
	s.mu.Lock()
	if s.pending == it {
		s.pending = nil
	}
	s.lastErr = nil
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// close waits up to wait for the pending checkpoint to be accepted, then
// stops the sender. The error names a checkpoint that was not delivered;
// the store's next writer sends it.
func (s *sender) close(wait time.Duration) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		it, changed, lastErr := s.pending, s.changed, s.lastErr
		s.mu.Unlock()
		if it == nil {
			break
		}
		select {
		case <-changed:
			continue
		case <-deadline.C:
			s.cancel()
			<-s.done
			if lastErr == nil {
				lastErr = errors.New("no answer in time")
			}
			return fmt.Errorf("the checkpoint of seq %d was not delivered to witness %s (%v); the next mcpgov that opens this audit trail sends it", it.seq, s.w, lastErr)
		}
	}
	s.cancel()
	<-s.done
	return nil
}

// writeFileAtomic writes through a uniquely named temporary file, so
// concurrent writers of the same file never mix their bytes.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// undelivered is the store's newest checkpoint when the witness has not
// accepted it yet (nil otherwise).
func (s *sender) undelivered(dir, store, vkey string) *sendItem {
	line, _, _, err := lastLine(filepath.Join(dir, checkpointsName))
	if err != nil || line == nil {
		if err != nil && !errors.Is(err, fs.ErrNotExist) && s.warn != nil {
			s.warn(fmt.Sprintf("read %s: %v", checkpointsName, err))
		}
		return nil
	}
	var stored struct {
		Note string `json:"note"`
	}
	if decodeExact(line, &stored) != nil {
		return nil
	}
	cp, err := openCheckpointNote(stored.Note, vkey)
	if err != nil {
		return nil // signed by an older key: sent, or not, by its writer
	}
	if c := s.readCursor(); c.Seq >= cp.Size {
		return nil
	}
	return &sendItem{entry: WitnessEntry{Store: store, Key: vkey, Note: cp.Note}, seq: cp.Size, head: cp.Head}
}

// defaultRetry backs off 1 s, 2 s, 4 s … up to a minute.
func defaultRetry(attempt int) time.Duration {
	return min(time.Second<<min(attempt, 6), time.Minute)
}
