#!/bin/bash
# fs.sh - benchmark of the shmfs daemon against its baselines, measured side
# by side in one run and reported as ratios (machine noise cancels out):
#   stat of a region (warm)             vs stat of a tmpfs file      goal <= 2x
#   ls -l of 10,000 regions             vs the same on tmpfs         goal <= 2x
#   create + size + unlink of a region  vs the same on raw hugetlbfs
#   cat of a 1 GiB region (normal, huge) vs cat of its backing file  goal >= 0.5x
#     (normal regions pass through to tmpfs in the kernel; huge ones are
#     served by the daemon: the kernel refuses passthrough to hugetlbfs)
# It sets up its own mount, tmpfs, hugetlbfs and pools through the test
# harness (same lock, same cleanup). Run: meson test -C BUILD --benchmark fs
BENCH_NAME=fs
. "$SHMFS_SOURCE_ROOT/bench/fs/common.sh"

FILES=10000

report() {   # NAME SHMFS BASELINE UNIT GOAL
	printf '%-34s shmfs %12s %-5s baseline %12s %-5s ratio %5s  (goal %s)\n' \
		"$1" "$2" "$4" "$3" "$4" "$(ratio "$2" "$3")" "$5"
}

fs_no_overcommit
t_pool_grow huge "$N" $((GIB / HP + 4)) || die "cannot reserve $((GIB / HP + 4)) huge pages on node$N"
bench_mounts 2G
t_mount || die "cannot mount shmfs"
H=$T_MNT/huge/node$N
R=$T_MNT/normal/node$N
echo "# shmfs $(uname -r), $(nproc) cpus, $(date -u +%FT%TZ)"

# stat, warm
truncate -s "$HP" "$H/st" || die "cannot size a region"
touch "$TMPFS/st"
read -r a b < <("$FSBENCH" stat "$H/st" "$TMPFS/st" 100000) || die "stat"
report "stat (warm), per call" "$a" "$b" ns "<= 2"

# ls -l of 10,000 regions (normal pages, size 0)
"$FSBENCH" mkfiles "$R" "$FILES" >/dev/null || die "cannot create $FILES regions"
"$FSBENCH" mkfiles "$TMPFS" "$FILES" >/dev/null || die "cannot create $FILES tmpfs files"
ls -l "$R" >/dev/null; ls -l "$TMPFS" >/dev/null   # warm both
read -r a b < <(best_pair 7 ls -l "$R" -- ls -l "$TMPFS")
report "ls -l of $FILES files (warm)" "$((a / 1000))" "$((b / 1000))" us "<= 2"
rm -f "$TMPFS"/r*
find "$R" -name 'r*' -delete

# create + size one huge page + unlink
a=; b=
for i in 1 2 3 4; do
	x=$("$FSBENCH" cycle "$H" 500 "$HP" truncate) || die "cycle on shmfs"
	y=$("$FSBENCH" cycle "$HUGETLBFS" 500 "$HP" fallocate) || die "cycle on hugetlbfs"
	[ -z "$a" ] || awk -v x="$x" -v a="$a" 'BEGIN { exit !(x < a) }' && a=$x
	[ -z "$b" ] || awk -v y="$y" -v b="$b" 'BEGIN { exit !(y < b) }' && b=$y
done
report "create+size+unlink (1 huge page)" "$a" "$b" ns "none"

# cat of a 1 GiB region vs its backing file, normal and huge pages
mbs() { awk -v ns="$1" -v sz="$GIB" 'BEGIN { printf "%.0f", sz / 1048576 / (ns / 1e9) }'; }
for type in normal huge; do
	d=$T_MNT/$type/node$N
	truncate -s "$GIB" "$d/big" || die "cannot size a 1 GiB $type region"
	head -c "$GIB" /dev/urandom | dd of="$d/big" bs=1M iflag=fullblock conv=notrunc status=none ||
		die "cannot fill the 1 GiB $type region"
	cmp -s "$d/big" "$(fs_backing "$type" big)" || die "the $type region and its backing file differ"
	read -r a b < <(best_pair 5 cat "$d/big" -- cat "$(fs_backing "$type" big)")
	printf '%-34s shmfs %12s MB/s  baseline %12s MB/s  ratio %5s  (goal >= 0.5)\n' \
		"cat of a 1 GiB $type region" "$(mbs "$a")" "$(mbs "$b")" "$(ratio "$b" "$a")"
	rm -f "$d/big"
done
rm -f "$H/st"
t_umount
