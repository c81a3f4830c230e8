#!/bin/bash
# meta.sh - what asking the daemon about regions costs (issue 15), measured
# side by side with tmpfs and raw hugetlbfs in one run and printed as ratios:
#   create + size + unlink of a huge region   vs hugetlbfs (with fallocate)  goal <= 3x
#   create + size + unlink of a normal region vs tmpfs (with fallocate)      goal <= 10x
#   getfattr -d of every region, 1,000        vs tmpfs files with 12 user.*  goal <= 3x
#   sizing a 1 GiB normal region              vs numactl --membind fallocate goal <= 1.5x
# and a growth table, for 100, 1,000 and 10,000 regions (SHMFS_META_COUNTS,
# e.g. "100 1000 10000 100000" for the full one): per region, the cost of
# making it, of `ls -l`, of `getfattr -d` of all and of `shmfsctl info`, each
# beside tmpfs where tmpfs has an equivalent, and the daemon's RSS. Cost per
# region should stay flat as the count grows (goal: within 1.5x from 1,000
# to 100,000; RSS <= 1 KB per region).
# It sets up its own mount, tmpfs, hugetlbfs and pools through the test
# harness (same lock, same cleanup). Run: meson test -C BUILD --benchmark meta
BENCH_NAME=meta
. "$SHMFS_SOURCE_ROOT/bench/fs/common.sh"

COUNTS=${SHMFS_META_COUNTS:-100 1000 10000}
ATTRS=12   # attributes a region shows to getfattr -d (about)

now() { date +%s%N; }

best_of() {   # N CMD...: the best wall time (ns) of N runs
	local n=$1 i t best=; shift
	for i in $(seq "$n"); do
		t=$(now); "$@" >/dev/null 2>&1 || die "failed: $*"; t=$(( $(now) - t ))
		[ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
	done
	echo "$best"
}

us() { awk -v ns="$1" -v n="${2:-1}" 'BEGIN { printf "%.1f", ns / n / 1000 }'; }

report() {   # NAME SHMFS BASELINE UNIT GOAL
	printf '%-44s shmfs %10s %-3s baseline %10s %-3s ratio %6s  (goal %s)\n' \
		"$1" "$2" "$4" "$3" "$4" "$(ratio "$2" "$3")" "$5"
}

getfattr_all() { find "$1" -maxdepth 1 -name 'r*' -print0 | xargs -0 -r getfattr -d >/dev/null; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DAEMON_PID/status"; }

fs_no_overcommit
t_pool_grow huge "$N" 8 || die "cannot reserve 8 huge pages on node$N"
bench_mounts 4G
t_mount || die "cannot mount shmfs"
H=$T_MNT/huge/node$N
R=$T_MNT/normal/node$N
echo "# shmfs $(uname -r), $(nproc) cpus, $(date -u +%FT%TZ), node $N"

# create + size + unlink: a huge region against hugetlbfs, a normal one
# against tmpfs (fallocate, so both take their pages)
cycle_best() {   # DIR SIZE MODE: the best of 3 runs of 300 cycles (ns per cycle)
	local i x best=
	for i in 1 2 3; do
		x=$("$FSBENCH" cycle "$1" 300 "$2" "$3") || die "cycle in $1"
		[ -z "$best" ] || awk -v x="$x" -v b="$best" 'BEGIN { exit !(x < b) }' && best=$x
	done
	echo "$best"
}
a=$(cycle_best "$H" "$HP" truncate); b=$(cycle_best "$HUGETLBFS" "$HP" fallocate)
report "create+size+unlink, huge region" "$(us "$a")" "$(us "$b")" us "<= 3"
a=$(cycle_best "$R" 4096 truncate); b=$(cycle_best "$TMPFS" 4096 fallocate)
report "create+size+unlink, normal region (4 KiB)" "$(us "$a")" "$(us "$b")" us "<= 10"

# sizing a 1 GiB normal region (the daemon places and verifies it) against
# tmpfs fallocate under the same node binding
size_shmfs() { truncate -s "$GIB" "$R/big" && rm -f "$R/big"; }
size_tmpfs() { numactl --membind="$N" fallocate -l "$GIB" "$TMPFS/big" && rm -f "$TMPFS/big"; }
read -r a b < <(best_pair 3 size_shmfs -- size_tmpfs)
report "sizing a 1 GiB normal region" "$(us "$a")" "$(us "$b")" us "<= 1.5"
truncate -s "$GIB" "$R/big" || die "cannot size a 1 GiB region"
echo "# daemon RssShmem after sizing 1 GiB: $(awk '/^RssShmem:/ { print $2, $3 }' "/proc/$T_DAEMON_PID/status")"
rm -f "$R/big"

# the growth table
printf '\n%-8s %-22s %12s %12s %8s\n' regions "per region" shmfs tmpfs ratio
rss0=$(rss_kb)
for n in $COUNTS; do
	t=$(now); "$FSBENCH" mkfiles "$R" "$n" 4096 >/dev/null || die "cannot make $n regions"
	a=$(( $(now) - t ))
	t=$(now); "$FSBENCH" mkfiles "$TMPFS" "$n" 4096 "$ATTRS" >/dev/null || die "cannot make $n tmpfs files"
	b=$(( $(now) - t ))
	printf '%-8s %-22s %9s us %9s us %8s\n' "$n" "create+size" "$(us "$a" "$n")" "$(us "$b" "$n")" "$(ratio "$a" "$b")"
	ls -l "$R" >/dev/null; ls -l "$TMPFS" >/dev/null   # warm both
	read -r a b < <(best_pair 3 ls -l "$R" -- ls -l "$TMPFS")
	printf '%-8s %-22s %9s us %9s us %8s\n' "$n" "ls -l (warm)" "$(us "$a" "$n")" "$(us "$b" "$n")" "$(ratio "$a" "$b")"
	read -r a b < <(best_pair 2 getfattr_all "$R" -- getfattr_all "$TMPFS")
	printf '%-8s %-22s %9s us %9s us %8s\n' "$n" "getfattr -d of all" "$(us "$a" "$n")" "$(us "$b" "$n")" "$(ratio "$a" "$b")"
	a=$(best_of 2 "$SHMFSCTL_BIN" --mount "$T_MNT" info)
	printf '%-8s %-22s %9s us %12s %8s   (whole: %s ms)\n' "$n" "shmfsctl info" "$(us "$a" "$n")" - - \
		"$(awk -v a="$a" 'BEGIN { printf "%.0f", a / 1e6 }')"
	rss=$(rss_kb)
	printf '%-8s %-22s %9s B  %12s %8s   (daemon VmRSS %s KiB)\n' "$n" "daemon RSS" \
		"$(awk -v r="$rss" -v r0="$rss0" -v n="$n" 'BEGIN { printf "%.0f", (r - r0) * 1024 / n }')" - - "$rss"
	find "$R" -maxdepth 1 -name 'r*' -delete
	find "$TMPFS" -maxdepth 1 -name 'r*' -delete
done
t_umount
