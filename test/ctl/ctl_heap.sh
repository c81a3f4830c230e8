# ctl_heap.sh - shmfsctl heap usage / check / reclaim on regions holding a
# libshmfs heap: numbers that match what was allocated, a clean check, a
# damaged heap reported with exit status 1, and reclaim freeing exactly what a
# SIGKILLed process held while a live one keeps its blocks.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

CTLHEAP=$SHMFS_BUILD_ROOT/test/ctl/ctlheap
t_mount
D=$T_MNT/normal/node$N0
touch "$D/h"
truncate -s 4M "$D/h"
t_like "a heap can be formatted in a region" "^OK" "$("$CTLHEAP" format "$D/h")"
t_bg "$CTLHEAP" hold "$D/h" 10 100 >"$T_DIR/hold" 2>&1 </dev/null
ctl_started HP "$T_DIR/hold"
t_like "a live process allocates 10 blocks and holds them" '^[0-9]+$' "$HP"
"$CTLHEAP" leak "$D/h" 5 1000 >/dev/null 2>&1
ctl --json heap usage h >"$T_DIR/u.json"
t_check "heap usage --json is valid JSON" "$PY" -m json.tool "$T_DIR/u.json"
t_is "heap usage counts the live and the dead process's allocations" 15 \
	"$(ctl_json "$T_DIR/u.json" 'd["regions"][0]["alloc_count"]')"
t_like "heap usage (human) shows the allocations" "allocations: +15" "$(ctl heap usage h)"
t_like "heap usage without NAME finds the heaps" "normal/node$N0/h" "$(ctl heap usage)"
t_is "heap usage of a region without a heap fails" 1 \
	"$(touch "$D/plain"; truncate -s 64K "$D/plain"; ctl heap usage plain >"$T_DIR/o" 2>&1; echo $?)"
t_like "it says there is no heap" "does not hold a libshmfs heap" "$(cat "$T_DIR/o")"
# the listing names the heap attributes where a heap is, and only there
t_like "getfattr -d of a heap's region shows heap.alloc_count" 'user\.shmfs\.heap\.alloc_count="15"' \
	"$(getfattr --absolute-names -d "$D/h" 2>&1)"
t_is "getfattr -d of a region without a heap lists no heap attribute" 0 \
	"$(getfattr --absolute-names -d "$D/plain" 2>&1 | grep -c 'shmfs\.heap\.')"
t_check "heap check of a sound heap succeeds" ctl heap check h
ctl --json heap reclaim h >"$T_DIR/r.json"
t_is "heap reclaim frees exactly the dead process's allocations" 5 \
	"$(ctl_json "$T_DIR/r.json" 'd["regions"][0]["alloc_count"]')"
t_like "heap usage then shows the live process's allocations only" "allocations: +10" "$(ctl heap usage h)"
t_check "the heap is still consistent after reclaim" ctl heap check h
t_is "heap with an unknown subcommand is a usage error" 2 "$(ctl heap defrag h >/dev/null 2>&1; echo $?)"
t_is "heap check without NAME is a usage error" 2 "$(ctl heap check >/dev/null 2>&1; echo $?)"
t_is "heap check of a missing region fails" 1 "$(ctl heap check nosuch >/dev/null 2>&1; echo $?)"
# damage the heap header
printf 'garbage-garbage-garbage-garbage' | dd of="$D/h" bs=1 seek=8 conv=notrunc status=none
t_is "heap check of a damaged heap fails" 1 "$(ctl heap check h >"$T_DIR/o" 2>&1; echo $?)"
t_like "it says the heap is damaged" "damaged|inconsistent" "$(cat "$T_DIR/o")"
t_done
