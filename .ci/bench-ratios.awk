# Reads `go test -bench` output and prints, for each "measured:baseline" pair
# in PAIRS (space-separated benchmark names without the Benchmark prefix),
# the mean ns/op of both and their ratio. Both sides come from the same run.
/^Benchmark/ {
	name = $1
	sub(/^Benchmark/, "", name)
	sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) if ($(i+1) == "ns/op") { sum[name] += $i; n[name]++ }
}
END {
	split(PAIRS, pairs, " ")
	printf "\n%-40s %14s %14s %8s\n", "measured / baseline", "measured", "baseline", "ratio"
	for (p in pairs) {
		split(pairs[p], mb, ":")
		m = mb[1]; b = mb[2]
		if (!n[m] || !n[b]) { printf "%-40s missing from this run\n", pairs[p]; continue }
		mm = sum[m] / n[m]; bb = sum[b] / n[b]
		printf "%-40s %11.3f ms %11.3f ms %7.1fx\n", m " / " b, mm / 1e6, bb / 1e6, mm / bb
	}
}
