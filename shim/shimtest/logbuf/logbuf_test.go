package logbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgov/mcpgov/shim/shimtest/logbuf"
)

// TestBufferConcurrent: writers and a reader at once (go test -race
// fails a buffer without its lock); every write is kept whole.
func TestBufferConcurrent(t *testing.T) {
	var b logbuf.Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				fmt.Fprintf(&b, "w%d-%d\n", i, j)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "w") || !strings.Contains(l, "-") {
			t.Fatalf("line %q is not one write", l)
		}
	}
}
