package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
)

// BenchmarkGatewayStore measures what sharing state through Redis adds to
// a governed call: tools/call echo through `mcpgov gateway serve` with a
// rate limit on the tool (so every call takes a counter), over HTTP with
// keep-alive, with the embedded store (one process: the counters in the
// state directory's file) and with a real redis-server on a Unix socket.
// none is the same call without a rate limit and without a store (the
// baseline of the hop). serial is one call at a time (added latency);
// parallel is one session per goroutine, GOMAXPROCS×4 of them (ns/op is
// the inverse of throughput). make bench reports redis against embedded
// and against none.
//
// The embedded store is the state directory's file, which holds every
// call of the last minute and is rewritten at each call: its cost grows
// with the calls made in the window, so its figure depends on how long
// the benchmark ran. Redis keeps the window in a sorted set per counter
// (O(log n) a call) and adds the call log (a claim and the answer: two
// more round trips) to every tools/call.
func BenchmarkGatewayStore(b *testing.B) {
	redis := statetest.Start(b) // skips without redis-server
	plain := writeBundle(b)
	bundle := writeBundle(b)
	catalogPath := filepath.Join(bundle, "catalog.toml")
	cat, err := os.ReadFile(catalogPath)
	if err != nil {
		b.Fatal(err)
	}
	limited := strings.Replace(string(cat), "[servers.fake.launch]", "[servers.fake.limits.tools]\necho = 1000000000\n[servers.fake.launch]", 1)
	if err := os.WriteFile(catalogPath, []byte(limited), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, store := range []struct{ name, bundle, url string }{{"none", plain, ""}, {"embedded", bundle, ""}, {"redis", bundle, redis.URL()}} {
		r := startReplica(b, store.bundle, store.url)
		url := "http://" + r.addr + "/servers/fake/mcp"
		open := func() string { return initSession(b, url, "bench") }
		var id atomic.Int64
		call := func(sid string) {
			n := id.Add(1)
			req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}`, n)
			if status, body, _ := rawPost(b, url, sid, req); status != 200 || !strings.Contains(body, `"text":"x"`) {
				b.Fatalf("call: %d %s", status, body)
			}
		}
		b.Run(store.name+"-serial", func(b *testing.B) {
			sid := open()
			b.ResetTimer()
			for range b.N {
				call(sid)
			}
		})
		b.Run(store.name+"-parallel", func(b *testing.B) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				sid := open()
				for pb.Next() {
					call(sid)
				}
			})
		})
	}
}
