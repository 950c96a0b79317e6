#!/usr/bin/env bash
# bench-compare.sh BASE — the relay hop and shim start-up of this tree
# against revision BASE, in one run (STYLE rule 15): both builds serve the
# same bundle and server, in interleaved rounds, so the machine's load lands
# on both. `make bench-compare BASE=rev` runs it with .cache/npm's servers
# on PATH.
set -euo pipefail
base=${1:?usage: bench-compare.sh BASE}
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach -q "$tmp/base" "$base"
flags=(-trimpath -ldflags "-s -w")
# Static, as released (.goreleaser.yaml CGO_ENABLED=0).
(cd "$tmp/base" && CGO_ENABLED=0 $GO build "${flags[@]}" -o "$tmp/mcpgov-base" ./cmd/mcpgov)
CGO_ENABLED=0 $GO build "${flags[@]}" -o "$tmp/mcpgov" ./cmd/mcpgov
# figures keeps go test's result lines; the servers' own stderr lands in
# the same stream, sometimes mid-line.
figures() { sed 's/Starting default (STDIO) server\.\.\.//' | grep -E '^Benchmark|ns/op|^ok|FAIL'; }
export MCPGOV_BENCH_BIN=$tmp/mcpgov MCPGOV_BENCH_BASELINE_BIN=$tmp/mcpgov-base
# Peak RSS counts the pages of the binary the page cache maps in around each
# fault: both builds start from their cached pages dropped (bench-report.sh).
for b in "$MCPGOV_BENCH_BIN" "$MCPGOV_BENCH_BASELINE_BIN"; do sync "$b" && dd if="$b" iflag=nocache count=0 status=none; done
# One build on both sides reads up to a tenth better on this build's side
# (started second): for a small change, rerun with BASE's build as this
# side (echoRoundsBaseline).
echo "== end to end: a go-sdk client over real pipes, server-everything direct, $base's shim (baseline-*) and this build's, each shim's added-* over direct"
$GO test -run '^$' -bench '^BenchmarkEchoRounds$/(approved|guarded)-write-vs-baseline' -benchtime "${ECHO_CALLS:-2000}x" -count 1 ./cmd/mcpgov/ 2>&1 | figures
$GO test -run '^$' -bench '^BenchmarkStartupRounds$/approved-vs-baseline' -benchtime 20x -count 1 ./cmd/mcpgov/ 2>&1 | figures
echo "== in process: BenchmarkRelayHop, alternating trees"
for i in 1 2 3; do
	(cd "$tmp/base" && $GO test -run '^$' -bench '^BenchmarkRelayHop(Recorded)?$' -benchmem -count 1 ./shim/ | sed -n "s/^Benchmark/base  Benchmark/p")
	$GO test -run '^$' -bench '^BenchmarkRelayHop(Recorded)?$' -benchmem -count 1 ./shim/ | sed -n "s/^Benchmark/this  Benchmark/p"
done
