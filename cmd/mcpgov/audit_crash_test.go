package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// TestAuditCrash drives thousands of tools/call requests through the real
// shim binary and the fake MCP server, SIGKILLs the shim at random points
// with calls in flight, and then checks that every call whose reply the
// client received has its record in the trail, and that the trail
// verifies. Rounds share one audit directory, so each restart also
// recovers the chain (and any torn tail) the killed shim left.
//
// It runs in both durability modes: write (the shim's default: the reply
// goes once the record is written to the OS, which a kill -9 of mcpgov
// cannot undo) and fsync; every record names the mode it was kept under.
func TestAuditCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("drives thousands of calls; not in -short")
	}
	for _, mode := range []string{audit.DurabilityWrite, audit.DurabilityFsync} {
		t.Run(mode, func(t *testing.T) { auditCrash(t, mode) })
	}
}

func auditCrash(t *testing.T, durability string) {
	bundle := writeBundle(t)
	dir := filepath.Join(t.TempDir(), "audit")
	// Small segments, so shims also rotate under each other.
	config := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(config, []byte("[audit]\nrotate_bytes = 262144\ndurability = \""+durability+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	acked := map[string]bool{} // messages whose reply the client saw
	// Each round runs three shims at once on the one directory, as three
	// IDE servers would, and kills each at its own random point.
	const rounds, shims = 6, 3
	for round := range rounds {
		var wg sync.WaitGroup
		results := make([][]string, shims)
		for i := range shims {
			killAfter, early := 50+rng.IntN(250), rng.IntN(2) == 0
			wg.Go(func() {
				results[i] = crashRound(t, bundle, dir, config, fmt.Sprintf("%d.%d", round, i), killAfter, early)
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for _, got := range results {
			for _, m := range got {
				acked[m] = true
			}
		}
	}
	if len(acked) < 1000 {
		t.Fatalf("only %d calls answered; the test must drive thousands", len(acked))
	}

	recorded := map[string]bool{}
	err := audit.Records(dir, audit.Filter{Kind: audit.KindToolCall}, func(r *audit.Record, _ []byte) error {
		if r.Durability != durability {
			return fmt.Errorf("record %d kept under durability %q, want %q", r.Seq, r.Durability, durability)
		}
		var args struct{ Message string }
		if err := json.Unmarshal(r.Arguments, &args); err == nil && args.Message != "" {
			recorded[args.Message] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for m := range acked {
		if !recorded[m] {
			missing++
			if missing <= 5 {
				t.Errorf("the client got the reply to %q but the trail has no record of it", m)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d answered calls have no record", missing, len(acked))
	}
	out, err := exec.Command("mcpgov", "audit", "verify", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify after %d kills: %v\n%s", rounds*shims, err, out)
	}
	t.Logf("%d answered calls, %d recorded; %s", len(acked), len(recorded), out)
}

// crashRound runs one shim, keeps 16 calls in flight, and SIGKILLs the
// shim once killAfter replies arrived (or, when early, as soon as that
// many calls were sent). It returns the messages of the replies received.
func crashRound(t *testing.T, bundle, dir, config, round string, killAfter int, early bool) []string {
	cmd := exec.Command("mcpgov", "shim", "--bundle", bundle, "--", "fake-mcp-server")
	cmd.Env = append(os.Environ(), "MCPGOV_AUDIT_DIR="+dir, "MCPGOV_CONFIG="+config, "MCPGOV_BUNDLE=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Error(err)
		return nil
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Error(err)
		return nil
	}
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return nil
	}
	send := func(v string) error { _, err := io.WriteString(stdin, v+"\n"); return err }
	_ = send(`{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"crash","version":"1"}}}`)

	var (
		mu      sync.Mutex
		got     []string
		slots   = make(chan struct{}, 16)
		readErr = make(chan error, 1)
		inited  = make(chan struct{})
	)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var msg struct {
				ID     json.RawMessage `json:"id"`
				Result *struct {
					Content []struct{ Text string }
					IsError bool `json:"isError"`
				}
			}
			if json.Unmarshal(sc.Bytes(), &msg) != nil || msg.ID == nil {
				continue
			}
			if string(msg.ID) == `"init"` {
				close(inited)
				continue
			}
			if msg.Result != nil && !msg.Result.IsError && len(msg.Result.Content) == 1 {
				mu.Lock()
				got = append(got, msg.Result.Content[0].Text)
				mu.Unlock()
			} else {
				t.Errorf("shim %s: unexpected reply %s", round, sc.Bytes())
			}
			<-slots
		}
		readErr <- sc.Err()
	}()
	select {
	case <-inited:
	case <-time.After(await.Budget(t)):
		cmd.Process.Kill()
		_ = cmd.Wait()
		t.Errorf("shim %s: no initialize reply", round)
		return nil
	}
	_ = send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for i := 0; ; i++ {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= killAfter || (early && i >= killAfter) {
			break
		}
		slots <- struct{}{}
		m := fmt.Sprintf("r%s-%d", round, i)
		if err := send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":%q}}}`, i, m)); err != nil {
			t.Errorf("shim %s: send: %v", round, err)
			break
		}
	}
	// SIGKILL: no deferred Close, no final checkpoint, calls in flight.
	if err := cmd.Process.Kill(); err != nil {
		t.Error(err)
	}
	<-readErr
	_ = cmd.Wait()
	stdin.Close()
	mu.Lock()
	defer mu.Unlock()
	return got
}
