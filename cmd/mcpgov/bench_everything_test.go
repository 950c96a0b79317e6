package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// roundCalls is the number of echo calls one side makes per round before
// the other side takes its turn: rounds interleave direct and shim so a
// change in the machine's load lands on both.
const roundCalls = 100

// shimVariants are the bundles the end-to-end benchmarks run the shim with:
// the catalog approving server-everything alone, and the same with the
// starter policies and every guardrail enforced.
var shimVariants = []struct {
	name   string
	bundle func(testing.TB) string
}{
	{"approved", writeBundle},
	{"guarded", writeGuardedBundle},
}

// durabilityEnv writes a user config selecting the audit durability mode
// and returns the environment that points the shim at it. The audit store
// lives under the sandbox's XDG_STATE_HOME, in a temporary directory on
// the machine's disk, so fsync costs what it costs there.
func durabilityEnv(tb testing.TB, durability string) []string {
	tb.Helper()
	cfg := filepath.Join(tb.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("[audit]\ndurability = \""+durability+"\"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return sandboxEnv(tb, "MCPGOV_CONFIG="+cfg)
}

// benchTraced runs main, the mcpgov command, under the runtime's execution
// tracer when MCPGOV_BENCH_TRACE names a file and the command is the shim:
// the scheduler trace of a shim started by this test binary (not
// MCPGOV_BENCH_BIN), for `go tool trace` and its -pprof=sched profile of
// the time goroutines waited to run, e.g. over BenchmarkEchoRounds. A
// name ending in .pprof gets a CPU profile instead, sampled at 2 kHz (a
// shim spends well under a millisecond of CPU per call, too little for
// the default 100 Hz; the runtime then warns on stderr that the rate was
// set before the profile started). Each shim writes NAME.PID.
func benchTraced(main func() int) int {
	path := os.Getenv("MCPGOV_BENCH_TRACE")
	if path == "" || len(os.Args) < 2 || os.Args[1] != "shim" {
		return main()
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: trace: %v\n", err)
		return main()
	}
	defer f.Close()
	start, stop := trace.Start, trace.Stop
	if strings.HasSuffix(path, ".pprof") {
		runtime.SetCPUProfileRate(2000)
		start, stop = pprof.StartCPUProfile, pprof.StopCPUProfile
	}
	if err := start(f); err != nil {
		fmt.Fprintf(os.Stderr, "bench: trace: %v\n", err)
		return main()
	}
	defer stop()
	return main()
}

// startSession starts command with env as a stdio MCP server, connects a
// go-sdk client (which returns once initialize is answered) and returns
// the session, the server process and how long the connection took.
func startSession(tb testing.TB, env []string, command string, args ...string) (*mcp.ClientSession, *os.Process, time.Duration) {
	tb.Helper()
	path, err := exec.LookPath(command)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stderr = os.Stderr
	cmd.Env = env
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	ctx, cancel := context.WithDeadline(context.Background(), await.Deadline(tb))
	defer cancel()
	start := time.Now()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	took := time.Since(start)
	if err != nil {
		tb.Fatalf("connect %s %v: %v", command, args, err)
	}
	return cs, cmd.Process, took
}

// benchShim is viaShim with the shim binary MCPGOV_BENCH_BIN names, when
// set: make bench-report measures a release-like build, not this test
// binary standing in for mcpgov.
func benchShim(bundle, command string, args ...string) (string, []string) {
	cmd, args := viaShim(bundle, command, args...)
	if bin := os.Getenv("MCPGOV_BENCH_BIN"); bin != "" {
		cmd = bin
	}
	return cmd, args
}

// BenchmarkEchoRounds is the end-to-end measurement of the shim hop: a
// go-sdk client over real pipes calls server-everything's echo tool
// directly and through `mcpgov shim`, in interleaved rounds of roundCalls
// calls, for each bundle variant and audit durability mode. An iteration
// is one direct and one shim call; the figures that matter are the
// percentiles of each side and the added p50 and p99 (shim percentile
// minus direct percentile), reported as metrics. In fsync durability the
// device's fsync is measured in the same rounds too (fsyncFloor), and the
// added p50 less the fsync's p50. Run it with -benchtime 2000x for the
// issue's 2,000 calls a side. With MCPGOV_BENCH_BASELINE_BIN set to
// another build of mcpgov, VARIANT-write-vs-baseline adds that build's
// shim as a third side (echoRoundsBaseline): before and after a change,
// each against direct, in one run.
func BenchmarkEchoRounds(b *testing.B) {
	needEverything(b)
	for _, v := range shimVariants {
		for _, durability := range []string{"write", "fsync"} {
			b.Run(v.name+"-"+durability, func(b *testing.B) {
				direct, _, _ := startSession(b, sandboxEnv(b), "mcp-server-everything", "stdio")
				defer direct.Close()
				cmd, args := benchShim(v.bundle(b), "mcp-server-everything", "stdio")
				env := durabilityEnv(b, durability)
				shimmed, _, _ := startSession(b, env, cmd, args...)
				defer shimmed.Close()
				var floor *fsyncFloor
				if durability == "fsync" {
					floor = newFsyncFloor(b, envValue(env, "XDG_STATE_HOME"))
				}
				echoRoundsFloor(b, "direct", direct, shimmed, floor)
			})
		}
	}
	if bin := os.Getenv("MCPGOV_BENCH_BASELINE_BIN"); bin != "" {
		// The relay hop before and after a change, in one run: three
		// sides on the same bundle, server-everything direct, the other
		// build's shim and this one's, in interleaved rounds.
		for _, v := range shimVariants {
			b.Run(v.name+"-write-vs-baseline", func(b *testing.B) {
				direct, _, _ := startSession(b, sandboxEnv(b), "mcp-server-everything", "stdio")
				defer direct.Close()
				bundle := v.bundle(b)
				_, args := benchShim(bundle, "mcp-server-everything", "stdio")
				base, baseProc, _ := startSession(b, durabilityEnv(b, "write"), bin, args...)
				defer base.Close()
				cmd, args := benchShim(bundle, "mcp-server-everything", "stdio")
				shimmed, shimProc, _ := startSession(b, durabilityEnv(b, "write"), cmd, args...)
				defer shimmed.Close()
				echoRoundsBaseline(b, direct, base, shimmed, baseProc.Pid, shimProc.Pid)
			})
		}
	}
}

// echoRoundsBaseline makes b.N echo calls on each of three sessions in
// interleaved rounds (direct first, then the two shims in an order that
// alternates between rounds, so neither always runs right after the
// direct side) and reports each side's percentiles, both shims' added
// ones over direct (baseline-added-*, added-*), the ratio of this build's
// added p50 to the baseline's, and both shims' peak RSS after the calls.
// Compare in both orders (swap the binaries of MCPGOV_BENCH_BIN and
// MCPGOV_BENCH_BASELINE_BIN): with one build on both sides, this build's
// side (started second) read up to a tenth better in CPU and added p50 on
// a loaded 2-core machine, so a change smaller than that shows only as
// the two orders disagreeing less.
func echoRoundsBaseline(b *testing.B, direct, base, shimmed *mcp.ClientSession, basePid, shimPid int) {
	ctx := context.Background()
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hello"}}
	call := func(cs *mcp.ClientSession, lat []time.Duration, n int) []time.Duration {
		for range n {
			start := time.Now()
			if _, err := cs.CallTool(ctx, params); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		return lat
	}
	for _, cs := range []*mcp.ClientSession{direct, base, shimmed} {
		call(cs, nil, 50) // warm up
	}
	baseCPU0, shimCPU0 := cpuTime(b, basePid), cpuTime(b, shimPid)
	dl := make([]time.Duration, 0, b.N)
	bl := make([]time.Duration, 0, b.N)
	sl := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for round := 0; round*roundCalls < b.N; round++ {
		n := min(roundCalls, b.N-round*roundCalls)
		dl = call(direct, dl, n)
		if round%2 == 0 {
			bl = call(base, bl, n)
			sl = call(shimmed, sl, n)
		} else {
			sl = call(shimmed, sl, n)
			bl = call(base, bl, n)
		}
	}
	b.StopTimer()
	// The CPU each shim spent per call (all its threads), which the
	// machine's load sways less than latency does.
	perCall := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(b.N) }
	b.ReportMetric(perCall(cpuTime(b, basePid)-baseCPU0), "baseline-cpu-µs/call")
	b.ReportMetric(perCall(cpuTime(b, shimPid)-shimCPU0), "shim-cpu-µs/call")
	for _, l := range [][]time.Duration{dl, bl, sl} {
		slices.Sort(l)
	}
	at := func(lat []time.Duration, q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Microsecond)
	}
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p99", 0.99}} {
		d, bs, s := at(dl, q.q), at(bl, q.q), at(sl, q.q)
		b.ReportMetric(d, "direct-"+q.name+"-µs")
		b.ReportMetric(bs, "baseline-"+q.name+"-µs")
		b.ReportMetric(s, "shim-"+q.name+"-µs")
		b.ReportMetric(bs-d, "baseline-added-"+q.name+"-µs")
		b.ReportMetric(s-d, "added-"+q.name+"-µs")
	}
	if added := at(bl, 0.5) - at(dl, 0.5); added > 0 {
		b.ReportMetric((at(sl, 0.5)-at(dl, 0.5))/added, "added-p50-ratio")
	}
	for _, side := range []struct {
		name string
		pid  int
	}{{"baseline", basePid}, {"shim", shimPid}} {
		kb, err := peakRSS(side.pid)
		if err != nil {
			b.Fatal(err)
		}
		if kb > 0 {
			b.ReportMetric(float64(kb)/1024, side.name+"-rss-MB")
		}
	}
}

// fsyncFloor is the device's fsync latency in the rounds of an fsync
// durability benchmark: one record-sized write and one fsync to a file on
// the shim's audit filesystem, in a round of its own after each shim
// round, each fsync after a direct echo call (not counted) so that they
// are spaced by a call's work as the shim's own are. On a VM an isolated
// fsync costs several times one issued back to back (measured here: ~400
// µs with 1 ms between fsyncs, ~50 µs back to back), and an fsync right
// after the shim's makes the shim's next one cheaper: a floor in a tight
// loop, or inside the shim's round, would misstate it. The target it
// serves: the shim adds at most the fsync plus 100 µs.
type fsyncFloor struct {
	f    *os.File
	line []byte
	lat  []time.Duration
}

func newFsyncFloor(tb testing.TB, dir string) *fsyncFloor {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "fsync-floor.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return &fsyncFloor{f: f, line: append([]byte(strings.Repeat("x", 900)), '\n')}
}

// one appends and fsyncs one line and keeps its latency.
func (fl *fsyncFloor) one(b *testing.B) {
	start := time.Now()
	if _, err := fl.f.Write(fl.line); err != nil {
		b.Fatal(err)
	}
	if err := fl.f.Sync(); err != nil {
		b.Fatal(err)
	}
	fl.lat = append(fl.lat, time.Since(start))
}

// echoRoundsFloor makes b.N echo calls on each session, alternating
// rounds, and reports both sides' percentiles (the first side's named
// base) and the added ones. With a floor, it also measures the device's
// fsync in each round (not timed as either side) and reports its
// percentiles and the shim's added p50 less the fsync's p50.
func echoRoundsFloor(b *testing.B, base string, direct, shimmed *mcp.ClientSession, floor *fsyncFloor) {
	ctx := context.Background()
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hello"}}
	call := func(cs *mcp.ClientSession, lat []time.Duration, n int, after func()) []time.Duration {
		for range n {
			start := time.Now()
			if _, err := cs.CallTool(ctx, params); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
			if after != nil {
				after()
			}
		}
		return lat
	}
	var afterFloor func()
	if floor != nil {
		afterFloor = func() { floor.one(b) }
	}
	call(direct, nil, 50, nil) // warm up both
	call(shimmed, nil, 50, nil)
	dl := make([]time.Duration, 0, b.N)
	sl := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for done := 0; done < b.N; done += roundCalls {
		n := min(roundCalls, b.N-done)
		dl = call(direct, dl, n, nil)
		sl = call(shimmed, sl, n, nil)
		if floor != nil {
			b.StopTimer()
			call(direct, nil, n, afterFloor)
			b.StartTimer()
		}
	}
	b.StopTimer()
	reportAddedAs(b, base, dl, sl, time.Microsecond, "µs")
	if floor != nil {
		slices.Sort(floor.lat)
		p50 := float64(floor.lat[len(floor.lat)/2]) / float64(time.Microsecond)
		b.ReportMetric(p50, "fsync-p50-µs")
		b.ReportMetric(float64(floor.lat[len(floor.lat)*99/100])/float64(time.Microsecond), "fsync-p99-µs")
		mid := func(l []time.Duration) time.Duration { return l[(len(l)-1)/2] } // as reportAddedAs, sorted there
		b.ReportMetric(float64(mid(sl)-mid(dl))/float64(time.Microsecond)-p50, "added-over-fsync-p50-µs")
	}
}

// reportAddedAs is reportAdded with the baseline's metrics named base.
func reportAddedAs(b *testing.B, base string, direct, shimmed []time.Duration, unit time.Duration, suffix string) {
	slices.Sort(direct)
	slices.Sort(shimmed)
	at := func(lat []time.Duration, q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(unit)
	}
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p99", 0.99}} {
		d, s := at(direct, q.q), at(shimmed, q.q)
		b.ReportMetric(d, base+"-"+q.name+"-"+suffix)
		b.ReportMetric(s, "shim-"+q.name+"-"+suffix)
		b.ReportMetric(s-d, "added-"+q.name+"-"+suffix)
	}
}

// BenchmarkStartupRounds measures start-up as a client feels it: from
// starting the process to the answer to initialize (the go-sdk client's
// Connect returns then), for server-everything directly and through the
// shim, alternating, for each bundle variant. It also reports each side's
// peak RSS (VmHWM) after initialize: the shim's alone, not the server it
// starts. With MCPGOV_BENCH_BASELINE_BIN set to another build of mcpgov,
// it adds "approved-vs-baseline", whose baseline side is that build's
// shim: a before/after comparison of start-up in one run.
func BenchmarkStartupRounds(b *testing.B) {
	needEverything(b)
	server := []string{"mcp-server-everything", "stdio"}
	for _, v := range shimVariants {
		b.Run(v.name, func(b *testing.B) {
			cmd, args := benchShim(v.bundle(b), server[0], server[1:]...)
			startupRounds(b, "direct", sandboxEnv(b), server, durabilityEnv(b, "write"), append([]string{cmd}, args...))
		})
	}
	if bin := os.Getenv("MCPGOV_BENCH_BASELINE_BIN"); bin != "" {
		b.Run("approved-vs-baseline", func(b *testing.B) {
			cmd, args := benchShim(writeBundle(b), server[0], server[1:]...)
			env := durabilityEnv(b, "write")
			startupRounds(b, "baseline", env, append([]string{bin}, args...), env, append([]string{cmd}, args...))
		})
	}
}

// startupRounds starts base and shim alternately b.N times each and
// reports the time to initialize's answer of both, the shim's added time,
// and each side's peak RSS in MB.
func startupRounds(b *testing.B, baseName string, baseEnv, base, env, shim []string) {
	var bl, sl []time.Duration
	var baseRSS, shimRSS float64
	// server-everything does not exit when its stdin closes, so a
	// session's Close waits out TerminateDuration; the sessions close in
	// the background and the benchmark waits for them.
	var closing sync.WaitGroup
	defer closing.Wait()
	start := func(env, argv []string, lat []time.Duration, rss *float64) []time.Duration {
		cs, proc, took := startSession(b, env, argv[0], argv[1:]...)
		b.StopTimer()
		kb, err := peakRSS(proc.Pid)
		if err != nil {
			b.Fatal(err)
		}
		*rss = max(*rss, float64(kb)/1024)
		closing.Go(func() { cs.Close() })
		b.StartTimer()
		return append(lat, took)
	}
	for range b.N {
		bl = start(baseEnv, base, bl, &baseRSS)
		sl = start(env, shim, sl, &shimRSS)
	}
	reportAddedAs(b, baseName, bl, sl, time.Millisecond, "ms")
	if shimRSS > 0 {
		b.ReportMetric(baseRSS, baseName+"-rss-MB")
		b.ReportMetric(shimRSS, "shim-rss-MB")
	}
}

// cpuTime is the CPU time the threads of process pid have run, from
// /proc/PID/task/*/schedstat (nanoseconds; a thread that exited is no
// longer counted); 0 where there is no /proc.
func cpuTime(b *testing.B, pid int) time.Duration {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
		if err != nil {
			b.Fatalf("%s: %v", t, err)
		}
		total += time.Duration(ns)
	}
	return total
}

// peakRSS reads a process's peak resident set size in KiB from
// /proc/PID/status; 0 where there is no /proc.
func peakRSS(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if os.IsNotExist(err) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
