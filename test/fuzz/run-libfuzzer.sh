#!/bin/bash
# run-libfuzzer.sh FUZZER CORPUS RUNS - a bounded libFuzzer run for the suite:
# new inputs go to a temporary directory (never into the source tree), the
# seed is fixed, one TAP result. A finding is kept in the build directory's
# working directory as crash-* / leak-* / timeout-* and printed.
set -u
fuzzer=$1 corpus=$2 runs=$3
work=$(mktemp -d /tmp/shmfs-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
echo "1..1"
if "$fuzzer" -runs="$runs" -seed=1 -artifact_prefix="$PWD/fuzz-heap-" -max_len=4096 -timeout=20 -rss_limit_mb=1024 \
	-print_final_stats=1 "$work" "$corpus" >"$work/log" 2>&1; then
	echo "ok 1 - libFuzzer: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') runs clean"
else
	sed 's/^/# /' "$work/log" | tail -60
	echo "not ok 1 - libFuzzer found a problem (input saved as crash-*/leak-* in $PWD)"
	exit 1
fi
