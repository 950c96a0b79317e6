#!/usr/bin/env bash
# bench-report.sh OUTDIR — runs the benchmarks BENCHMARKS.md reports, once,
# and writes OUTDIR/BENCHMARKS.md, OUTDIR/bench.csv (every figure),
# OUTDIR/machine.csv and OUTDIR/bench.txt (go test's raw output). `make
# bench-report` runs it with PATH holding .cache/npm's servers.
set -euo pipefail
out=${1:?usage: bench-report.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
GO=${GO:-go}
mkdir -p "$out"

# The shim measured is a release-like build (the flags of make build,
# static as .goreleaser.yaml's CGO_ENABLED=0: a cgo build also maps libc,
# 1.5-2 MB more peak RSS than what ships), not the test binary;
# MCPGOV_BENCH_BASELINE_BIN, when set, names another build whose shim
# start-up is compared with this one's in the same run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/mcpgov
CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w -X github.com/mcpgov/mcpgov/cmd/mcpgov/cli.commit=$(git rev-parse --short=12 HEAD)" -o "$bin" ./cmd/mcpgov
export MCPGOV_BENCH_BIN=$bin
# A binary's peak RSS counts the pages of it that the page cache maps in
# around each fault, so what the build left in the cache swings it (the same
# binary measured 38 and 48 MB): drop its cached pages, as after a reboot or
# an install, and measure from there. A build just written is dirty in the
# cache, and dirty pages are not dropped: sync it first (measured here: 46
# MB with the build's pages left dirty, 35 MB dropped).
for b in "$bin" ${MCPGOV_BENCH_BASELINE_BIN:+"$MCPGOV_BENCH_BASELINE_BIN"}; do sync "$b" && dd if="$b" iflag=nocache count=0 status=none; done

# The commands, as anyone reruns them (with .cache/npm/node_modules/.bin on PATH).
cmds=(
	"$GO test -run '^\$' -bench '^BenchmarkEchoRounds\$' -benchtime 2000x -count 1 ./cmd/mcpgov/"
	"$GO test -run '^\$' -bench '^BenchmarkStartupRounds\$' -benchtime 20x -count 1 ./cmd/mcpgov/"
	"MCPGOV_BENCH_GATEWAY_ROUNDS=5 $GO test -run '^\$' -bench '^BenchmarkGatewayRounds\$' -count 1 ./cmd/mcpgov/"
	"MCPGOV_BENCH_GATEWAY_ROUNDS=3 $GO test -run '^\$' -bench '^BenchmarkBridgeRounds\$' -count 1 ./cmd/mcpgov/"
	"$GO test -run '^\$' -bench '^BenchmarkGuardrail\$' -benchmem -count 1 ./policy/guard/"
	"$GO test -run '^\$' -bench '^Benchmark(RegoDecision|RegoDecisionCached|Pipeline|PipelineRego|DecodeOnly)\$' -benchmem -count 1 ./policy/"
	"$GO test -run '^\$' -bench '^BenchmarkAudit(LoneWrite|LoneFsync|RawLoneFsync|Append|AppendWrite|RawFsync)\$' -benchmem -count 1 ./audit/"
	"$GO test -run '^\$' -bench '^Benchmark(ScanFleetHome|ReadFilesOnly)\$' -benchmem -count 1 ./scan/"
)

everything=$(command -v mcp-server-everything || true)
evver=$(node -e 'console.log(require(process.argv[1]).version)' "$(dirname "$(readlink -f "${everything:-/nonexistent}")")/../package.json" 2>/dev/null || echo "not installed")
{
	echo "key,value"
	echo "date,$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit,$(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- . ':!testdata/bench' || echo -dirty)"
	echo "nproc,$(nproc)"
	echo "memory,$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "cpu,\"$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)\""
	echo "kernel,$(uname -sr)"
	echo "loadavg at start,$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "go,$($GO env GOVERSION)"
	echo "node,$(node --version 2>/dev/null || echo none)"
	echo "server-everything,$evver"
	thv=${MCPGOV_THV:-.cache/bin/thv-v0.47.0}
	echo "thv,$([ -x "$thv" ] && echo "ToolHive v0.47.0 ($(stat -c %s "$thv" | awk '{printf "%.0f MB", $1/1e6}'))" || echo "not built (make thv)")"
	peers=${MCPGOV_BENCH_PEERS:-.cache/npm-peers/node_modules/.bin}
	for p in supergateway mcp-proxy; do
		echo "$p,$(node -e 'console.log(require(process.argv[1]).version)' "$(readlink -f "$peers/../$p/package.json" 2>/dev/null || echo /nonexistent)" 2>/dev/null || echo "not installed (make bench-peers)")"
	done
	echo "mcpgov binary,$(stat -c %s "$bin" | awk '{printf "%.1f MB", $1/1e6}')"
	[ -z "${MCPGOV_BENCH_BASELINE_BIN:-}" ] || echo "baseline binary,$("$MCPGOV_BENCH_BASELINE_BIN" version --json 2>/dev/null | sed -n 's/.*"commit": *"\([^"]*\)".*/commit \1/p' | head -1) ($(stat -c %s "$MCPGOV_BENCH_BASELINE_BIN" | awk '{printf "%.1f MB", $1/1e6}'))"
	echo "audit store filesystem,$(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}')"
} > "$out/machine.csv"

: > "$out/bench.txt"
for c in "${cmds[@]}"; do
	echo "$ $c" | tee -a "$out/bench.txt"
	# go test merges the servers' stderr into its output; the figures stay.
	eval "$c" 2>&1 | grep -v '^Starting default' | tee -a "$out/bench.txt"
done
# Package init, from the runtime's own trace (GODEBUG=inittrace=1): the
# sum of every package's init clock time in `mcpgov version`, 21 starts of
# each build, alternating; the median of each goes into bench.csv.
inits() { GODEBUG=inittrace=1 "$1" version 2>&1 >/dev/null | awk '/^init / {ms += $5; kb += $8} END {printf "%.2f %.0f\n", ms, kb / 1024}'; }
{
	for i in $(seq 21); do
		echo "this $(inits "$bin")"
		[ -z "${MCPGOV_BENCH_BASELINE_BIN:-}" ] || echo "baseline $(inits "$MCPGOV_BENCH_BASELINE_BIN")"
	done
} > "$tmp/init.txt"
for who in this baseline; do
	{ grep "^$who " "$tmp/init.txt" || true; } | sort -k2 -n | awk -v who="$who" '{ms[NR] = $2; kb[NR] = $3} END {if (NR) {m = int((NR + 1) / 2); printf "pkg: init\nBenchmarkPackageInit/%s 1 %s init-ms %s init-KiB\n", who, ms[m], kb[m]}}'
done >> "$out/bench.txt"
awk -f "$here/bench-csv.awk" "$out/bench.txt" > "$out/bench.csv"
awk -F, -v cmds="$(printf '%s\n' "${cmds[@]}")" -f "$here/bench-report.awk" "$out/machine.csv" "$out/bench.csv" > "$out/BENCHMARKS.md"
echo "bench-report: wrote $out/BENCHMARKS.md, bench.csv, machine.csv, bench.txt"
