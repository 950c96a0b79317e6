package objstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/audit/objstore"
	"github.com/mcpgov/mcpgov/audit/objstore/s3test"
)

// benchRecords is the size of the store both benchmarks read.
const benchRecords = 20_000

func benchStore(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	s, err := audit.Open(dir, audit.Options{Durability: audit.DurabilityWrite, MaxSegmentAge: -1, CheckpointEvery: 5_000})
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for i := range benchRecords {
		r := &audit.Record{Time: base.Add(time.Duration(i) * time.Second), Kind: audit.KindToolCall,
			Identity: audit.Identity{Subject: fmt.Sprintf("user%d", i%50), Method: "oidc"},
			Server:   audit.ServerRef{ID: "fs", Transport: "stdio"}, Method: "tools/call", Tool: "read_file",
			Outcome: audit.OutcomeAllowed, Arguments: json.RawMessage(fmt.Sprintf(`{"path":"/srv/data/f%d.txt"}`, i)),
			Decision: audit.Decision{Allow: true, Enforced: true, Mode: "enforce"}}
		if err := s.Append(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkShipS3 ships a 20,000-record store to versitygw on loopback
// (one object per 50,000 records, so one object, with its checkpoints):
// reading the store, Parquet with the lines, the upload, the cursor.
// Its baseline is BenchmarkParquetLocal.
func BenchmarkShipS3(b *testing.B) {
	srv := s3test.Start(b)
	srv.Bucket(b, "bench", 1)
	dir := benchStore(b)
	b.ResetTimer()
	for i := range b.N {
		loc, _ := objstore.ParseURL(srv.URL("bench", fmt.Sprintf("run%d", i)))
		bk, err := objstore.Open(loc, srv.Creds(), nil)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := (&objstore.Shipper{Dir: dir, Replica: "gw-1", Bucket: bk}).Ship(context.Background())
		if err != nil || rep.Records != benchRecords {
			b.Fatalf("ship: %+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParquetLocal is the same store exported as Parquet to a local
// directory (audit export's path): the cost without the object store.
func BenchmarkParquetLocal(b *testing.B) {
	dir := benchStore(b)
	b.ResetTimer()
	for range b.N {
		e := &audit.ParquetExporter{Out: b.TempDir()}
		n := 0
		err := audit.Records(dir, audit.Filter{}, func(r *audit.Record, _ []byte) error { n++; return e.Add(r) })
		if _, cerr := e.Close(); err == nil {
			err = cerr
		}
		if err != nil || n != benchRecords {
			b.Fatalf("export: %d %v", n, err)
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkVerifyS3 verifies a shipped 20,000-record store (one records
// object) on versitygw; peak-heap-MB is the largest heap sampled while
// Verify runs, with the collector set to run at 10% growth so that the
// heap stays close to what verification holds live.
func BenchmarkVerifyS3(b *testing.B) {
	srv := s3test.Start(b)
	srv.Bucket(b, "bench", 1)
	dir := benchStore(b)
	loc, _ := objstore.ParseURL(srv.URL("bench", "verify"))
	bk, err := objstore.Open(loc, srv.Creds(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := (&objstore.Shipper{Dir: dir, Replica: "gw-1", Bucket: bk}).Ship(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rep, err := objstore.Verify(context.Background(), bk, objstore.VerifyOptions{})
		if err != nil || len(rep.Findings) != 0 || len(rep.Replicas) != 1 || rep.Replicas[0].Records != benchRecords {
			b.Fatalf("verify: %+v %v", rep, err)
		}
	}
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
}
