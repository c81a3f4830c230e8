#!/bin/bash
# dpdk.sh - DPDK pointed at the backing store (issue 12): the real dpdk-test
# started with --huge-dir <backing>/.huge removes no region of anyone else,
# though their names match its "*map_*" filter and one is mapped by a live
# process; its own hugepage files show as regions that say whose they are
# (dpdk, file prefix); it removes them itself on a clean exit; when it is
# killed what it leaves is orphaned (nobody holds its lock or maps it) and
# shmfsctl clean lists and removes exactly that.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

DPDK=$(command -v dpdk-test || true)
if [ -z "$DPDK" ]; then
	echo "1..0 # SKIP dpdk-test is not installed (Debian package dpdk)"
	exit 0
fi
HP=$FS_HUGE_SZ
if [ "$HP" != $((2 * 1024 * 1024)) ]; then
	echo "1..0 # SKIP the default huge page size is not 2 MiB"
	exit 0
fi

PREFIX=shmfst$$
# DPDK's runtime directory for our prefix is ours to remove afterwards
trap 'rm -rf "/run/dpdk/$PREFIX" "/var/run/dpdk/$PREFIX"; t_cleanup' EXIT
fs_setup 12
ctl() { "$SHMFSCTL_BIN" --mount "$T_MNT" "$@"; }
HUGEDIR=$T_BACKING/.huge

# dpdk_run ARGS...: dpdk-test with 4 MiB preallocated in our huge directory,
# no devices, no telemetry; it quits at the "quit" command.
dpdk_args=(--no-pci --no-telemetry -m 4 --huge-dir "$HUGEDIR" --file-prefix "$PREFIX")

# Other programs' regions whose names match DPDK's filter, one mapped.
for n in bitmap_x appmap_0 heatmap_1; do
	truncate -s "$HP" "$H/$n"
done
fs_map mapper "$(fs_backing huge bitmap_x)" r || exit 1

t_like "shmfsctl info names the directory to give DPDK" "--huge-dir $HUGEDIR" "$(ctl info)"

echo quit | timeout 120 "$DPDK" "${dpdk_args[@]}" >"$T_DIR/dpdk1.out" 2>&1
rc=$?
t_is "dpdk-test starts and quits on the backing directory" 0 "$rc"
[ "$rc" = 0 ] || t_diag <"$T_DIR/dpdk1.out"
t_check "bitmap_x (mapped by a live process) survives DPDK's start-up" test -e "$H/bitmap_x"
t_check "appmap_0 and heatmap_1 (mapped by nobody) survive too" test -e "$H/appmap_0" -a -e "$H/heatmap_1"
t_check "... in the backing store as well" test -e "$HUGEDIR/bitmap_x" -a -e "$HUGEDIR/appmap_0"
t_is "DPDK's clean exit removed its own files (the daemon does not hold them)" "" \
	"$(ls "$HUGEDIR" | grep "^${PREFIX}map_" || true)"

# A DPDK that dies leaves its files behind.
mkfifo "$T_DIR/in"
exec 7<>"$T_DIR/in"
# (a background command's stdin would be /dev/null: redirect inside; exec
# keeps the pid, so $! is DPDK's)
t_bg bash -c 'exec "$@" <"$0"' "$T_DIR/in" "$DPDK" "${dpdk_args[@]}" >"$T_DIR/dpdk2.out" 2>&1
dpdk=$!
t_check "DPDK starts and waits for commands" t_wait_for 60 grep -q 'RTE>>' "$T_DIR/dpdk2.out"
f=$(ls "$H" | grep "^${PREFIX}map_" | head -n 1)
t_check "a running DPDK's hugepage files show as regions" test -n "$f" -a -e "$H/$f"
t_is "it says whose it is" "dpdk:$PREFIX" "$(fs_x "$H/$f" user.shmfs.program)"
t_is "it lives by DPDK's locks" lock "$(fs_x "$H/$f" user.shmfs.lifetime)"
t_is "not orphaned while DPDK holds it" false "$(fs_x "$H/$f" user.shmfs.orphaned)"
t_is "clean --dry-run leaves a running DPDK alone" "" "$(ctl clean --dry-run)"
kill -9 "$dpdk"; wait "$dpdk" 2>/dev/null
exec 7>&-
t_check "a killed DPDK leaves its files" test -e "$H/$f"
t_is "they are orphaned: nobody holds their lock or maps them" true "$(fs_x "$H/$f" user.shmfs.orphaned)"
t_is "a process holding a lock on one (and not mapping it) keeps it" "OK false" \
	"$(flock -s "$HUGEDIR/$f" "$TSYS" getxattr "$H/$f" user.shmfs.orphaned)"
left=$(ls "$H" | grep "^${PREFIX}map_" | sort | xargs)
ctl clean --dry-run >"$T_DIR/dry.out"
t_is "clean --dry-run lists exactly DPDK's leftovers" "$left" \
	"$(awk '{ print $3 }' "$T_DIR/dry.out" | sed 's,.*/,,' | sort | xargs)"
t_like "... saying which program and file prefix left them" "left by dpdk \(file prefix $PREFIX\)" \
	"$(cat "$T_DIR/dry.out")"
t_like "shmfsctl info shows whose they are" "program: +dpdk \(file prefix $PREFIX\)" "$(ctl info)"
t_check "shmfsctl clean removes them" ctl clean
t_is "none is left" "" "$(ls "$H" | grep "^${PREFIX}map_" || true)"
t_is "the other regions are all still there" "appmap_0 bitmap_x heatmap_1" "$(ls "$H" | xargs)"
fs_unmap "$mapper"

t_done
