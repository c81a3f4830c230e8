# ctl_explain.sh - shmfsctl explain (and its alias doctor): the pools per
# node and page size as the kernel has them, overcommit, fragmentation from
# /proc/buddyinfo, the THP mode, the memlock limit, the kernel command line's
# hugepage words, other hugetlbfs mounts with their files and users (but not
# this shmfs's own backing mounts), and advice that names what to do; it
# works without a mount. JSON says the same.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

HTLB=$T_DIR/htlb
explain_cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	T_PIDS=()
	if mountpoint -q "$HTLB" 2>/dev/null; then
		rm -f "$HTLB"/* 2>/dev/null
		umount "$HTLB" 2>/dev/null || umount -l "$HTLB"
	fi
	t_cleanup
}
trap explain_cleanup EXIT

t_mount
ctl_no_overcommit
t_pool_grow huge "$N0" 3 || echo "# could not make 3 huge pages free"

# another hugetlbfs: one file mapped by a process, one nobody maps
mkdir -p "$HTLB"
mount -t hugetlbfs -o pagesize="$((HUGE_SZ / 1024))K" none "$HTLB"
fallocate -l "$HUGE_SZ" "$HTLB/used"
fallocate -l "$HUGE_SZ" "$HTLB/left"
out=$(mktemp "$T_DIR/map.XXXXXX")
t_bg "$TSYS" map "$HTLB/used" r >"$out" 2>&1 </dev/null
MU=$!
t_wait_for 20 grep -q '^OK' "$out"
# an orphan in the shmfs
ctl_hold P "$T_MNT/normal/node$N0/orph"; truncate -s 4096 "$T_MNT/normal/node$N0/orph"
ctl_kill "$P"

t_is "explain exits 0" 0 "$(ctl explain >"$T_DIR/ex.out" 2>"$T_DIR/ex.err"; echo $?)"
t_is "explain writes nothing on stderr" "" "$(cat "$T_DIR/ex.err")"
t_is "doctor is explain" "$(cat "$T_DIR/ex.out")" "$(ctl doctor)"
for s in "Huge page pools" "Fragmentation" "Transparent huge pages" "Locked-memory limit" \
	 "Kernel command line" "Other hugetlbfs mounts" "Advice:"; do
	t_like "explain has a section: $s" "$s" "$(cat "$T_DIR/ex.out")"
done
t_like "explain shows the huge pool of node $N0 as the kernel has it" \
	"huge +[0-9.]+[KMG] +$N0 +$(t_hp_total huge "$N0") +$(t_hp_free huge "$N0") " "$(cat "$T_DIR/ex.out")"
t_like "explain lists the other hugetlbfs mount with its user" "$HTLB .*mapped by 1 process: $MU " \
	"$(cat "$T_DIR/ex.out")"
t_like "explain advises removing the file nobody maps" "1 file in $HTLB holds .* that no process maps" \
	"$(grep -- '^  - ' "$T_DIR/ex.out")"
t_like "explain advises cleaning the orphan" "1 orphaned region in $T_MNT .*shmfsctl clean" \
	"$(grep -- '^  - ' "$T_DIR/ex.out")"
t_is "explain does not list this shmfs's own backing mounts" "" \
	"$(grep -F "$T_BACKING" "$T_DIR/ex.out" | grep -v '^shmfs at')"

ctl --json explain >"$T_DIR/ex.json"
J() { ctl_json "$T_DIR/ex.json" "$1"; }
t_check "explain --json is valid JSON" "$PY" -m json.tool "$T_DIR/ex.json"
t_is "explain --json carries the schema version" "explain 1" "$(J 'd["command"], d["schema_version"]' | tr -d "(),'")"
t_is "--json: pool of node $N0 as in sysfs" "$(t_hp_total huge "$N0") $(t_hp_free huge "$N0")" \
	"$(J "' '.join(str(p['total']) + ' ' + str(p['free']) for p in d['pools'] if p['type'] == 'huge' and p['node'] == $N0)")"
HD=/sys/kernel/mm/hugepages/hugepages-$((HUGE_SZ / 1024))kB
t_is "--json: overcommit and surplus as in sysfs" "$(cat "$HD/nr_overcommit_hugepages") $(cat "$HD/surplus_hugepages")" \
	"$(J "' '.join(str(p['overcommit']) + ' ' + str(p['surplus']) for p in d['page_sizes'] if p['page_size'] == $HUGE_SZ)")"
# (free memory changes all the time: the shape is compared, and the sum)
t_is "--json: one block count per order, as many as /proc/buddyinfo has" \
	"$(awk -v n="Node $N0," 'index($0, n) == 1 { m = NF - 4 } END { print m }' /proc/buddyinfo)" \
	"$(J "len([f['free_blocks'] for f in d['fragmentation'] if f['node'] == $N0][0])")"
t_is "--json: free bytes are the blocks summed" True \
	"$(J "all(f['free_bytes'] == sum(c << o for o, c in enumerate(f['free_blocks'])) * $(getconf PAGESIZE) for f in d['fragmentation'])")"
t_is "--json: huge pages available now are the blocks of that size or larger" True \
	"$(J "all([a for a in f['available'] if a['page_size'] == $HUGE_SZ][0]['pages'] == sum(c << (o - $(awk -v h=$HUGE_SZ -v p=$(getconf PAGESIZE) 'BEGIN { o = 0; while (p * 2 ^ o < h) o++; print o }')) for o, c in enumerate(f['free_blocks']) if (1 << o) * $(getconf PAGESIZE) >= $HUGE_SZ) for f in d['fragmentation'])")"
t_is "--json: THP mode as in sysfs" "$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled)" \
	"$(J 'd["thp"]["enabled"]')"
LIM=$(ulimit -l)
t_is "--json: the memlock limit of the process (null when unlimited)" \
	"$([ "$LIM" = unlimited ] && echo None || echo $((LIM * 1024)))" "$(J 'd["memlock"]["soft"]')"
t_is "--json: the kernel command line's hugepage words" \
	"$(tr ' ' '\n' </proc/cmdline | grep -E '^(hugepages|hugepagesz|default_hugepagesz|hugetlb_cma|hugetlb_free_vmemmap|transparent_hugepage)=|^hugetlb_cma_only$' | xargs)" \
	"$(J '" ".join(d["cmdline"])')"
t_is "--json: the other mount's files, unmapped files and users" "2 1 $MU" \
	"$(J "' '.join(str(m['files']) + ' ' + str(m['unmapped_files']) + ' ' + ' '.join(str(u['pid']) for u in m['users']) for m in d['hugetlbfs_mounts'] if m['path'] == '$HTLB')")"
t_is "--json: the other mount's page size from its options" "$HUGE_SZ" \
	"$(J "[m['page_size'] for m in d['hugetlbfs_mounts'] if m['path'] == '$HTLB'][0]")"
t_is "--json: the shmfs is mounted and has one orphan" "True 1" "$(J 'd["shmfs"]["mounted"], d["shmfs"]["orphaned"]' | tr -d '(),')"
t_is "--json: the advice is the same as the human one" "$(grep -- '^  - ' "$T_DIR/ex.out" | sed 's/^  - //')" \
	"$(J '"\n".join(d["advice"])')"

# a small memlock limit of an ordinary user is advised against
# (the user's copy of shmfsctl: the build tree may be closed to them)
t_as_user bash -c 'ulimit -l 64 && exec "$1" --mount "$2" explain' bash "$(t_user_path "$SHMFSCTL_BIN")" "$T_MNT" \
	>"$T_DIR/u.out" 2>&1
t_like "a small locked-memory limit gets advice on raising it" "locked-memory limit is 64.0K: .*LimitMEMLOCK=" \
	"$(grep -- '^  - ' "$T_DIR/u.out")"
t_is "root's limit is not a problem" "" "$(grep -- '^  - .*locked-memory' "$T_DIR/ex.out")"
# gigantic pages: reserve at boot, with the kernel's own words
GIG_KB=$(ls /sys/kernel/mm/hugepages | sed 's/hugepages-\([0-9]*\)kB/\1/' | sort -n | tail -n 1)
if [ "$((GIG_KB * 1024))" -gt "$HUGE_SZ" ] && [ "$(cat "/sys/kernel/mm/hugepages/hugepages-${GIG_KB}kB/nr_hugepages")" = 0 ] &&
   ! grep -q hugepagesz= /proc/cmdline; then
	t_like "an empty gigantic pool gets the kernel command line to add" \
		"add 'hugepagesz=$((GIG_KB / 1024))M hugepages=N'|add 'hugepagesz=$((GIG_KB / 1048576))G hugepages=N'" \
		"$(grep -- '^  - ' "$T_DIR/ex.out")"
else
	T_N=$((T_N + 1)); echo "ok $T_N - an empty gigantic pool gets the kernel command line to add # SKIP no empty gigantic pool without hugepagesz= here"
fi

# overcommit: advised against, with the knob to set
echo 1 >"$HD/nr_overcommit_hugepages"
t_like "overcommit is reported with advice naming the knob" "Overcommit is 1 pages .*$(basename "$HD")/nr_overcommit_hugepages" \
	"$(ctl explain | grep -- '^  - ')"
echo 0 >"$HD/nr_overcommit_hugepages"

# without a mount
ctl_kill "$MU"
t_is "explain works with no shmfs mounted" 0 "$("$SHMFSCTL_BIN" --mount "$T_DIR/nothing" explain >"$T_DIR/nm.out" 2>&1; echo $?)"
t_like "it says shmfs is not mounted there, and how to mount it" "not mounted at $T_DIR/nothing: mount it with 'shmfsctl init" \
	"$(cat "$T_DIR/nm.out")"
t_is "--json says so too" False "$("$SHMFSCTL_BIN" --mount "$T_DIR/nothing" --json explain | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["shmfs"]["mounted"])')"

t_done
