package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The bridge benchmark: a stdio server (server-everything) reached over
// Streamable HTTP through a process that launches it and bridges the two,
// the shape npm's `mcp-proxy` and `supergateway` serve and the gateway
// serves for a catalog entry with a launch command. Each bridge is
// measured against server-everything's own Streamable HTTP transport (the
// same server without a bridge: direct), in interleaved rounds:
//
//   - serial: one call at a time, the added p50 and p99 over direct;
//   - saturation: gatewayWorkers closed-loop workers for a fixed time,
//     calls/s and calls per CPU-second of the bridge process itself (the
//     server processes it starts are not counted, for any side).
//
// The peers are the versions pinned in testdata/bench/peers (make
// bench-peers installs them into .cache/npm-peers; MCPGOV_BENCH_PEERS
// names another node_modules/.bin, as an absolute path); a peer that is
// not installed is left out and said so. The gateway runs the catalog
// alone (approved, audit durability write): the peers govern nothing, so
// the comparison is the bridge, not the guardrails (BenchmarkGatewayRounds
// has those). server-everything's own HTTP transport is slower than its
// stdio behind a Go bridge, so a bridge's added latency can be below zero:
// the bridges are compared with each other, in the same rounds.
func BenchmarkBridgeRounds(b *testing.B) {
	needEverything(b)
	sides := []*gatewaySide{{name: "direct", url: startEverythingBench(b)}}
	base, proc := startBenchGateway(b, writeBundle(b), "write")
	sides = append(sides, &gatewaySide{name: "gateway", url: base + "/servers/everything/mcp", proc: proc, base: base})
	peers := peersBin()
	for _, p := range []struct {
		name string
		args func(port string) []string
	}{
		// Stateful: one server process per session, as the gateway does.
		{"supergateway", func(port string) []string {
			return []string{"--stdio", "mcp-server-everything stdio", "--outputTransport", "streamableHttp", "--stateful", "--port", port, "--logLevel", "none"}
		}},
		{"mcp-proxy", func(port string) []string {
			return []string{"--host", "127.0.0.1", "--port", port, "--server", "stream", "--", "mcp-server-everything", "stdio"}
		}},
	} {
		bin := filepath.Join(peers, p.name)
		if _, err := os.Stat(bin); err != nil {
			// On the output itself: a parent benchmark's log is not shown.
			fmt.Printf("BenchmarkBridgeRounds: %s is not installed (make bench-peers installs it into .cache/npm-peers, or set MCPGOV_BENCH_PEERS): left out\n", p.name)
			continue
		}
		addr := freeAddr(b)
		_, port, _ := strings.Cut(addr, ":")
		proc := startBenchProcess(b, sandboxEnv(b), bin, p.args(port)...)
		sides = append(sides, &gatewaySide{name: p.name, url: "http://" + addr + "/mcp", proc: proc})
	}
	// Two sessions a side: each bridge starts a server process (Node) per
	// session.
	for _, s := range sides {
		for range 2 {
			s.sessions = append(s.sessions, openRawSession(b, s.url, ""))
		}
		for i := range 100 { // warm up connections, caches and JITs
			if err := s.sessions[i%len(s.sessions)].echo(); err != nil {
				b.Fatal(err)
			}
		}
	}
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("MCPGOV_BENCH_GATEWAY_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	b.Run("serial", func(b *testing.B) {
		lat := make([][]time.Duration, len(sides))
		for range rounds * 3 {
			for i, s := range sides {
				for range 100 {
					start := time.Now()
					if err := s.sessions[0].echo(); err != nil {
						b.Fatal(err)
					}
					lat[i] = append(lat[i], time.Since(start))
				}
			}
		}
		reportSides(b, sides, lat)
	})
	b.Run("saturation", func(b *testing.B) {
		calls := make([]int, len(sides))
		cpu := make([]time.Duration, len(sides))
		var wall time.Duration
		for range rounds {
			for i, s := range sides {
				n, c := saturate(b, s, 2*time.Second)
				calls[i] += n
				cpu[i] += c
			}
			wall += 2 * time.Second
		}
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "gomaxprocs")
		for i, s := range sides {
			b.ReportMetric(float64(calls[i])/wall.Seconds(), s.name+"-calls/s")
			if s.proc != nil && cpu[i] > 0 {
				b.ReportMetric(float64(calls[i])/cpu[i].Seconds(), s.name+"-calls/cpu-s")
			}
		}
	})
}

// peersBin is the node_modules/.bin the bridge peers are installed in:
// MCPGOV_BENCH_PEERS, or .cache/npm-peers's (make bench-peers).
func peersBin() string {
	if dir := os.Getenv("MCPGOV_BENCH_PEERS"); dir != "" {
		return dir
	}
	abs, _ := filepath.Abs(filepath.Join("..", "..", ".cache", "npm-peers", "node_modules", ".bin"))
	return abs
}
