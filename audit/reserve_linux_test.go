package audit

import (
	"context"
	"os"
	"syscall"
	"testing"
)

// TestReserveKeepsSpaceAhead: after every append, at least reserveBytes
// are allocated past the segment's end (what lets a store close to a full
// disk still record the refusals it reports), while most appends make no
// reservation of their own: the allocation past the end grows in steps.
func TestReserveKeepsSpaceAhead(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Durability: DurabilityWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	path := s.segPath(s.segNum)
	ahead := func() int64 {
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		return st.Blocks*512 - st.Size
	}
	if ahead() < reserveBytes {
		if err := preallocate(mustOpen(t, path), 0, 1); err == errPreallocUnsupported {
			t.Skip("this filesystem does not preallocate")
		}
		t.Fatalf("after Open: %d bytes allocated past the end, want at least %d", ahead(), reserveBytes)
	}
	steps, last := 0, ahead()
	for i := range 600 { // several reservations' worth of records
		if err := s.Append(context.Background(), testRecord(i)); err != nil {
			t.Fatal(err)
		}
		a := ahead()
		if a < reserveBytes {
			t.Fatalf("after append %d: %d bytes allocated past the end, want at least %d", i, a, reserveBytes)
		}
		if a > last {
			steps++
		}
		last = a
	}
	if steps == 0 || steps > 600/10 {
		t.Fatalf("the reservation grew %d times over 600 appends: want a few steps, not a new reservation every few appends", steps)
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
