#!/bin/bash
# test.sh - run the whole test suite on this machine, as CI does: install what
# is missing, build, run unit + integration + VM tests, then the unit and
# integration tests again under AddressSanitizer+UBSan, and the threaded tests
# under ThreadSanitizer. Needs root (tests mount shmfs and reserve huge pages;
# they put the pools and mounts back as they found them).
# Ends with one line "N passed, N failed"; before it, the tests skipped (each
# with its reason; they count neither way) and the failed ones.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: run as root: the tests mount filesystems and reserve huge pages" >&2
	exit 1
fi
tools/deps.sh || exit 1

passed=0
failed=0
status=0
# the failed tests and their failing results, listed again at the end
skipped=0
failures=$(mktemp)
skips=$(mktemp)
trap 'rm -f "$failures" "$skips"' EXIT

# run_build DIR MESON-OPTIONS... -- MESON-TEST-ARGS...
run_build() {
	local dir=$1; shift
	local setup=() testargs=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do setup+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	testargs=("$@")
	echo "=== $dir: meson setup ${setup[*]}"
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "${setup[@]}" >/dev/null || { status=1; failed=$((failed + 1)); return; }
	else
		meson setup "$dir" "${setup[@]}" >/dev/null || { status=1; failed=$((failed + 1)); return; }
	fi
	if ! ninja -C "$dir" >"$dir.ninja.log" 2>&1; then
		cat "$dir.ninja.log"
		status=1; failed=$((failed + 1)); return
	fi
	echo "=== $dir: meson test ${testargs[*]}"
	meson test -C "$dir" --print-errorlogs "${testargs[@]}" || status=1
	# Count the individual TAP/cmocka results, not just the test programs.
	read -r p f k < <(python3 - "$dir/meson-logs/testlog.json" "$dir" 3>>"$failures" 4>>"$skips" <<'PY'
import json, os, re, sys
p = f = k = 0
names = os.fdopen(3, "w")
skipped = os.fdopen(4, "w")
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout") or ""
    oks = len(re.findall(r"^ok \d+", out, re.M))
    noks = len(re.findall(r"^not ok \d+", out, re.M))
    skips = re.findall(r"^ok \d+.*# SKIP.*$", out, re.M)
    if oks + noks == 0:
        if t["result"] == "SKIP":
            plan = re.search(r"^1\.\.0 *# *SKIP.*$", out, re.M)
            skips = [plan.group(0) if plan else "1..0 # SKIP"]
            oks = 1
        elif t["result"] in ("OK", "EXPECTEDFAIL"):
            oks = 1
        else:
            noks = 1
    elif t["result"] not in ("OK", "EXPECTEDFAIL", "SKIP") and noks == 0:
        noks = 1  # crashed or timed out after its last result
    if noks:
        names.write("%s: %s (%s)\n" % (sys.argv[2], t["name"], t["result"]))
        for m in re.findall(r"^not ok \d+.*$", out, re.M)[:10]:
            names.write("    %s\n" % m)
    for m in skips:
        skipped.write("%s: %s: %s\n" % (sys.argv[2], t["name"], m))
    p += oks - len(skips); f += noks; k += len(skips)
print(p, f, k)
PY
)
	skipped=$((skipped + k))
	passed=$((passed + p)); failed=$((failed + f))
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# SHMFS_TEST_BUILDS picks the passes (default all three: "normal asan tsan").
builds=" ${SHMFS_TEST_BUILDS:-normal asan tsan} "
[[ $builds == *" normal "* ]] && run_build build-test --
[[ $builds == *" asan "* ]] &&
	run_build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dvm_tests=false -- --no-suite vm
[[ $builds == *" tsan "* ]] &&
	run_build build-tsan -Db_sanitize=thread -Dvm_tests=false -- --suite threads

if [ -s "$skips" ]; then
	echo "=== skipped ($skipped; each says why):"
	cat "$skips"
fi
if [ -s "$failures" ]; then
	echo "=== failed:"
	cat "$failures"
fi
echo "$passed passed, $failed failed"
[ $status -eq 0 ] && [ $failed -eq 0 ]
