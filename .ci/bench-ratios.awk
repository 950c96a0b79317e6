# Reads `go test -bench` output and prints, for each "measured:baseline" pair
# in PAIRS (space-separated benchmark names without the Benchmark prefix),
# the mean ns/op of both and their ratio. Both sides come from the same run.
# A side may name one of a benchmark's own metrics as NAME@UNIT (for example
# EchoRounds/approved-write@shim-p50-µs): the end-to-end benchmarks measure
# both sides inside one benchmark, in interleaved rounds, and report each as
# a metric. A benchmark whose upstream writes to stderr splits its result
# line; the figures on the following line still belong to the last name seen.
function record(name, from,    i, found) {
	found = 0
	for (i = from; i < NF; i++) {
		if ($(i+1) ~ /^[0-9.eE+-]+$/ || $i !~ /^-?[0-9.eE+]+$/) continue
		unit = $(i+1)
		key = unit == "ns/op" ? name : name "@" unit
		sum[key] += $i; n[key]++; found = 1
	}
	return found
}
/^Benchmark/ {
	name = $1
	sub(/^Benchmark/, "", name)
	sub(/-[0-9]+$/, "", name)
	pending = record(name, 3) ? "" : name
	next
}
pending != "" && /ns\/op/ { if (record(pending, 2)) pending = "" }
END {
	split(PAIRS, pairs, " ")
	printf "\n%-56s %14s %14s %8s\n", "measured / baseline", "measured", "baseline", "ratio"
	for (p = 1; p in pairs; p++) {
		split(pairs[p], mb, ":")
		m = mb[1]; b = mb[2]
		if (!n[m] || !n[b]) { printf "%-56s missing from this run\n", pairs[p]; continue }
		mm = sum[m] / n[m]; bb = sum[b] / n[b]
		if (m ~ /@/) printf "%-56s %14.1f %14.1f %7.2fx\n", m " / " b, mm, bb, mm / bb
		else printf "%-56s %11.3f ms %11.3f ms %7.1fx\n", m " / " b, mm / 1e6, bb / 1e6, mm / bb
	}
}
