#!/bin/bash
# lifetime.sh - how long a region lives (SPEC 5, issue 12): a region is
# persistent unless its creator asked for process lifetime, so regions made
# with truncate, cp or printf survive .control clean and shmfsctl clean; a
# region of process lifetime is orphaned once its creator is gone (pid and
# start time: a reused pid or a zombie is not the creator) and nobody maps
# it, and clean removes it; the lifetime is persisted and old metadata
# without it loads persistent. Also: page_count counts the pages a sparse
# file really holds, pools show overcommit, and mapper pids are shown only to
# whom /proc would show them.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

HP=$FS_HUGE_SZ
fs_setup 8
ctl() { "$SHMFSCTL_BIN" --mount "$T_MNT" "$@"; }
lt() { fs_x "$1" user.shmfs.lifetime; }
orph() { fs_x "$1" user.shmfs.orphaned; }
meta_file() { echo "$T_BACKING/.shmfs/$1/$(stat -c %i "$(fs_backing "$1" "$2")")"; }

# mkproc PATH: a short-lived creator that makes PATH, opts in to process
# lifetime while it runs (exec keeps its pid) and exits.
cat >"$T_DIR/mkproc.sh" <<'EOS'
exec 3>"$1" && exec "$TSYS" setxattr "$1" user.shmfs.lifetime process
EOS
mkproc() { sh "$T_DIR/mkproc.sh" "$1" >/dev/null; }
# mkzombie.sh PATH: the same, once its parent has become sleep (which never
# reaps it): a parent still a shell could reap it first.
cat >"$T_DIR/mkzombie.sh" <<'EOS'
while [ "$(cat /proc/$PPID/comm)" != sleep ]; do sleep 0.05; done
exec 3>"$1" && exec "$TSYS" setxattr "$1" user.shmfs.lifetime process
EOS

# ---------------------------------------------------------------- persistent

truncate -s $((2 * HP)) "$H/wksp"
fs_pattern cp $((3 * FS_NORMAL_SZ)) >"$T_DIR/src"
cp "$T_DIR/src" "$R/copied"
printf 'hello' >"$R/printed"
install -m 0600 "$T_DIR/src" "$R/installed"
for f in "$H/wksp" "$R/copied" "$R/printed" "$R/installed"; do
	t_is "${f#$T_MNT/}: a region made by a file tool is persistent" persistent "$(lt "$f")"
	t_is "${f#$T_MNT/}: ... and never orphaned, though its creator is gone" false "$(orph "$f")"
done
t_check "shmfsctl clean succeeds" ctl clean
t_is "shmfsctl clean --dry-run names nothing to remove" "" "$(ctl clean --dry-run)"
t_check ".control clean succeeds" sh -c "echo clean >'$T_MNT/.control'"
t_check "truncate-made region survives both cleans" test -e "$H/wksp"
t_is "cp-made region survives both cleans, byte for byte" "$(md5sum <"$T_DIR/src")" "$(md5sum <"$R/copied")"
t_check "printf- and install-made regions survive both cleans" test -e "$R/printed" -a -e "$R/installed"
t_is "clean of a persistent region by name refuses and says why" 1 "$(ctl clean wksp >"$T_DIR/cw.out" 2>&1; echo $?)"
t_like "... because it is persistent" "persistent: kept until removed" "$(cat "$T_DIR/cw.out")"
t_like "shmfsctl info shows the lifetime" "lifetime: +persistent" "$(ctl info | sed -n '/^wksp$/,/^$/p')"
t_is "info --json gives it" persistent \
	"$(ctl --json info | python3 -c 'import json,sys; print([r["lifetime"] for r in json.load(sys.stdin)["regions"] if r["name"] == "wksp"][0])')"
t_like ".status lists the region with its lifetime" "^huge/node$FS_N0/wksp $((2 * HP)) 2 persistent$" \
	"$(grep wksp "$T_MNT/.status")"

# ---------------------------------------------------------------- writing it

t_errno "process lifetime is refused once the creator is gone" ESRCH setxattr "$H/wksp" user.shmfs.lifetime process
t_errno "an unknown lifetime is refused" EINVAL setxattr "$H/wksp" user.shmfs.lifetime forever
t_errno "lock lifetime is the daemon's finding, never written" EINVAL setxattr "$H/wksp" user.shmfs.lifetime lock
t_errno "persistent may be written at any time" OK setxattr "$H/wksp" user.shmfs.lifetime persistent
t_errno "the lifetime cannot be removed" EPERM removexattr "$H/wksp" user.shmfs.lifetime
exec 3>"$R/mine"   # created by this shell, which lives on
t_like "another user may not change root's region's lifetime" '^(EACCES|EPERM)' \
	"$(t_as_user "$TSYS" setxattr "$R/mine" user.shmfs.lifetime process 2>&1)"
t_is "... and it stays persistent" persistent "$(lt "$R/mine")"
t_errno "the owner may opt in while the creator runs" OK setxattr "$R/mine" user.shmfs.lifetime process
t_is "the lifetime reads process" process "$(lt "$R/mine")"
t_is "not orphaned while its creator runs" false "$(orph "$R/mine")"
t_errno "and may go back to persistent" OK setxattr "$R/mine" user.shmfs.lifetime persistent
exec 3>&-

# ---------------------------------------------------------------- process

mkproc "$R/gone"
t_is "a region that opted in reads process" process "$(lt "$R/gone")"
t_is "its creator is gone and nobody maps it: orphaned" true "$(orph "$R/gone")"
truncate -s $((2 * FS_NORMAL_SZ)) "$R/gone"
fs_map m "$R/gone" r || exit 1
t_is "a mapper keeps it" false "$(orph "$R/gone")"
t_like "clean --dry-run of it names its mapper" "mapped by pid $m" "$(ctl clean --dry-run gone 2>&1)"
fs_unmap "$m"
t_is "orphaned again once the mapper is gone" true "$(orph "$R/gone")"
t_like "clean --dry-run lists it" "would remove normal/node$FS_N0/gone \(orphaned: creator [0-9]+ gone" "$(ctl clean --dry-run)"
t_check "... and removes nothing" test -e "$R/gone"

# The library's flag: SHMFS_CREATE_PROCESS_LIFETIME through shmfsctl create.
t_check "shmfsctl create --process-lifetime makes a region" \
	ctl create --process-lifetime lib 1 huge "node$FS_N0" 0600
t_is "... of process lifetime" process "$(lt "$H/lib")"
t_is "... orphaned once shmfsctl has exited" true "$(orph "$H/lib")"
t_check "shmfsctl create without it makes a persistent region" ctl create plain 1 huge "node$FS_N0" 0600
t_is "... persistent" persistent "$(lt "$H/plain")"

# A zombie creator is gone.
t_bg bash -c 'sh "$3" "$1" >/dev/null & echo $! >"$2"; exec sleep 1000' sh "$R/zomb" "$T_DIR/zomb.pid" \
	"$T_DIR/mkzombie.sh"
zparent=$!
zombie_ready() { [ -s "$T_DIR/zomb.pid" ] && [ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$(cat "$T_DIR/zomb.pid")/stat")" = Z ]; }
t_check "a creator that exited unreaped is a zombie" t_wait_for 20 zombie_ready
t_is "a zombie creator's region is orphaned" true "$(orph "$R/zomb")"

# Persisted across a crash; a reused pid is not the creator; old metadata
# without the key is persistent.
t_kill_daemon
mf=$(meta_file normal gone)
t_check "the lifetime is in the region's metadata" grep -qx 'lifetime process' "$mf"
# pid reuse: the creator's pid now names a live process (this shell) that
# started at another time
sed -i "s/^creator_pid .*/creator_pid $$/; s/^creator_start .*/creator_start 1/" "$mf"
sed -i '/^lifetime /d' "$(meta_file normal mine)"
t_mount || exit 1
t_is "the lifetime survives a daemon crash" process "$(lt "$R/gone")"
t_is "a live process with the creator's pid but another start time is not the creator" true "$(orph "$R/gone")"
t_is "metadata from before lifetimes loads persistent" persistent "$(lt "$R/mine")"

t_check ".control clean succeeds" sh -c "echo clean >'$T_MNT/.control'"
t_is ".control clean removed exactly the orphans" "copied installed mine printed" "$(ls "$R" | xargs)"
t_is "... and kept every persistent huge region" "plain wksp" "$(ls "$H" | xargs)"
fs_unmap "$zparent"

# ---------------------------------------------------------------- the guard

# DPDK deletes "*map_*" files it can lock exclusively: the daemon holds a
# shared flock on regions with such names, and on no other.
free=$(fs_x "$H" user.shmfs.pool.free)
truncate -s "$HP" "$H/guardmap_0"
t_fails "a region named like DPDK's files cannot be locked exclusively" \
	flock -x -n "$(fs_backing huge guardmap_0)" true
t_check "a region of any other name can: its owner's own flock is never held up" \
	flock -x -n "$(fs_backing huge wksp)" true
mv "$H/wksp" "$H/wkspmap_1"
t_fails "a region renamed to such a name is guarded too" flock -x -n "$(fs_backing huge wkspmap_1)" true
mv "$H/wkspmap_1" "$H/wksp"
t_check "... and no longer once renamed back" flock -x -n "$(fs_backing huge wksp)" true
rm "$H/guardmap_0"
t_is "removing a guarded region returns its page (the daemon keeps no file open)" "$free" \
	"$(fs_x "$H" user.shmfs.pool.free)"

# ---------------------------------------------------------------- pages

# A sparse backing file (DPDK --single-file-segments): size 4 pages, 1 held.
fallocate -l "$HP" "$(fs_backing huge sparse)"
truncate -s $((4 * HP)) "$(fs_backing huge sparse)"
t_check "a file made in the backing store shows in the tree" t_wait_for 10 test -e "$H/sparse"
t_is "page_count counts the pages the kernel holds, not the size" 1 "$(fs_x "$H/sparse" user.shmfs.page_count)"
free=$(fs_x "$H" user.shmfs.pool.free)
t_is "numa_nodes names the node of the page it holds" "$FS_N0" "$(fs_x "$H/sparse" user.shmfs.numa_nodes)"
t_is "... without filling its holes" "1 $free" \
	"$(fs_x "$H/sparse" user.shmfs.page_count) $(fs_x "$H" user.shmfs.pool.free)"
t_is "a dense region's page_count is its size in pages" 2 "$(fs_x "$H/wksp" user.shmfs.page_count)"
t_like ".status counts its pages as the kernel does" "^huge/node$FS_N0/sparse $((4 * HP)) 1 persistent$" \
	"$(grep sparse "$T_MNT/.status")"
rm -f "$H/sparse"

oc=$(t_hp_dir huge "$FS_N0")
oc=/sys/kernel/mm/hugepages/$(basename "$oc")/nr_overcommit_hugepages
echo 3 >"$oc"
t_is "the huge directory shows the overcommit the kernel allows" 3 "$(fs_x "$T_MNT/huge" user.shmfs.pool.overcommit)"
t_is "... and so does the node directory" 3 "$(fs_x "$H" user.shmfs.pool.overcommit)"
t_like ".status has an overcommit column" "^type +page_size +node +total +free +reserved +surplus +overcommit$" \
	"$(sed -n 2p "$T_MNT/.status")"
t_like ".status gives the huge pool's overcommit" "^huge +$HP +$FS_N0( +[0-9]+){4} +3$" \
	"$(grep "^huge " "$T_MNT/.status")"
t_like "shmfsctl info shows it with the huge pool" "^  huge .* overcommit: 3 pages$" "$(ctl info)"
# Sizing may use surplus pages the administrator allowed (hugeadm
# --pool-pages-max): one page more than the pool has free.
free=$(fs_x "$H" user.shmfs.pool.free)
t_check "a region may take surplus pages beyond the free pool" truncate -s $(( (free + 1) * HP )) "$H/over"
t_is "the node directory counts the surplus page" 1 "$(fs_x "$H" user.shmfs.pool.surplus)"
t_like ".status shows it" "^huge +$HP +$FS_N0( +[0-9]+){3} +1 +3$" "$(grep "^huge " "$T_MNT/.status")"
rm -f "$H/over"
echo 0 >"$oc"

# ---------------------------------------------------------------- mapper pids

# huge regions are mapped through their backing file (FUSE cannot map them)
truncate -s "$HP" "$H/shared" && chmod 0644 "$H/shared"
fs_map rootm "$(fs_backing huge shared)" r || exit 1
t_is "root sees the pid of root's mapper" "$rootm" "$(fs_x "$H/shared" user.shmfs.mapper_pids)"
t_is "another user is told how many map it" 1 \
	"$(t_as_user "$TSYS" getxattr "$H/shared" user.shmfs.mapper_count | sed -n 's/^OK //p')"
t_is "... but not root's pid (/proc/PID/maps refuses them too)" "OK " \
	"$(t_as_user "$TSYS" getxattr "$H/shared" user.shmfs.mapper_pids)"
out=$(mktemp "$T_DIR/umap.XXXXXX")
t_bg setpriv --reuid="$T_UID" --regid="$T_UID" --clear-groups --inh-caps=-all -- "$TSYS" map "$(fs_backing huge shared)" r \
	>"$out" 2>&1 </dev/null
userm=$!
t_check "the other user maps it too" t_wait_for 20 grep -q '^OK' "$out"
t_is "the other user sees their own mapper's pid, only" "$userm" \
	"$(t_as_user "$TSYS" getxattr "$H/shared" user.shmfs.mapper_pids | sed -n 's/^OK //p')"
t_is "... and counts both" 2 "$(t_as_user "$TSYS" getxattr "$H/shared" user.shmfs.mapper_count | sed -n 's/^OK //p')"
t_is "root sees both pids" "$(printf '%s\n' "$rootm" "$userm" | sort -n | paste -sd,)" \
	"$(fs_x "$H/shared" user.shmfs.mapper_pids)"
fs_unmap "$userm"
fs_unmap "$rootm"

t_done
