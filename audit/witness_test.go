package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/audit/audittest"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

func record(i int) *audit.Record {
	return &audit.Record{
		Kind:      audit.KindToolCall,
		Identity:  audit.Identity{Subject: "alice", Method: "oidc"},
		Server:    audit.ServerRef{ID: "fake", Transport: "stdio"},
		Method:    "tools/call",
		Tool:      "echo",
		Outcome:   audit.OutcomeAllowed,
		Arguments: json.RawMessage(fmt.Sprintf(`{"message":"call %d"}`, i)),
		Decision:  audit.Decision{Allow: true, Enforced: true, Mode: "enforce"},
	}
}

// clock is a deterministic clock: each reading is a millisecond later.
func clock() func() time.Time {
	var n atomic.Int64
	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

// warnings collects Options.Warn messages.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) add(m string) { w.mu.Lock(); w.msgs = append(w.msgs, m); w.mu.Unlock() }
func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.msgs)
}

// write appends n records to the store in dir (opening it with opts and
// the witness) and closes it, which waits for the witness to take the
// last checkpoint.
func write(t *testing.T, dir string, w audit.Witness, n, from int, opts audit.Options) {
	t.Helper()
	opts.Witnesses = []audit.Witness{w}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = 50
	}
	if opts.MaxSegmentBytes == 0 {
		opts.MaxSegmentBytes = 8 << 10
	}
	var warns warnings
	opts.Warn = warns.add
	s, err := audit.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Append(context.Background(), record(from+i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if msgs := warns.all(); len(msgs) > 0 {
		t.Fatalf("warnings: %q", msgs)
	}
}

// verify checks dir against what w holds, as audit verify does.
func verify(t *testing.T, dir string, w audit.Witness, key string) (*audit.VerifyReport, error) {
	t.Helper()
	id, err := audit.StoreID(dir)
	if err != nil || id == "" {
		t.Fatalf("store id %q: %v", id, err)
	}
	entries, err := w.Checkpoints(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return audit.Verify(dir, audit.VerifyOptions{Key: key, Witnessed: []audit.WitnessSet{{Witness: w.String(), Entries: entries}}})
}

func findings(t *testing.T, err error) []audit.WitnessFinding {
	t.Helper()
	var we *audit.WitnessError
	if !errors.As(err, &we) {
		t.Fatalf("want a witness finding, got %v", err)
	}
	for _, f := range we.Findings {
		t.Logf("%s: %s\n  what to do: %s", f.Kind, f.Reason, f.Action)
	}
	return we.Findings
}

func kinds(fs []audit.WitnessFinding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

func pubKey(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, audit.PubName))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestWitnessCleanTrail(t *testing.T) {
	dir, wdir := t.TempDir(), t.TempDir()
	w := &audit.FileWitness{Path: wdir}
	write(t, dir, w, 120, 0, audit.Options{})
	rep, err := verify(t, dir, w, "")
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Witnesses[0]
	if r.Matched != 120 || r.Unwitnessed != 0 || r.Checkpoints == 0 || r.Rejected != 0 || len(r.Findings) != 0 {
		t.Fatalf("%+v", r)
	}
	if _, err := os.Stat(filepath.Join(wdir, rep.Store+".jsonl")); err != nil {
		t.Fatalf("a directory witness keeps one file per store: %v", err)
	}
}

// Deleting the newest records with their checkpoints leaves a store that
// verifies on its own; the witness still holds the checkpoint of the end.
func TestWitnessTruncation(t *testing.T) {
	dir, wfile := t.TempDir(), filepath.Join(t.TempDir(), "witness.jsonl")
	w := &audit.FileWitness{Path: wfile}
	write(t, dir, w, 200, 0, audit.Options{})
	if err := audittest.Truncate(dir, 30); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(dir, audit.VerifyOptions{}); err != nil {
		t.Fatalf("the truncated store no longer verifies on its own, so this test shows nothing: %v", err)
	}
	if _, err := audit.Verify(dir, audit.VerifyOptions{Key: pubKey(t, dir)}); err != nil {
		t.Fatal(err)
	}
	rep, err := verify(t, dir, w, "")
	fs := findings(t, err)
	if !slices.Equal(kinds(fs), []string{audit.FindingTruncated}) || fs[0].Seq != 200 || !strings.HasPrefix(fs[0].Segment, "audit-") ||
		!strings.Contains(fs[0].Reason, "ends at seq 170") || !strings.Contains(fs[0].Action, "seq 171-200") {
		t.Fatalf("%+v", fs)
	}
	if rep.Witnesses[0].Matched > 170 {
		t.Fatalf("matched %d", rep.Witnesses[0].Matched)
	}
}

// A history rewritten and signed again with the store's own signing.key
// verifies on its own, also against the pinned verifier key (--key); the
// witness shows the fork.
func TestWitnessResign(t *testing.T) {
	dir, wdir := t.TempDir(), t.TempDir()
	w := &audit.FileWitness{Path: wdir}
	write(t, dir, w, 200, 0, audit.Options{})
	pinned := pubKey(t, dir)
	skey, err := audittest.StoreKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = audittest.Resign(dir, skey, func(seq uint64, line []byte) []byte {
		if seq == 120 {
			return bytes.Replace(line, []byte(`"outcome":"allowed"`), []byte(`"outcome":"denied"`), 1)
		}
		return line
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", pinned} {
		if _, err := audit.Verify(dir, audit.VerifyOptions{Key: key}); err != nil {
			t.Fatalf("the re-signed store does not verify on its own (key %q), so this test shows nothing: %v", key, err)
		}
		rep, err := verify(t, dir, w, key)
		fs := findings(t, err)
		if !slices.Equal(kinds(fs), []string{audit.FindingForked}) || fs[0].Seq < 120 || fs[0].LocalHead == fs[0].WitnessedHead ||
			!strings.HasPrefix(fs[0].Segment, "audit-") || fs[0].Line == 0 {
			t.Fatalf("%+v", fs)
		}
		if m := rep.Witnesses[0].Matched; m >= 120 {
			t.Fatalf("the chain agrees with the witness up to seq %d, past the change at 120", m)
		}
	}
}

// A history signed again with a new key (signing.key and signing.pub
// replaced): the witness holds checkpoints under a key the store no longer
// lists.
func TestWitnessRekey(t *testing.T) {
	dir, wdir := t.TempDir(), t.TempDir()
	w := &audit.FileWitness{Path: wdir}
	write(t, dir, w, 120, 0, audit.Options{})
	pinned := pubKey(t, dir)
	skey, err := audittest.Rekey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := audittest.Resign(dir, skey, func(seq uint64, line []byte) []byte {
		if seq == 7 {
			return bytes.Replace(line, []byte(`"tool":"echo"`), []byte(`"tool":"ohce"`), 1)
		}
		return line
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(dir, audit.VerifyOptions{}); err != nil {
		t.Fatalf("re-keyed store: %v", err)
	}
	if _, err := audit.Verify(dir, audit.VerifyOptions{Key: pinned}); err == nil {
		t.Fatal("the pinned key accepted checkpoints of another key")
	}
	_, err = verify(t, dir, w, "")
	if fs := findings(t, err); !slices.Equal(kinds(fs), []string{audit.FindingRekeyed}) || !strings.Contains(fs[0].Reason, pinned) {
		t.Fatalf("%+v", fs)
	}
}

// The trail is put back to an older copy and written on: the witness holds
// two histories. The local one forks from what was witnessed, and the
// witness saw the chain shrink (rollback).
func TestWitnessForkAfterRollback(t *testing.T) {
	dir, wdir := t.TempDir(), t.TempDir()
	w := &audit.FileWitness{Path: wdir}
	now := clock()
	write(t, dir, w, 100, 0, audit.Options{Now: now})
	backup := t.TempDir()
	if err := os.CopyFS(backup, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	write(t, dir, w, 100, 100, audit.Options{Now: now}) // witnessed up to 200
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dir, os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	write(t, dir, w, 50, 1000, audit.Options{Now: now})  // 150, signed after 200
	write(t, dir, w, 100, 2000, audit.Options{Now: now}) // on to 250
	if _, err := audit.Verify(dir, audit.VerifyOptions{}); err != nil {
		t.Fatalf("the restored store does not verify on its own: %v", err)
	}
	rep, err := verify(t, dir, w, "")
	fs := findings(t, err)
	if !slices.Equal(kinds(fs), []string{audit.FindingForked, audit.FindingRollback}) {
		t.Fatalf("%q", kinds(fs))
	}
	if fs[0].Seq <= 100 || fs[0].Seq > 200 || !strings.Contains(fs[0].Reason, "agrees with the witness at seq 100") {
		t.Fatalf("fork %+v", fs[0])
	}
	if fs[1].Seq != 200 || !strings.Contains(fs[1].Reason, "one of seq 150 signed later") {
		t.Fatalf("rollback %+v", fs[1])
	}
	if r := rep.Witnesses[0]; r.Matched != 250 || r.Unwitnessed != 0 {
		t.Fatalf("%+v", r)
	}
}

// flaky is a witness that refuses submissions while fail is set, and tells
// ok about each one it accepts.
type flaky struct {
	audit.FileWitness
	fail atomic.Bool
	ok   chan audit.WitnessEntry
}

func (f *flaky) Submit(ctx context.Context, e audit.WitnessEntry) error {
	if f.fail.Load() {
		return errors.New("witness unreachable")
	}
	if err := f.FileWitness.Submit(ctx, e); err != nil {
		return err
	}
	if f.ok != nil {
		f.ok <- e
	}
	return nil
}

// A checkpoint the witness did not take before Close is sent by the next
// writer that opens the store (at least once), with one warning each.
func TestWitnessRedeliversOnOpen(t *testing.T) {
	dir := t.TempDir()
	w := &flaky{FileWitness: audit.FileWitness{Path: t.TempDir()}}
	w.fail.Store(true)
	var warns warnings
	s, err := audit.Open(dir, audit.Options{Witnesses: []audit.Witness{w}, Warn: warns.add, WitnessWait: 50 * time.Millisecond,
		WitnessRetry: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := s.Append(context.Background(), record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := warns.all()
	if len(msgs) != 2 || !strings.Contains(msgs[0], "did not take the checkpoint of seq 10") || !strings.Contains(msgs[1], "was not delivered") {
		t.Fatalf("want one warning when delivery fails and one at Close, got %q", msgs)
	}
	if got, _ := w.Checkpoints(context.Background(), mustID(t, dir)); len(got) != 0 {
		t.Fatalf("the witness holds %d checkpoints", len(got))
	}
	w.fail.Store(false)
	s, err = audit.Open(dir, audit.Options{Witnesses: []audit.Witness{w}, Warn: warns.add})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := verify(t, dir, w, "")
	if err != nil || rep.Witnesses[0].Matched != 10 {
		t.Fatalf("%v %+v", err, rep.Witnesses)
	}
	if n := len(warns.all()); n != 2 {
		t.Fatalf("%d warnings", n)
	}
}

func mustID(t *testing.T, dir string) string {
	t.Helper()
	id, err := audit.StoreID(dir)
	if err != nil || id == "" {
		t.Fatalf("store id %q: %v", id, err)
	}
	return id
}

// With CheckpointInterval, records that wait are signed and witnessed by
// the idle writer, without another append or Close.
func TestWitnessIdleCheckpoint(t *testing.T) {
	dir := t.TempDir()
	w := &flaky{FileWitness: audit.FileWitness{Path: t.TempDir()}, ok: make(chan audit.WitnessEntry, 16)}
	s, err := audit.Open(dir, audit.Options{Witnesses: []audit.Witness{w}, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		if err := s.Append(context.Background(), record(i)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(await.Budget(t)) // the test's own deadline, not a pace
	for {
		select {
		case e := <-w.ok:
			if strings.Contains(e.Note, "\n3\n") {
				return
			}
		case <-deadline:
			t.Fatal("the idle writer never witnessed seq 3")
		}
	}
}

// The HTTP witness against a real loopback server serving WitnessHandler:
// the first posts fail and are retried off the call path; the trail then
// verifies against it, and a truncation shows.
func TestHTTPWitness(t *testing.T) {
	var posts, failures atomic.Int32
	accepted := make(chan struct{}, 64)
	backing := &audit.FileWitness{Path: t.TempDir()}
	h := audit.WitnessHandler(backing)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if posts.Add(1) <= 2 {
				failures.Add(1)
				http.Error(rw, "warming up", http.StatusServiceUnavailable)
				return
			}
			defer func() { accepted <- struct{}{} }()
		}
		h.ServeHTTP(rw, r)
	}))
	defer srv.Close()
	w, err := audit.NewWitness(srv.URL + "/v1/checkpoints")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var warns warnings
	s, err := audit.Open(dir, audit.Options{Witnesses: []audit.Witness{w}, CheckpointEvery: 50, Warn: warns.add,
		WitnessRetry: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if err := s.Append(context.Background(), record(i)); err != nil {
			t.Fatal(err)
		}
	}
	select { // the checkpoint of seq 50 arrives while the store runs
	case <-accepted:
	case <-time.After(await.Budget(t)):
		t.Fatal("the witness never accepted a checkpoint")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if failures.Load() != 2 {
		t.Fatalf("%d failed posts", failures.Load())
	}
	if msgs := warns.all(); len(msgs) != 1 || !strings.Contains(msgs[0], "503") {
		t.Fatalf("want one warning for the failed posts, got %q", msgs)
	}
	rep, err := verify(t, dir, w, "")
	if err != nil || rep.Witnesses[0].Matched != 60 {
		t.Fatalf("%v %+v", err, rep)
	}
	if err := audittest.Truncate(dir, 15); err != nil {
		t.Fatal(err)
	}
	_, err = verify(t, dir, w, "")
	if fs := findings(t, err); len(fs) != 1 || fs[0].Kind != audit.FindingTruncated || fs[0].Seq != 60 {
		t.Fatalf("%+v", fs)
	}
}

// What a witness answers is decoded with exact member names: unknown,
// duplicate or differently cased members make the answer an error.
func TestHTTPWitnessExactDecoding(t *testing.T) {
	id := strings.Repeat("ab", 16)
	entry := `{"store":"` + id + `","key":"k","note":"n"}`
	for _, tc := range []struct{ name, body string }{
		{"unknown member", `{"schemaVersion":1,"checkpoints":[],"extra":true}`},
		{"unknown entry member", `{"schemaVersion":1,"checkpoints":[{"store":"` + id + `","key":"k","note":"n","cosigned":true}]}`},
		{"duplicate member", `{"schemaVersion":1,"checkpoints":[],"checkpoints":[` + entry + `]}`},
		{"other case", `{"schemaVersion":1,"Checkpoints":[` + entry + `]}`},
		{"no schema version", `{"checkpoints":[]}`},
		{"another store", `{"schemaVersion":1,"checkpoints":[{"store":"` + strings.Repeat("cd", 16) + `","key":"k","note":"n"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				rw.Write([]byte(tc.body))
			}))
			defer srv.Close()
			w := &audit.HTTPWitness{URL: srv.URL}
			if got, err := w.Checkpoints(context.Background(), id); err == nil {
				t.Fatalf("accepted %q as %+v", tc.body, got)
			}
		})
	}
}

// Lines a file witness cannot read exactly, and entries that do not verify,
// vouch for nothing and hide nothing.
func TestFileWitnessJunk(t *testing.T) {
	dir, wfile := t.TempDir(), filepath.Join(t.TempDir(), "w.jsonl")
	w := &audit.FileWitness{Path: wfile}
	write(t, dir, w, 20, 0, audit.Options{})
	id := mustID(t, dir)
	f, err := os.OpenFile(wfile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `{"store":%q,"key":"k","note":"n","x":1}`+"\n", id)
	fmt.Fprintf(f, `{"Store":%q,"key":"k","note":"n"}`+"\n", id)
	fmt.Fprintf(f, `{"store":%q,"store":%q,"key":"k","note":"n"}`+"\n", id, id)
	fmt.Fprintf(f, `{"store":%q,"key":"k","note":"not signed"}`+"\n", id)
	fmt.Fprintf(f, `{"store":%q,"key":"k","note":"torn`, id)
	f.Close()
	got, err := w.Checkpoints(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify(t, dir, w, "")
	if err != nil || rep.Witnesses[0].Rejected != 1 || rep.Witnesses[0].Matched != 20 || len(got) != rep.Witnesses[0].Checkpoints+1 {
		t.Fatalf("%v %+v (%d entries)", err, rep.Witnesses, len(got))
	}
}

// A key named in the configuration (a managed one) is never created by the
// store, stays outside it, and its verifier key is listed in signing.pub.
func TestManagedKey(t *testing.T) {
	dir, keyPath := t.TempDir(), filepath.Join(t.TempDir(), "audit.key")
	if _, err := audit.Open(dir, audit.Options{KeyPath: keyPath}); err == nil || !strings.Contains(err.Error(), "mcpgov audit keygen") {
		t.Fatalf("a missing managed key: %v", err)
	}
	vkey, err := audit.NewKeyFile(keyPath, "mcpgov-audit-fleet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.NewKeyFile(keyPath, "again"); err == nil {
		t.Fatal("NewKeyFile replaced a key")
	}
	if got, err := audit.VerifierKeyFile(keyPath); err != nil || got != vkey {
		t.Fatalf("%q %v, want %q", got, err, vkey)
	}
	s, err := audit.Open(dir, audit.Options{KeyPath: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	s.Append(context.Background(), record(1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, audit.KeyName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a signing key in the store: %v", err)
	}
	if pub := pubKey(t, dir); pub != vkey {
		t.Fatalf("signing.pub %q, want %q", pub, vkey)
	}
	if _, err := audit.Verify(dir, audit.VerifyOptions{Key: vkey}); err != nil {
		t.Fatal(err)
	}
}
