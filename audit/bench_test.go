package audit

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkAuditAppend is sustained Append throughput in fsync
// durability: 64 concurrent callers (as many calls in flight as a busy
// machine's shims), each waiting until its record is fsynced. ns/op is per
// record. BenchmarkAuditAppendWrite is the same in write durability, each
// caller waiting until its record is written to the OS.
func BenchmarkAuditAppend(b *testing.B)      { benchAppend(b, DurabilityFsync) }
func BenchmarkAuditAppendWrite(b *testing.B) { benchAppend(b, DurabilityWrite) }

func benchAppend(b *testing.B, durability string) {
	s, err := Open(b.TempDir(), Options{Durability: durability})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	line, _ := json.Marshal(testRecord(1))
	b.SetBytes(int64(len(line)) + 1)
	b.SetParallelism(32) // × GOMAXPROCS callers
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(context.Background(), testRecord(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rec/s")
}

// BenchmarkAuditRawFsync is the baseline: the same record bytes written
// with one write(2) and one fsync per 64 records, no encoding, chain or
// locking; the floor a group-committing store can approach.
func BenchmarkAuditRawFsync(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := testRecord(1)
	r.Seq, r.Prev, r.ID, r.Time = 1, genesis, newID(), time.Now()
	line, _ := json.Marshal(r)
	line = append(line, '\n')
	b.SetBytes(int64(len(line)))
	const batch = 64
	buf := slices.Repeat(line, batch)
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		if _, err := f.Write(buf[:n*len(line)]); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditRawLoneFsync is the device's floor for a lone record in
// fsync durability: the same record bytes appended with one write(2) and
// one fsync each, no encoding, chain or locking. BenchmarkAuditLoneFsync
// against it is what the store adds to the fsync a reply waits for.
func BenchmarkAuditRawLoneFsync(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := testRecord(1)
	r.Seq, r.Prev, r.ID, r.Time = 1, genesis, newID(), time.Now()
	line, _ := json.Marshal(r)
	line = append(line, '\n')
	for b.Loop() {
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditLatency1k appends at a steady 1,000 records/s from one
// caller and reports the p50 and p99 time Append blocks (write + fsync).
func BenchmarkAuditLatency1k(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	lat := make([]time.Duration, 0, b.N)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for range b.N {
		<-tick.C
		t0 := time.Now()
		if err := s.Append(context.Background(), testRecord(1)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkAuditVerify is verification speed: ns/op is per record checked
// (parse, chain hash, checkpoint lookups).
func BenchmarkAuditVerify(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	appendN(b, s, 20000, 64)
	s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i += 20000 {
		if _, err := Verify(dir, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditLoneFsync and BenchmarkAuditLoneWrite append one record
// at a time from one caller, as a shim does for a lone tool call: the
// cost a call's reply waits for in each durability mode, same run.
func BenchmarkAuditLoneFsync(b *testing.B) { benchLone(b, DurabilityFsync) }
func BenchmarkAuditLoneWrite(b *testing.B) { benchLone(b, DurabilityWrite) }

func benchLone(b *testing.B, durability string) {
	s, err := Open(b.TempDir(), Options{Durability: durability})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; b.Loop(); i++ {
		if err := s.Append(context.Background(), testRecord(i)); err != nil {
			b.Fatal(err)
		}
	}
}
