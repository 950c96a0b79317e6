package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func testRecord(i int) *Record {
	return &Record{
		Kind:      KindToolCall,
		Session:   "s1",
		Identity:  Identity{Subject: "alice", Email: "alice@example.com", Method: "oidc"},
		Client:    Client{Name: "test", Version: "1"},
		Server:    ServerRef{ID: "fake", Name: "fake", Transport: "stdio"},
		Method:    "tools/call",
		Tool:      "echo",
		Outcome:   OutcomeAllowed,
		Arguments: json.RawMessage(fmt.Sprintf(`{"message":"call %d"}`, i)),
		Result:    &ResultSummary{Bytes: 12, ContentTypes: []string{"text"}},
		Decision:  Decision{Allow: true, Enforced: true, Mode: "enforce", RuleIDs: []string{"allow-all"}},
		Latency:   Latency{TotalUS: 120, UpstreamUS: 100},
	}
}

func appendN(t testing.TB, s *Store, n, workers int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := s.Append(context.Background(), testRecord(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func mustVerify(t *testing.T, dir string) *VerifyReport {
	t.Helper()
	rep, err := Verify(dir, VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func TestAppendChainsAndVerifies(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{CheckpointEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1000, 16)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir)
	if rep.Records != 1000 || rep.LastSeq != 1000 || rep.Unwitnessed != 0 || rep.Checkpoints < 10 {
		t.Fatalf("report = %+v", rep)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key: %v %v", fi, err)
	}
	// Reopening continues the same chain.
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := testRecord(0)
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1001 || len(r.ID) != 32 || r.Version != SchemaVersion {
		t.Fatalf("appended %+v", r)
	}
	s.Close()
	if rep := mustVerify(t, dir); rep.Records != 1001 {
		t.Fatalf("records = %d", rep.Records)
	}
}

// Two stores on one directory stand for two shim processes: flock locks
// belong to open file descriptions, so they exclude each other as
// processes do.
func TestTwoWritersOneChain(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, Options{MaxSegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir, Options{MaxSegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); appendN(t, a, 2000, 8) }()
	go func() { defer wg.Done(); appendN(t, b, 2000, 8) }()
	wg.Wait()
	a.Close()
	b.Close()
	rep := mustVerify(t, dir)
	if rep.Records != 4000 || rep.Segments < 3 {
		t.Fatalf("report = %+v", rep)
	}
}

func TestRotationByAge(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := Open(dir, Options{MaxSegmentAge: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		appendN(t, s, 5, 1)
		now = now.Add(2 * time.Hour)
	}
	s.Close()
	segs, _ := ListSegments(dir)
	if len(segs) != 3 {
		t.Fatalf("segments = %d, want 3", len(segs))
	}
	mustVerify(t, dir)
}

func TestTornTailIsDroppedByNextWriter(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{})
	appendN(t, s, 10, 1)
	s.Close()
	seg := filepath.Join(dir, SegmentName(1))
	f, _ := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"v":1,"id":"torn","seq":11,"ti`)
	f.Close()
	if rep := mustVerify(t, dir); rep.TornTail != SegmentName(1) || rep.Records != 10 {
		t.Fatalf("report = %+v", rep)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := testRecord(1)
	if err := s.Append(context.Background(), r); err != nil || r.Seq != 11 {
		t.Fatalf("append after torn tail: seq %d, %v", r.Seq, err)
	}
	s.Close()
	if rep := mustVerify(t, dir); rep.TornTail != "" || rep.Records != 11 {
		t.Fatalf("report = %+v", rep)
	}
}

func TestLoggingModes(t *testing.T) {
	for _, tc := range []struct {
		mode, meta string
		full       bool
	}{
		{LoggingAlways, "", true},
		{LoggingNever, `{"io.mcpgov/logging":"on"}`, false},
		{LoggingHeaderControlled, "", false},
		{LoggingHeaderControlled, `{"io.mcpgov/logging":true}`, true},
		{LoggingHeaderControlled, `{"io.mcpgov/logging":"on"}`, true},
		{LoggingHeaderControlled, `{"io.mcpgov/logging":"off"}`, false},
	} {
		r := testRecord(1)
		r.RequestMeta = json.RawMessage(tc.meta)
		ApplyLogging(r, tc.mode)
		full := r.Kind == KindToolCall && r.Arguments != nil
		if full != tc.full || r.Logging != tc.mode {
			t.Errorf("%s %s: kind %s args %s", tc.mode, tc.meta, r.Kind, r.Arguments)
		}
		if !tc.full && (r.SuppressedKind != KindToolCall || r.Tool != "echo" || !r.Decision.Allow || r.Result.Bytes != 0) {
			t.Errorf("%s: placeholder lost who/what/decision or kept result details: %+v", tc.mode, r)
		}
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), "io.mcpgov") {
			t.Errorf("request _meta was stored: %s", b)
		}
	}
	if _, err := Open(t.TempDir(), Options{Logging: "sometimes"}); err == nil || !strings.Contains(err.Error(), "header_controlled") {
		t.Fatalf("bad mode: %v", err)
	}
}

func TestUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores permissions; a path under a regular file cannot be
		// created by anyone.
		file := filepath.Join(t.TempDir(), "file")
		os.WriteFile(file, nil, 0o600)
		_, err := Open(filepath.Join(file, "audit"), Options{})
		if err == nil || !errors.Is(err, syscall.ENOTDIR) {
			t.Fatalf("open under a file: %v", err)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("open read-only dir: %v", err)
	}
}

// fullDisk fails writes after budget bytes, like ENOSPC.
type fullDisk struct {
	*os.File
	budget *int
}

func (f fullDisk) Write(p []byte) (int, error) {
	if len(p) > *f.budget {
		n, _ := f.File.Write(p[:*f.budget])
		*f.budget = 0
		return n, syscall.ENOSPC
	}
	*f.budget -= len(p)
	return f.File.Write(p)
}

func TestFullDiskFailsAppendAndKeepsChain(t *testing.T) {
	dir := t.TempDir()
	budget := 3000
	s, err := openStore(dir, Options{}, func(path string, flag int) (segmentFile, error) {
		f, err := os.OpenFile(path, flag, 0o600)
		if err != nil {
			return nil, err
		}
		return fullDisk{f, &budget}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var failed error
	for i := range 100 {
		if err := s.Append(context.Background(), testRecord(i)); err != nil {
			failed = err
			break
		}
	}
	if !errors.Is(failed, syscall.ENOSPC) || !strings.Contains(failed.Error(), "append to audit trail: ") {
		t.Fatalf("append on a full disk: %v", failed)
	}
	budget = 1 << 20 // space freed: the store goes on from an intact chain
	if err := s.Append(context.Background(), testRecord(1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	mustVerify(t, dir)
}

func TestPruneKeepsVerifiable(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := Open(dir, Options{MaxSegmentAge: time.Hour, Now: func() time.Time { return now }})
	for range 5 {
		appendN(t, s, 10, 1)
		now = now.Add(24 * time.Hour)
	}
	s.Close()
	rep, err := Prune(dir, now.Add(-72*time.Hour), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 2 || rep.Kept != 3 {
		t.Fatalf("prune = %+v", rep)
	}
	v := mustVerify(t, dir)
	if !v.Pruned || v.FirstSeq != 21 || v.Records != 30 {
		t.Fatalf("verify after prune = %+v", v)
	}
	s, _ = Open(dir, Options{})
	appendN(t, s, 3, 1)
	s.Close()
	mustVerify(t, dir)
	// A forged anchor does not verify.
	b, _ := os.ReadFile(filepath.Join(dir, anchorName))
	os.WriteFile(filepath.Join(dir, anchorName), []byte(strings.Replace(string(b), `"seq": 21`, `"seq": 22`, 1)), 0o644)
	if _, err := Verify(dir, VerifyOptions{}); err == nil || !strings.Contains(err.Error(), anchorName) {
		t.Fatalf("forged anchor: %v", err)
	}
}

// An idle writer whose segment was rotated past and then pruned must not
// append to the removed file.
func TestIdleWriterAfterPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	idle, _ := Open(dir, Options{MaxSegmentAge: time.Hour, Now: clock})
	appendN(t, idle, 3, 1)
	busy, _ := Open(dir, Options{MaxSegmentAge: time.Hour, Now: clock})
	for range 4 {
		now = now.Add(2 * time.Hour)
		appendN(t, busy, 3, 1)
	}
	busy.Close()
	if rep, err := Prune(dir, now.Add(-time.Hour), Options{}); err != nil || len(rep.Removed) < 2 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	r := testRecord(9)
	if err := idle.Append(context.Background(), r); err != nil || r.Seq != 16 {
		t.Fatalf("idle writer appended seq %d: %v", r.Seq, err)
	}
	idle.Close()
	if rep := mustVerify(t, dir); rep.LastSeq != 16 {
		t.Fatalf("verify: %+v", rep)
	}
}

// syncCounter counts a segment's fsyncs and can fail them.
type syncCounter struct {
	*os.File
	syncs *atomic.Int64
	fail  *atomic.Bool
}

func (f syncCounter) Sync() error {
	if f.fail.Load() {
		return syscall.EIO
	}
	f.syncs.Add(1)
	return f.File.Sync()
}

// TestWriteDurability: in write durability, Append returns after the
// write and the fsync follows in the background; each record names the
// mode; a failed background fsync makes the store unhealthy and later
// appends fail, as a failed fsync does in fsync mode.
func TestWriteDurability(t *testing.T) {
	dir := t.TempDir()
	var syncs atomic.Int64
	var fail atomic.Bool
	s, err := openStore(dir, Options{Durability: DurabilityWrite}, func(path string, flag int) (segmentFile, error) {
		f, err := os.OpenFile(path, flag, 0o600)
		if err != nil {
			return nil, err
		}
		return syncCounter{f, &syncs, &fail}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := s.Append(context.Background(), testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	for syncs.Load() == 0 { // the background fsync comes; the test's deadline bounds the wait
		runtime.Gosched()
	}
	fail.Store(true)
	_ = s.Append(context.Background(), testRecord(10)) // written; its fsync fails behind it
	for s.Healthy() == nil {
		runtime.Gosched()
	}
	if err := s.Append(context.Background(), testRecord(11)); err == nil || !strings.Contains(err.Error(), "fsync audit trail") {
		t.Fatalf("append after a failed fsync: %v", err)
	}
	fail.Store(false)
	s.Close()
	n := 0
	if err := Records(dir, Filter{}, func(r *Record, _ []byte) error {
		n++
		if r.Durability != DurabilityWrite {
			t.Errorf("record %d: durability %q", r.Seq, r.Durability)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("%d records, want at least the 10 acknowledged", n)
	}
	if _, err := Open(t.TempDir(), Options{Durability: "sometimes"}); err == nil || !strings.Contains(err.Error(), `audit durability "sometimes": want fsync or write`) {
		t.Fatalf("bad durability: %v", err)
	}
}
