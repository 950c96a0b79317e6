package main

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// The round driver the side-by-side benchmarks share (the gateway against
// its peers, the bridge against its peers): every side is measured in
// the same rounds, one after another, so that a change in the machine's
// load lands on all of them.

// openSides opens n sessions on each side and warms each side up with 100
// echo calls (connections, caches and JITs).
func openSides(b *testing.B, sides []*gatewaySide, n int) {
	for _, s := range sides {
		for range n {
			s.sessions = append(s.sessions, openRawSession(b, s.url))
		}
		for i := range 100 {
			if err := s.sessions[i%len(s.sessions)].echo(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// benchRounds is how many rounds a shape runs per side:
// MCPGOV_BENCH_GATEWAY_ROUNDS, 3 by default.
func benchRounds() int {
	if v, err := strconv.Atoi(os.Getenv("MCPGOV_BENCH_GATEWAY_ROUNDS")); err == nil && v > 0 {
		return v
	}
	return 3
}

// serialShape is the serial shape: rounds*3 rounds of 100 calls a side,
// one at a time on the side's first session; it reports each side's
// percentiles and what each adds over the first side (reportSides).
func serialShape(b *testing.B, sides []*gatewaySide, rounds int) {
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
}

// saturationShape is the saturation shape: rounds of gatewayWorkers
// closed-loop workers for 2 s a side (saturate); it reports each side's
// calls/s and, for a side with a process of its own, its calls per
// CPU-second of that process.
func saturationShape(b *testing.B, sides []*gatewaySide, rounds int) {
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
}
