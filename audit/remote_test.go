package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpgov/mcpgov/audit"
)

// TestStoreCheckpointsFromOffset: a reader that keeps the returned offset
// reads only new checkpoints; a torn last line waits for its end; an
// offset past the end (a replaced file) starts over.
func TestStoreCheckpointsFromOffset(t *testing.T) {
	dir := t.TempDir()
	s, err := audit.Open(dir, audit.Options{CheckpointEvery: 10, MaxSegmentAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s.Append(context.Background(), record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	all, end, err := audit.StoreCheckpoints(dir, 0)
	if err != nil || len(all) != 5 {
		t.Fatalf("checkpoints: %d, %v", len(all), err)
	}
	for i, c := range all {
		if c.Checkpoint.Size != uint64(10*(i+1)) || c.Entry.Key == "" {
			t.Fatalf("checkpoint %d: %+v", i, c)
		}
		if _, err := audit.OpenCheckpoint(c.Entry.Note, c.Entry.Key); err != nil {
			t.Fatalf("checkpoint %d does not verify under its key: %v", i, err)
		}
	}
	if end != all[4].End {
		t.Fatalf("end %d, last line ends at %d", end, all[4].End)
	}
	rest, _, err := audit.StoreCheckpoints(dir, all[2].End)
	if err != nil || len(rest) != 2 || rest[0].Checkpoint.Size != 40 {
		t.Fatalf("from the third's end: %+v %v", rest, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "checkpoints.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"note":"torn`)
	f.Close()
	if none, e2, err := audit.StoreCheckpoints(dir, end); err != nil || len(none) != 0 || e2 != end {
		t.Fatalf("torn line: %d entries, end %d (want %d), %v", len(none), e2, end, err)
	}
	if again, _, err := audit.StoreCheckpoints(dir, end+1<<20); err != nil || len(again) != 5 {
		t.Fatalf("offset past the end: %d, %v", len(again), err)
	}
}
