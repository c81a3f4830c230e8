# common.sh - what the benchmarks of bench/fs share: the harness, the
# fsbench helper, a tmpfs and a raw hugetlbfs mounted beside shmfs as
# baselines (taken down on any exit), and side-by-side timing.
# Sourced after setting BENCH_NAME.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

FSBENCH=$SHMFS_BUILD_ROOT/bench/fs/fsbench
N=$FS_N0
HP=$FS_HUGE_SZ
GIB=$((1 << 30))
TMPFS=$T_DIR/tmpfs
HUGETLBFS=$T_DIR/hugetlbfs

bench_cleanup() {
	umount "$TMPFS" 2>/dev/null
	find "$HUGETLBFS" -mindepth 1 -delete 2>/dev/null
	umount "$HUGETLBFS" 2>/dev/null
}
trap 'bench_cleanup; t_cleanup' EXIT

die() { echo "$BENCH_NAME bench: $*" >&2; exit 1; }

# bench_mounts TMPFS-SIZE: the tmpfs and the hugetlbfs of the baselines.
bench_mounts() {
	mkdir -p "$TMPFS" "$HUGETLBFS"
	mount -t tmpfs -o "size=$1,nr_inodes=0" tmpfs "$TMPFS" || die "cannot mount a tmpfs"
	mount -t hugetlbfs -o pagesize=$((HP / 1048576))M none "$HUGETLBFS" || die "cannot mount a hugetlbfs"
}

# best_pair N CMD_A... -- CMD_B...: the best wall time (ns) of N runs of each
# command, runs alternating so that load from the rest of the machine hits
# both alike. Prints "A B".
best_pair() {
	local n=$1 i t a=() b=() best_a= best_b=; shift
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift; b=("$@")
	for i in $(seq "$n"); do
		t=$(date +%s%N); "${a[@]}" >/dev/null 2>&1 || die "failed: ${a[*]}"; t=$(( $(date +%s%N) - t ))
		[ -z "$best_a" ] || [ "$t" -lt "$best_a" ] && best_a=$t
		t=$(date +%s%N); "${b[@]}" >/dev/null 2>&1 || die "failed: ${b[*]}"; t=$(( $(date +%s%N) - t ))
		[ -z "$best_b" ] || [ "$t" -lt "$best_b" ] && best_b=$t
	done
	echo "$best_a $best_b"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
