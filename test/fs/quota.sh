#!/bin/bash
# quota.sh - page quotas (SPEC 6): a second user stops at its limit with
# EDQUOT and takes nothing (sizing, writing past the end, a second region),
# root's reserve stays root's, usage is reported in .status, .quota and
# shmfsctl info --json, a limit changed live through .quota or shmfsctl quota
# takes effect, chown moves the charge (or fails with EDQUOT), usage and live
# limits are the same after a SIGKILL and a restart, and bad input is EINVAL
# and changes nothing.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"
trap t_cleanup EXIT

N=$FS_N0
HP=$FS_HUGE_SZ
U=$T_UID
CTL() { "$SHMFSCTL_BIN" --mount "$T_MNT" "$@"; }

fs_no_overcommit
t_check "10 free huge pages can be reserved for the test" t_pool_grow huge "$N" 10
t_mount "quota=user.huge=4,quota=reserve.huge=0" || exit 1
H=$T_MNT/huge/node$N
Q=$T_MNT/.quota
free_now() { t_hp_free huge "$N"; }
quota_has() { grep -qx -- "$1" "$Q"; }
usage_of() { awk -v t="$1" -v k="$2" -v id="$3" '$1 == "usage" && $2 == t && $3 == k && $4 == id { print $5 "/" $6 }' "$4"; }

t_is "the root directory lists .quota" ".quota" "$(ls -a "$T_MNT" | grep -x .quota)"
t_is ".quota is root's, 0644" "644 0" "$(stat -c '%a %u' "$Q")"
t_check "the mount option's limit is in force" quota_has "rule user.huge=4"
t_check "... and the built-in default of the types not named" quota_has "rule user.normal=50%"
t_check ".quota is readable by the second user" t_as_user cat "$Q"

# ---------------------------------------------------------------- the limit

t_check "the user creates a region" t_as_user "$TSYS" open "$H/a" cx 0600
t_check "... and sizes it within the limit (3 of 4 pages)" t_as_user truncate -s $((3 * HP)) "$H/a"
f0=$(free_now)
fs_errno_as_user "growing it past the limit is EDQUOT" EDQUOT truncate "$H/a" $((5 * HP))
t_is "... takes nothing from the pool" "$f0" "$(free_now)"
t_is "... and keeps the region's size" $((3 * HP)) "$(fs_st %s "$H/a")"
t_check "a second region of the user" t_as_user "$TSYS" open "$H/b" cx 0600
fs_errno_as_user "... cannot take 2 more pages (3 + 2 > 4): EDQUOT" EDQUOT truncate "$H/b" $((2 * HP))
fs_errno_as_user "... nor by writing past its end" EDQUOT pwrite "$H/b" $((HP + 1)) x
fs_errno_as_user "... nor by fallocate" EDQUOT fallocate "$H/b" 0 $((2 * HP))
t_is "... and none of them took a page" "$f0" "$(free_now)"
t_is "... or changed its size" 0 "$(fs_st %s "$H/b")"
fs_errno_as_user "the last page of the limit can be taken" OK pwrite "$H/b" 10 x
t_is "... exactly one page" $((f0 - 1)) "$(free_now)"
fs_errno_as_user "shrinking is always allowed" OK truncate "$H/a" $((2 * HP))
fs_errno_as_user "... and gives the pages back to the limit" OK truncate "$H/b" $((2 * HP))
t_is "shmfsctl create beyond the limit fails (status 1)" 1 \
	"$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" create big 2 huge "node$N" 0600 >"$T_DIR/create.out" 2>&1; echo $?)"
t_like "... saying the quota is exceeded" "quota" "$(cat "$T_DIR/create.out")"
t_is "... and leaves no region behind" "" "$(ls "$T_MNT/huge/node$N" | grep -x big)"
t_is "... nor takes a page" $((f0 - 1)) "$(free_now)"
t_check "root is not limited by the default" truncate -s $((5 * HP)) "$H/rootreg"
truncate -s 0 "$H/rootreg"

# ---------------------------------------------------------------- usage

t_is ".status shows the user's usage and limit" "4/4" "$(usage_of huge user "$U" "$T_MNT/.status")"
t_is ".status shows the group's usage, unlimited" "4/-" "$(usage_of huge group "$U" "$T_MNT/.status")"
t_is ".quota shows the same" "4/4" "$(usage_of huge user "$U" "$Q")"
CTL --json info >"$T_DIR/info.json" 2>&1
t_is "shmfsctl info --json reports the user's pages" "4 4" \
	"$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
u = [x for x in d["quota"]["usage"] if x["type"] == "huge" and x["kind"] == "user" and x["id"] == int(sys.argv[2])][0]
print(u["used_pages"], u["limit_pages"])' "$T_DIR/info.json" "$U" 2>&1)"
t_like "shmfsctl info shows it to people" "huge +user +$U +4 pages" "$(CTL info 2>&1 | tr -s ' ')"

# ---------------------------------------------------------------- live changes

fs_errno_as_user "the user may not change a limit (EACCES)" EACCES pwrite "$Q" 0 "user.huge=100"
t_is "... even through shmfsctl (status 1)" 1 \
	"$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" quota user.huge=100 >"$T_DIR/u.out" 2>&1; echo $?)"
t_check "root raises the user's limit live through .quota" sh -c "echo user:$U.huge=6 >'$Q'"
t_check "... which .quota lists" quota_has "rule user:$U.huge=6"
fs_errno_as_user "... and which takes effect at once" OK truncate "$H/b" $((4 * HP))
fs_errno_as_user "... up to the new limit only" EDQUOT truncate "$H/b" $((5 * HP))
t_check "shmfsctl quota sets a group limit (and a user one)" CTL quota "group:$U.huge=6" "user:$U.huge=10"
fs_errno_as_user "... the group's binds on its own (7 > 6)" EDQUOT truncate "$H/a" $((3 * HP))
t_check "shmfsctl quota drops it again (default)" CTL quota "group:$U.huge=default" "user:$U.huge=6"
t_fails "... so .quota no longer lists it" quota_has "rule group:$U.huge=6"

# ---------------------------------------------------------------- bad input

cp "$Q" "$T_DIR/q.before"
for bad in "user.huge=abc" "user.huge=101%" "user.huge=-1" "user.huge=1M" "reserve:5.huge=1" \
	"user.bogus=1" "user.huge=default" "reserve.huge=unlimited" "user:01.huge=1" "user:x.huge=1" \
	"user.huge=1 " "user.huge" "user.huge=1\nuser.huge=2" "users.huge=1" "user:4294967295.huge=1"; do
	t_errno "'$bad' is refused with EINVAL" EINVAL pwrite "$Q" 0 "$(printf '%b' "$bad")"
done
t_is "... and nothing changed" "" "$(diff "$T_DIR/q.before" "$Q")"
t_is "shmfsctl quota refuses a bad rule (usage error, status 2)" 2 \
	"$(CTL quota user.huge=lots >"$T_DIR/bad.out" 2>&1; echo $?)"
t_is "... and nothing changed" "" "$(diff "$T_DIR/q.before" "$Q")"

# ---------------------------------------------------------------- chown

t_check "root makes a 2-page region" truncate -s $((2 * HP)) "$H/gift"
t_like "chown to a user at its limit is EDQUOT" "Disk quota exceeded" "$(chown "$U" "$H/gift" 2>&1)"
t_is "... and the region stays root's" 0 "$(fs_st %u "$H/gift")"
fs_errno_as_user "the user frees 2 pages" OK truncate "$H/b" $((2 * HP))
t_check "chown within the limit works" chown "$U" "$H/gift"
t_is "... and moves the charge to the user" "6/6" "$(usage_of huge user "$U" "$Q")"
fs_errno_as_user "... which binds the user's next request" EDQUOT truncate "$H/b" $((3 * HP))
t_check "chown back to root" chown 0 "$H/gift"
t_is "... moves it back" "4/6" "$(usage_of huge user "$U" "$Q")"
rm -f "$H/gift"

# ---------------------------------------------------------------- root's reserve

t_check "the user's limit is lifted" sh -c "echo user:$U.huge=unlimited >'$Q'"
f1=$(free_now)
t_check "root reserves all but one free page for itself" sh -c "echo reserve.huge=$((f1 - 1)) >'$Q'"
t_check "the user makes a region" t_as_user "$TSYS" open "$H/c" cx 0600
fs_errno_as_user "... and cannot take 2 pages of the reserve: EDQUOT" EDQUOT truncate "$H/c" $((2 * HP))
t_is "... nothing taken" "$f1" "$(free_now)"
fs_errno_as_user "... one page outside the reserve is fine" OK truncate "$H/c" "$HP"
t_check "root still gets pages of the reserve" truncate -s $((2 * HP)) "$H/rootreg"
t_check "the reserve is lifted" sh -c "echo reserve.huge=0 >'$Q'"
rm -f "$H/rootreg"

# ---------------------------------------------------------------- concurrency

# Normal pages: a 64 MiB sizing takes long enough (the kernel zeroes every
# page) for others to be checked while it is under way; they must count it.
R=$T_MNT/normal/node$N
PG=$FS_NORMAL_SZ
BIG=$((64 << 20))
t_check "the user may have 2 regions of 64 MiB of normal pages" \
	sh -c "echo user:$U.normal=$((2 * BIG / PG)) >'$Q'"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	t_as_user "$TSYS" open "$R/p$i" cx 0600 >/dev/null
done
for i in 1 2 3 4 5 6 7 8; do
	t_as_user "$TSYS" truncate "$R/p$i" "$BIG" >"$T_DIR/p$i.out" 2>&1 &
	pids+=("$!")
done
wait "${pids[@]}"
t_is "8 concurrent 64 MiB requests: exactly 2 get their pages, 6 EDQUOT" "2 6" \
	"$(cat "$T_DIR"/p?.out | grep -cx OK) $(cat "$T_DIR"/p?.out | grep -cx EDQUOT)"
t_is "... and the user holds exactly those pages" "$((2 * BIG / PG))/$((2 * BIG / PG))" \
	"$(usage_of normal user "$U" "$Q")"
t_check "... the user frees them" t_as_user sh -c 'rm -f "$1"/p?' sh "$R"

# ---------------------------------------------------------------- restart

used=$(usage_of huge user "$U" "$Q")
t_kill_daemon
t_check "the daemon restarts after SIGKILL" t_mount "quota=user.huge=4,quota=reserve.huge=0"
t_is "the user's usage is the same" "$used" "$(usage_of huge user "$U" "$Q")"
t_check "the limit set live survives the restart" quota_has "rule user:$U.huge=unlimited"
t_check "the mount option still gives the default" quota_has "rule user.huge=4"

# ---------------------------------------------------------------- options

t_like "a bad quota= option stops the daemon before it mounts" "Bad option quota=user.huge=lots" \
	"$("$SHMFS_BIN" -f -o "backing=$T_DIR/b2,quota=user.huge=lots" "$T_DIR" 2>&1; echo "exit $?")"
t_is "... and makes no backing store" no "$([ -e "$T_DIR/b2" ] && echo yes || echo no)"

t_umount
t_done
