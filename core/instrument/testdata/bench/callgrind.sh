#!/bin/sh
# Instruction counts of the safepoint corpus under callgrind: deterministic
# where wall time on a shared machine is not. For each program and variant
# of BenchmarkSafepointCalls, the test binary runs once with 1 and once with
# 3 calls; half the difference of the two totals is one call (setup,
# compilation and the runtime's own work cancel out). GOGC=off,
# GOMAXPROCS=1 and no asynchronous preemption keep the Go runtime's share
# the same in both runs (callgrind also aborts on Go's preemption signals).
#
# Usage, from core/instrument: sh testdata/bench/callgrind.sh [program ...]
# Prints: program, instructions per call per variant, and each variant's
# overhead against the first. Needs valgrind; takes minutes.
set -eu
bin=$(mktemp -d)/instrument.test
go test -c -o "$bin" .
programs=${*:-$(sed -n 's/^\t{"\([a-z0-9-]*\)", "[^"]*", "[a-z]*", .*/\1/p' corpus_test.go)}
variants=$(sed -n '/^var corpusVariants/,/^}/s/^\t{"\([a-z-]*\)".*/\1/p' corpus_test.go)
count() { # program variant calls
	GOGC=off GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --smc-check=all \
		--callgrind-out-file=/dev/null "$bin" -test.run '^$' -test.bench "^BenchmarkSafepointCalls\$/^$1\$/^$2\$" \
		-test.benchtime "$3x" 2>&1 | sed -n 's/.*refs: *//p' | tr -d ,
}
for p in $programs; do
	line=$p
	base=
	for v in $variants; do
		one=$(count "$p" "$v" 1)
		three=$(count "$p" "$v" 3)
		per=$(( (three - one) / 2 ))
		line="$line $v=$per"
		if [ -z "$base" ]; then
			base=$per
		else
			line="$line ($(awk "BEGIN { printf \"%+.1f%%\", 100 * ($per / $base - 1) }"))"
		fi
	done
	echo "$line"
done
