#!/bin/bash
# heap_damage.sh - shmfsctl heap on a heap another process wrote garbage
# into: a span descriptor of size class 47 (of 32) owned by a dead process.
# usage, check and reclaim each fail with exit status 1 and say what is
# damaged; reclaim frees what is sound (the dead process's large blocks),
# skips the damaged span and never reports more than the heap holds.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"

export LC_ALL=C
HEAPTOOL=$SHMFS_BUILD_ROOT/test/heap/heaptool
N=$(cut -d, -f1 /sys/devices/system/node/has_memory | cut -d- -f1)
ctl() { "$SHMFSCTL_BIN" --mount "$T_MNT" "$@"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

t_mount || exit 1
R=$T_MNT/normal/node$N/h
touch "$R"
truncate -s 1M "$R"
t_is "a heap is formatted in a 1 MiB region" OK "$("$HEAPTOOL" format "$R")"
t_is "a process allocates 5 x 100 bytes and exits" OK "$("$HEAPTOOL" alloc "$R" 5 100)"
t_is "a process allocates 2 x 20000 bytes and exits" OK "$("$HEAPTOOL" alloc "$R" 2 20000)"
t_is "a span descriptor is given size class 47" OK "$("$HEAPTOOL" damage "$R")"

t_is "heap usage fails on the damaged heap" 1 "$(ctl heap usage h >"$T_DIR/o" 2>&1; echo $?)"
t_like "it names the damage" "bad class 47" "$(cat "$T_DIR/o")"
t_is "heap check fails" 1 "$(ctl heap check h >"$T_DIR/o" 2>&1; echo $?)"
t_like "it names the damage" "bad class 47" "$(cat "$T_DIR/o")"
t_is "heap reclaim fails" 1 "$(ctl heap reclaim h >"$T_DIR/o" 2>&1; echo $?)"
t_like "it says it skipped the damaged block" "skipped 1 damaged block" "$(cat "$T_DIR/o")"
t_like "and names the damage" "bad class 47" "$(cat "$T_DIR/o")"
t_like "it freed the sound allocations of the dead process" "freed 2 allocations of 1 dead process" \
	"$(cat "$T_DIR/o")"
t_is "it reports no reclaimed total" 0 "$(grep -c reclaimed "$T_DIR/o")"
t_is "a second reclaim frees nothing more and still fails" 1 \
	"$(ctl heap reclaim h >"$T_DIR/o" 2>&1; echo $?)"
t_like "it skips the same block" "skipped 1 damaged block, freed 0 allocations" "$(cat "$T_DIR/o")"
ctl --json heap reclaim h >"$T_DIR/r.json" 2>/dev/null
t_like "heap reclaim --json reports the error" "inconsistent" "$(json "$T_DIR/r.json" 'd["regions"][0]["error"]')"
rm -f "$R"
t_done
