package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// The gateway benchmark: server-everything over Streamable HTTP, called
// directly, through `mcpgov gateway serve` (/servers/everything/mcp) and,
// when thv is built (make thv), through ToolHive's `thv vmcp serve`, all
// on the same upstream process, in interleaved rounds so that a change in
// the machine's load lands on every side. Three shapes:
//
//   - serial: one call at a time (a client's felt latency, comparable with
//     the shim hop of BenchmarkEchoRounds);
//   - rate200 and rate1000: open-loop at a fixed rate, calls spread over
//     gatewaySessions sessions, each call on its own goroutine (the
//     dispatcher never waits for an answer);
//   - saturation: gatewayWorkers closed-loop workers for a fixed time;
//     calls/s, and calls per CPU-second of the proxy process (utime +
//     stime from /proc), that is per core.
//
// Each round starts with another side (rotated), so that no side always
// follows the same one. Each side's p50 and p99 are reported, and for the proxies the added p50
// and p99 (the side's percentile minus direct's in the same run). The
// saturation shape also reports, for each mcpgov side, the heap
// allocations and bytes per call of the gateway process (from its own
// /metrics, read before and after).
//
// The sides: direct; gateway (the catalog alone); guarded (the starter
// Rego policies and every guardrail enforced), with audit durability write
// and fsync and with tracing; governed, the figure the per-core aim is
// about: guarded with authentication on (a personal token the gateway
// issued, verified on every request) and the audit trail in the default
// durability; with MCPGOV_BENCH_BASELINE_BIN set, governed-base, the same
// served by that other build (a before/after in one run); and vmcp when
// ToolHive's thv is built.
//
// MCPGOV_BENCH_GATEWAY_ROUNDS (default 3) sets the rounds a shape runs per
// side; MCPGOV_BENCH_GATEWAY_SIDES (a comma-separated list of side names)
// keeps only those sides and direct. MCPGOV_BENCH_CPUPROFILE=FILE writes
// the CPU profile of one side's gateway (MCPGOV_BENCH_CPUPROFILE_SIDE,
// default governed) during one shape (MCPGOV_BENCH_CPUPROFILE_SHAPE,
// default saturation; rate1000 profiles at a fixed rate), only when that
// gateway is this test binary, not MCPGOV_BENCH_BIN.

const (
	gatewaySessions = 8
	gatewayWorkers  = 32
	// thvVersion is the ToolHive release `make thv` builds (DESIGN §9).
	thvVersion = "v0.47.0"
)

// benchProfileHook is the CPU profile hook TestMain runs before the
// mcpgov command: a gateway started by this test binary with
// MCPGOV_BENCH_CPUPROFILE set profiles between SIGUSR1 and SIGUSR2, and
// at SIGUSR2 also writes its allocation profile to FILE.allocs; the
// benchmark signals it around one side's shape. The files are complete
// when FILE.done exists.
func benchProfileHook() {
	path := os.Getenv("MCPGOV_BENCH_CPUPROFILE")
	if path == "" || len(os.Args) < 3 || os.Args[1] != "gateway" {
		return
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var f *os.File
		for s := range sig {
			switch {
			case s == syscall.SIGUSR1 && f == nil:
				var err error
				if f, err = os.Create(path); err == nil {
					err = pprof.StartCPUProfile(f)
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: cpu profile: %v\n", err)
				}
			case s == syscall.SIGUSR2 && f != nil:
				pprof.StopCPUProfile()
				f.Close()
				f = nil
				// The allocations since start, beside it (FILE.allocs):
				// after the warm-up, the calls' own dominate.
				if a, err := os.Create(path + ".allocs"); err == nil {
					_ = pprof.Lookup("allocs").WriteTo(a, 0)
					a.Close()
				}
				os.WriteFile(path+".done", nil, 0o644)
			}
		}
	}()
}

// gatewaySide is one way to reach server-everything's echo tool.
type gatewaySide struct {
	name     string
	url      string
	proc     *os.Process // the proxy; nil for direct
	base     string      // an mcpgov gateway's base URL (its /metrics); "" for the others
	token    string      // the bearer token its requests carry; "" for none
	profiled bool        // this test binary, which profiles on SIGUSR1 (benchProfileHook)
	sessions []*rawSession
}

// BenchmarkGatewayRounds measures the gateway hop; see the comment above.
func BenchmarkGatewayRounds(b *testing.B) {
	needEverything(b)
	upstream := startEverythingBench(b)
	keep := benchSideFilter()
	sides := []*gatewaySide{{name: "direct", url: upstream}}
	gw := func(name, bundle, durability string, args ...string) {
		if !keep(name) {
			return
		}
		base, proc := startBenchGateway(b, bundle, durability, args...)
		sides = append(sides, &gatewaySide{name: name, url: base + "/servers/everything/mcp", proc: proc, base: base,
			profiled: os.Getenv("MCPGOV_BENCH_BIN") == ""})
	}
	// approved: the catalog alone (and the audit trail); guarded: the
	// starter Rego policies and every guardrail enforced, audit durability
	// write (the default) and fsync.
	gw("gateway", writeHTTPBundle(b, upstream, false), "write")
	gw("guarded", writeHTTPBundle(b, upstream, true), "write")
	gw("guarded-fsync", writeHTTPBundle(b, upstream, true), "fsync")
	// guarded with a span per request sent over OTLP/HTTP (to a
	// loopback receiver that discards them): what tracing adds.
	gw("guarded-traced", writeHTTPBundle(b, upstream, true), "write", "--otlp-traces", otlpDiscard(b))
	// governed: everything on, authentication included.
	governed := writeHTTPBundle(b, upstream, true)
	if keep("governed") {
		sides = append(sides, startGovernedGateway(b, "governed", os.Getenv("MCPGOV_BENCH_BIN"), governed))
	}
	if bin := os.Getenv("MCPGOV_BENCH_BASELINE_BIN"); bin != "" && keep("governed-base") {
		sides = append(sides, startGovernedGateway(b, "governed-base", bin, governed))
	}
	if !keep("vmcp") {
	} else if thv := thvBinary(); thv == "" {
		// On the output itself: a parent benchmark's log is not shown.
		fmt.Printf("BenchmarkGatewayRounds: ToolHive's thv %s is not built (make thv builds it into .cache/bin, or set MCPGOV_THV): the vmcp side is left out\n", thvVersion)
	} else {
		base, proc := startVMCP(b, thv, upstream)
		sides = append(sides, &gatewaySide{name: "vmcp", url: base + "/mcp", proc: proc})
	}
	for _, s := range sides {
		for range gatewaySessions {
			s.sessions = append(s.sessions, openRawSession(b, s.url, s.token))
		}
		for i := range 100 { // warm up connections, caches and JITs
			if err := s.sessions[i%len(s.sessions)].echo(); err != nil {
				b.Fatal(err)
			}
		}
	}
	profile := newBenchProfile(b, sides)
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("MCPGOV_BENCH_GATEWAY_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}

	b.Run("serial", func(b *testing.B) {
		lat := make([][]time.Duration, len(sides))
		for round := range rounds * 3 {
			for i, s := range rotated(sides, round) {
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
	for _, rate := range []int{200, 1000} {
		shape := "rate" + strconv.Itoa(rate)
		b.Run(shape, func(b *testing.B) {
			lat := make([][]time.Duration, len(sides))
			for round := range rounds {
				for i, s := range rotated(sides, round) {
					profile.start(shape, s)
					lat[i] = append(lat[i], openLoop(b, s, rate, time.Second)...)
					profile.stop(shape, s)
				}
			}
			reportSides(b, sides, lat)
		})
	}
	b.Run("saturation", func(b *testing.B) {
		calls := make([]int, len(sides))
		cpu := make([]time.Duration, len(sides))
		heap := make([]heapUse, len(sides))
		var wall time.Duration
		for round := range rounds {
			for i, s := range rotated(sides, round) {
				before := readHeapUse(b, s)
				profile.start("saturation", s)
				n, c := saturate(b, s, 2*time.Second)
				profile.stop("saturation", s)
				calls[i] += n
				cpu[i] += c
				heap[i] = heap[i].add(readHeapUse(b, s).sub(before))
			}
			wall += 2 * time.Second
		}
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "gomaxprocs")
		for i, s := range sides {
			b.ReportMetric(float64(calls[i])/wall.Seconds(), s.name+"-calls/s")
			if s.proc != nil && cpu[i] > 0 {
				b.ReportMetric(float64(calls[i])/cpu[i].Seconds(), s.name+"-calls/cpu-s")
			}
			if s.base != "" && calls[i] > 0 {
				b.ReportMetric(heap[i].allocs/float64(calls[i]), s.name+"-allocs/call")
				b.ReportMetric(heap[i].bytes/float64(calls[i]), s.name+"-B/call")
			}
		}
	})
	profile.wait()
}

// rotated yields the sides with their index, starting with a different
// one each round: a side does not always follow the same other side
// (whose backlog at the upstream, or load, it would inherit).
func rotated(sides []*gatewaySide, round int) iter.Seq2[int, *gatewaySide] {
	return func(yield func(int, *gatewaySide) bool) {
		for k := range sides {
			i := (k + round) % len(sides)
			if !yield(i, sides[i]) {
				return
			}
		}
	}
}

// benchSideFilter reads MCPGOV_BENCH_GATEWAY_SIDES: the sides to run
// (direct always runs); every side when it is unset.
func benchSideFilter() func(string) bool {
	v := os.Getenv("MCPGOV_BENCH_GATEWAY_SIDES")
	if v == "" {
		return func(string) bool { return true }
	}
	names := strings.Split(v, ",")
	return func(name string) bool { return slices.Contains(names, name) }
}

// benchProfile profiles one side's gateway during one shape (see
// BenchmarkGatewayRounds): it signals the process (benchProfileHook) as
// the side's first round of the shape starts and as its last one ends.
type benchProfile struct {
	b           *testing.B
	path, shape string
	side        *gatewaySide
	started     bool
	stopped     int
	rounds      int
}

func newBenchProfile(b *testing.B, sides []*gatewaySide) *benchProfile {
	p := &benchProfile{b: b, path: os.Getenv("MCPGOV_BENCH_CPUPROFILE"), shape: os.Getenv("MCPGOV_BENCH_CPUPROFILE_SHAPE")}
	if p.path == "" {
		return p
	}
	if p.shape == "" {
		p.shape = "saturation"
	}
	name := os.Getenv("MCPGOV_BENCH_CPUPROFILE_SIDE")
	if name == "" {
		name = "governed"
	}
	for _, s := range sides {
		if s.name == name && s.profiled {
			p.side = s
		}
	}
	if p.side == nil {
		fmt.Printf("BenchmarkGatewayRounds: no side %q served by this test binary to profile (MCPGOV_BENCH_CPUPROFILE_SIDE; MCPGOV_BENCH_BIN unset)\n", name)
		return p
	}
	p.rounds = 3
	if v, err := strconv.Atoi(os.Getenv("MCPGOV_BENCH_GATEWAY_ROUNDS")); err == nil && v > 0 {
		p.rounds = v
	}
	os.Remove(p.path + ".done")
	return p
}

// start begins the profile at the side's first round of its shape.
func (p *benchProfile) start(shape string, s *gatewaySide) {
	if p.side != s || shape != p.shape || p.started {
		return
	}
	p.started = true
	s.proc.Signal(syscall.SIGUSR1)
}

// stop ends it after the side's last round of the shape.
func (p *benchProfile) stop(shape string, s *gatewaySide) {
	if p.side != s || shape != p.shape {
		return
	}
	if p.stopped++; p.stopped == p.rounds {
		s.proc.Signal(syscall.SIGUSR2)
	}
}

// wait returns once a profile that was taken is written.
func (p *benchProfile) wait() {
	if !p.started {
		return
	}
	await.Until(p.b, "the gateway's CPU profile", func() bool {
		_, err := os.Stat(p.path + ".done")
		return err == nil
	})
}

// heapUse is a gateway process's heap allocations so far: objects and
// bytes, from the Go runtime's counters on its /metrics.
type heapUse struct{ allocs, bytes float64 }

func (h heapUse) add(o heapUse) heapUse { return heapUse{h.allocs + o.allocs, h.bytes + o.bytes} }
func (h heapUse) sub(o heapUse) heapUse { return heapUse{h.allocs - o.allocs, h.bytes - o.bytes} }

// readHeapUse reads s's gateway's allocation counters; zero for a side
// that is not an mcpgov gateway.
func readHeapUse(b *testing.B, s *gatewaySide) heapUse {
	if s.base == "" {
		return heapUse{}
	}
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var h heapUse
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		switch {
		case err != nil:
		case name == "go_memstats_mallocs_total":
			h.allocs = v
		case name == "go_memstats_alloc_bytes_total":
			h.bytes = v
		}
	}
	if h.allocs == 0 {
		b.Fatalf("%s/metrics: no go_memstats_mallocs_total", s.base)
	}
	return h
}

// reportSides reports each side's p50 and p99 and, for every side but
// direct (the first), the added ones.
func reportSides(b *testing.B, sides []*gatewaySide, lat [][]time.Duration) {
	at := func(l []time.Duration, q float64) float64 {
		return float64(l[int(q*float64(len(l)-1))]) / float64(time.Microsecond)
	}
	for i := range lat {
		slices.Sort(lat[i])
	}
	for i, s := range sides {
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.50}, {"p99", 0.99}} {
			v := at(lat[i], q.q)
			b.ReportMetric(v, s.name+"-"+q.name+"-µs")
			if i > 0 {
				b.ReportMetric(v-at(lat[0], q.q), s.name+"-added-"+q.name+"-µs")
			}
		}
	}
}

// openLoop calls echo on s at rate calls per second for d, each call on
// its own goroutine, and returns the calls' latencies, each measured from
// the moment its request is sent.
func openLoop(b *testing.B, s *gatewaySide, rate int, d time.Duration) []time.Duration {
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() {
			t := time.Now()
			if err := s.sessions[i%len(s.sessions)].echo(); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(t)
		})
	}
	wg.Wait()
	return lat
}

// saturate runs gatewayWorkers closed-loop workers on s for d and returns
// the calls answered and the CPU time the proxy process spent meanwhile.
func saturate(b *testing.B, s *gatewaySide, d time.Duration) (int, time.Duration) {
	var calls atomic.Int64
	before := procCPU(b, s.proc)
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range gatewayWorkers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if err := s.sessions[w%len(s.sessions)].echo(); err != nil {
					b.Error(err)
					return
				}
				calls.Add(1)
			}
		})
	}
	wg.Wait()
	return int(calls.Load()), procCPU(b, s.proc) - before
}

// procCPU is a process's user and system CPU time so far, from
// /proc/PID/stat; 0 for no process or where there is no /proc.
func procCPU(b *testing.B, p *os.Process) time.Duration {
	if p == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if os.IsNotExist(err) {
		return 0
	} else if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses:
	// utime and stime are fields 14 and 15, in clock ticks (USER_HZ, 100
	// on Linux).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rawSession is a minimal Streamable HTTP client session: one initialize,
// then tools/call requests with the session id, answers read whole. The
// load generator stays light so that the machine's cores go to the sides.
type rawSession struct {
	url, id, version string
	token            string // sent as a bearer token when set
	client           *http.Client
	next             atomic.Int64
}

var benchTransport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}

// openRawSession opens a session at url; a token, when set, goes with
// every request as a bearer token.
func openRawSession(tb testing.TB, url, token string) *rawSession {
	tb.Helper()
	s := &rawSession{url: url, token: token, client: &http.Client{Transport: benchTransport}}
	var answer []byte
	await.Until(tb, "initialize answered by "+url, func() bool {
		resp, body, err := s.post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
		if err != nil || resp.StatusCode != 200 {
			return false
		}
		s.id, answer = resp.Header.Get("Mcp-Session-Id"), body
		return true
	})
	_, after, ok := bytes.Cut(answer, []byte(`"protocolVersion":"`))
	if !ok {
		tb.Fatalf("initialize at %s: no protocol version in %s", url, answer)
	}
	s.version = string(after[:bytes.IndexByte(after, '"')])
	if resp, body, err := s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil || resp.StatusCode/100 != 2 {
		tb.Fatalf("notifications/initialized at %s: %v %s", url, err, body)
	}
	return s
}

func (s *rawSession) post(body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), "POST", s.url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
	}
	if s.version != "" {
		req.Header.Set("MCP-Protocol-Version", s.version)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

// echo calls the echo tool; an answer that is not the echo is an error.
func (s *rawSession) echo() error {
	id := s.next.Add(1)
	resp, body, err := s.post(`{"jsonrpc":"2.0","id":` + strconv.FormatInt(id, 10) + `,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`)
	if err != nil {
		return fmt.Errorf("echo at %s: %w", s.url, err)
	}
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("Echo: hello")) || bytes.Contains(body, []byte(`"isError":true`)) {
		return fmt.Errorf("echo at %s: %s %s", s.url, resp.Status, body)
	}
	return nil
}

// startEverythingBench runs server-everything in Streamable HTTP mode on a
// free loopback port and returns its /mcp URL.
func startEverythingBench(tb testing.TB) string {
	tb.Helper()
	addr := freeAddr(tb)
	_, port, _ := strings.Cut(addr, ":")
	startBenchProcess(tb, sandboxEnv(tb, "PORT="+port), "mcp-server-everything", "streamableHttp")
	await.Until(tb, "server-everything listening on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "http://" + addr + "/mcp"
}

// startBenchProcess starts a process in its own group, its output
// drained (and shown with -v), signalled with SIGTERM and then killed
// with its group when the benchmark ends.
func startBenchProcess(tb testing.TB, env []string, name string, args ...string) *os.Process {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if testing.Verbose() {
				fmt.Fprintf(os.Stderr, "%s: %s\n", filepath.Base(name), sc.Text())
			}
		}
		io.Copy(io.Discard, out)
	}()
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		if !await.Closed(tb, done) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		<-copied
	})
	return cmd.Process
}

// writeHTTPBundle writes a catalog approving server-everything at url
// and, when guarded, the starter Rego policies and every guardrail
// enforced (as writeGuardedBundle does for the stdio server).
func writeHTTPBundle(tb testing.TB, url string, guarded bool) string {
	tb.Helper()
	dir := tb.TempDir()
	cat := fmt.Sprintf("[catalog]\nname = \"bench\"\nmode = \"enforce\"\n\n[servers.everything]\nstatus = \"approved\"\n[servers.everything.launch]\nurl = %q\n", url)
	if err := os.WriteFile(filepath.Join(dir, "catalog.toml"), []byte(cat), 0o644); err != nil {
		tb.Fatal(err)
	}
	if !guarded {
		return dir
	}
	tmp := tb.TempDir()
	if _, err := catalog.WriteStarter(tmp); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, "policies"), filepath.Join(dir, "policies")); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "guardrails.toml"), []byte(guardedGuardrails), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// startBenchGateway runs `mcpgov gateway serve --allow-anonymous` (the
// MCPGOV_BENCH_BIN build when set) on bundle with the audit trail in the
// given durability mode, and returns its base URL and process.
func startBenchGateway(tb testing.TB, bundle, durability string, args ...string) (string, *os.Process) {
	tb.Helper()
	return startBenchGatewayEnv(tb, os.Getenv("MCPGOV_BENCH_BIN"), durabilityEnv(tb, durability), bundle, append([]string{"--allow-anonymous"}, args...)...)
}

// startBenchGatewayEnv runs `bin gateway serve` (mcpgov, this test
// binary, when bin is "") with env on bundle, and returns its base URL
// and process.
func startBenchGatewayEnv(tb testing.TB, bin string, env []string, bundle string, args ...string) (string, *os.Process) {
	tb.Helper()
	addr := freeAddr(tb)
	if bin == "" {
		bin = "mcpgov"
	}
	proc := startBenchProcess(tb, env, bin, append([]string{"gateway", "serve", "--bundle", bundle, "--listen", addr}, args...)...)
	base := "http://" + addr
	await.Until(tb, "the gateway answering /readyz", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return base, proc
}

// startGovernedGateway runs `bin gateway serve` (this test binary when
// bin is "") on bundle with every check on: no anonymous access, a
// personal token it issued (`gateway token create`, its groups those of
// the starter policies' callers) sent with every request, and the audit
// trail in the default durability (write).
func startGovernedGateway(tb testing.TB, name, bin, bundle string) *gatewaySide {
	tb.Helper()
	env := durabilityEnv(tb, "write")
	cmd := bin
	if cmd == "" {
		cmd = "mcpgov"
	}
	mint := exec.Command(cmd, "gateway", "token", "create", "--user", "bench@example.com", "--groups", "eng", "--expires", "1d", "--json")
	mint.Env = env
	out, err := mint.Output()
	if err != nil {
		tb.Fatalf("%s gateway token create: %v", cmd, err)
	}
	var issued struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &issued); err != nil || issued.Token == "" {
		tb.Fatalf("%s gateway token create: %v\n%s", cmd, err, out)
	}
	base, proc := startBenchGatewayEnv(tb, bin, env, bundle)
	return &gatewaySide{name: name, url: base + "/servers/everything/mcp", proc: proc, base: base, token: issued.Token, profiled: bin == ""}
}

// thvBinary is ToolHive's thv as make thv builds it (MCPGOV_THV names
// another), or "" when it is not built.
func thvBinary() string {
	path := os.Getenv("MCPGOV_THV")
	if path == "" {
		path = filepath.Join("..", "..", ".cache", "bin", "thv-"+thvVersion)
	}
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	abs, _ := filepath.Abs(path)
	return abs
}

// startVMCP runs ToolHive's vMCP gateway (`thv vmcp serve`) with one
// static backend, the upstream at url over Streamable HTTP, anonymous
// inbound, and returns its base URL and process.
func startVMCP(tb testing.TB, thv, url string) (string, *os.Process) {
	tb.Helper()
	addr := freeAddr(tb)
	host, port, _ := strings.Cut(addr, ":")
	cfg := filepath.Join(tb.TempDir(), "vmcp.yaml")
	yaml := fmt.Sprintf(`name: bench
groupRef: bench
backends:
  - name: everything
    url: %q
    transport: streamable-http
incomingAuth:
  type: anonymous
outgoingAuth:
  source: inline
  default:
    type: unauthenticated
aggregation:
  conflictResolution: priority
  conflictResolutionConfig:
    priorityOrder: [everything]
`, url)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		tb.Fatal(err)
	}
	proc := startBenchProcess(tb, sandboxEnv(tb, "TOOLHIVE_SKIP_UPDATE_CHECK=true"), thv, "vmcp", "serve", "--config", cfg, "--host", host, "--port", port)
	return "http://" + addr, proc
}

// otlpDiscard is an OTLP/HTTP endpoint on loopback that accepts and
// discards what it is sent.
func otlpDiscard(tb testing.TB) string {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	tb.Cleanup(ts.Close)
	return ts.URL
}
