package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

const (
	appenderEnv           = "MCPGOV_AUDIT_APPENDER_DIR"
	appenderDurabilityEnv = "MCPGOV_AUDIT_APPENDER_DURABILITY"
)

// TestAppenderProcess is not a test: re-executed with appenderEnv set, the
// test binary becomes a writer process that appends from 8 goroutines and
// prints each record's message once Append returned nil (the ack a shim
// gives by releasing a reply), until it is killed. It opens the store in
// the durability mode appenderDurabilityEnv names.
func TestAppenderProcess(t *testing.T) {
	dir := os.Getenv(appenderEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashManyWriters")
	}
	s, err := Open(dir, Options{MaxSegmentBytes: 128 << 10, Durability: os.Getenv(appenderDurabilityEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				r := testRecord(i)
				msg := fmt.Sprintf("%d-%d-%d", os.Getpid(), w, i)
				r.Arguments = json.RawMessage(fmt.Sprintf(`{"message":%q}`, msg))
				if err := s.Append(context.Background(), r); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintln(out, msg)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashManyWriters runs writer processes three at a time on one
// store and SIGKILLs each at a random point: every acknowledged record is
// in the store, says the durability mode it was written in, and the store
// verifies. In both modes: in write durability an acknowledged record has
// reached the OS, which keeps it when the process is killed (only a power
// loss may take the last sync window).
func TestCrashManyWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills 24 processes per durability mode")
	}
	for _, durability := range []string{DurabilityFsync, DurabilityWrite} {
		t.Run(durability, func(t *testing.T) { crashManyWriters(t, durability) })
	}
}

func crashManyWriters(t *testing.T, durability string) {
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	acked := map[string]bool{}
	var mu sync.Mutex
	for round := range 8 {
		var wg sync.WaitGroup
		for range 3 {
			killAfter := 100 + rng.IntN(900)
			wg.Go(func() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestAppenderProcess$")
				cmd.Env = append(os.Environ(), appenderEnv+"="+dir, appenderDurabilityEnv+"="+durability)
				cmd.Stderr = os.Stderr
				stdout, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					t.Error(err)
					return
				}
				sc := bufio.NewScanner(stdout)
				n := 0
				for sc.Scan() {
					mu.Lock()
					acked[sc.Text()] = true
					mu.Unlock()
					if n++; n == killAfter {
						_ = cmd.Process.Kill()
					}
				}
				_ = cmd.Wait()
				if n < killAfter {
					t.Errorf("round %d: writer died after %d acks", round, n)
				}
			})
		}
		wg.Wait()
	}
	found := map[string]bool{}
	err := Records(dir, Filter{}, func(r *Record, _ []byte) error {
		var a struct{ Message string }
		_ = json.Unmarshal(r.Arguments, &a)
		found[a.Message] = true
		if r.Durability != durability {
			return fmt.Errorf("record %d (%s) says durability %q, written in %q", r.Seq, a.Message, r.Durability, durability)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for m := range acked {
		if !found[m] {
			t.Fatalf("acknowledged record %s is missing (%d acked, %d stored)", m, len(acked), len(found))
		}
	}
	rep := mustVerify(t, dir)
	t.Logf("%d acknowledged, %d stored, %d segments", len(acked), rep.Records, rep.Segments)
}
