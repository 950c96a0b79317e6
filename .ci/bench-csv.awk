# Reads `go test -bench` output and prints CSV rows
# package,benchmark,iterations,value,unit — one row per figure of each
# result line. A benchmark whose upstream writes to its output splits its
# result line; the figures on the following line belong to the last name.
BEGIN { print "package,benchmark,iterations,value,unit" }
/^pkg: / { pkg = $2; next }
function emit(name, from,    i) {
	if ($from !~ /^[0-9]+$/) return 0
	for (i = from + 1; i < NF; i += 2) printf "%s,%s,%s,%s,%s\n", pkg, name, $from, $i, $(i+1)
	return 1
}
/^Benchmark/ {
	name = $1
	sub(/^Benchmark/, "", name)
	sub(/-[0-9]+$/, "", name)
	pending = emit(name, 2) ? "" : name
	next
}
pending != "" && /ns\/op/ { if (emit(pending, 1)) pending = "" }
